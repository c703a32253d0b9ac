// Batching and debounce per trigger in the Workers runtime (DESIGN §2.9): one run per group, every event in it once.
import { evictAllDurableObjects, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signWebhook } from "../../worker/core/triggers/index.ts";
import { api, isolatedGroup } from "./helpers.ts";
import { createTrigger, deliverBatch, eventsOf, eventually, instancesOf, message, publish, queueTriggerSetup, unique } from "./trigger-helpers.ts";

const group = isolatedGroup();
const QUEUE = "user-behavior";

const triggerMessageOf = async (instanceId: string) => (await api("GET", `/api/v1/instances/${instanceId}`)).json.triggerMessage;

/** The one instance a gathering trigger's workflow ends up with, once its gate started it. */
async function onlyInstance(workflowId: string) {
  const list = await eventually(() => instancesOf(workflowId), (l) => l.length > 0);
  expect(list).toHaveLength(1);
  return list[0]!;
}

describe("batching triggers", () => {
  it("sends through POST /queues/{queue}/messages; a batch of maxEvents starts one instance with every message in order", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group, { batch: { maxEvents: 3, windowSeconds: 600, key: null } });
    for (const v of ["v1", "v2", "v3"]) {
      const res = await api("POST", `/api/v1/queues/${QUEUE}/messages`, { key, value: v });
      expect(res.status).toBe(202);
      // One at a time: the local queue then hands them over in the order they were sent.
      await eventually(() => eventsOf(trigger.id), (list) => list.filter((e) => e.outcome === "batched").length >= ["v1", "v2", "v3"].indexOf(v) + 1);
    }
    const run = await onlyInstance(wf.id);
    const msg = await triggerMessageOf(run.id);
    expect(msg.batch).toMatchObject({ key: null, count: 3 });
    expect(Date.parse(msg.batch.firstReceivedAt)).toBeLessThanOrEqual(Date.parse(msg.batch.lastReceivedAt));
    expect(msg.events.map((e: { value: string }) => e.value)).toEqual(["v1", "v2", "v3"]);
    const events = await eventually(() => eventsOf(trigger.id), (list) => list.some((e) => e.outcome === "started"));
    const members = events.filter((e) => e.outcome === "batched");
    expect(members).toHaveLength(3);
    expect(members.every((e) => e.instanceIds.length === 1 && e.instanceIds[0] === run.id)).toBe(true);
    expect(events.find((e) => e.outcome === "started")).toMatchObject({ source: "batch", instanceIds: [run.id] });
  });

  it("closes a batch windowSeconds after its first event with what arrived, one batch per key value", async () => {
    const { key, wf } = await queueTriggerSetup(group, { batch: { maxEvents: 100, windowSeconds: 1, key: "${workflow.triggerMessage.headers.user}" } });
    const send = (id: string, user: string) => message(id, { key, value: id, headers: { user } });
    await deliverBatch(QUEUE, [send("w-1", "u1"), send("w-2", "u2"), send("w-3", "u1")]);
    const list = await eventually(() => instancesOf(wf.id), (l) => l.length === 2);
    const messages = await Promise.all(list.map((i) => triggerMessageOf(i.id)));
    const byUser = Object.fromEntries(messages.map((m) => [m.batch.key, m.events.map((e: { value: string }) => e.value)]));
    expect(byUser).toEqual({ u1: ["w-1", "w-3"], u2: ["w-2"] });
  });

  it("counts a redelivered message once", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group, { batch: { maxEvents: 3, windowSeconds: 600, key: null } });
    const at = new Date();
    const m = (id: string) => message(id, { key, value: id }, at);
    const first = await deliverBatch(QUEUE, [m("r-1"), m("r-2")]);
    expect(first.explicitAcks.sort()).toEqual(["r-1", "r-2"]);
    await deliverBatch(QUEUE, [{ ...m("r-2"), attempts: 2 }, m("r-1")]);
    await deliverBatch(QUEUE, [m("r-3")]);
    const run = await onlyInstance(wf.id);
    expect((await triggerMessageOf(run.id)).events.map((e: { value: string }) => e.value)).toEqual(["r-1", "r-2", "r-3"]);
    // A redelivery after the batch started is answered with that batch, not a new one.
    await deliverBatch(QUEUE, [{ ...m("r-2"), attempts: 3 }]);
    const events = await eventsOf(trigger.id);
    expect(events.find((e) => e.sourceId === "r-2")).toMatchObject({ outcome: "batched", deliveries: 3, instanceIds: [run.id] });
    expect(await instancesOf(wf.id)).toHaveLength(1);
  });

  it("keeps the trigger's dedup: a second message with the same dedup key joins nothing and is logged as a duplicate", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group, {
      batch: { maxEvents: 2, windowSeconds: 1, key: null },
      dedup: { key: "${workflow.triggerMessage.value}", windowSeconds: 3600 },
    });
    await deliverBatch(QUEUE, [message("dd-1", { key, value: "same" }), message("dd-2", { key, value: "same" }), message("dd-3", { key, value: "other" })]);
    const run = await onlyInstance(wf.id);
    expect((await triggerMessageOf(run.id)).events.map((e: { id: string }) => e.id)).toEqual(["dd-1", "dd-3"]);
    const events = await eventsOf(trigger.id);
    expect(events.find((e) => e.sourceId === "dd-2")).toMatchObject({ outcome: "duplicate", instanceIds: [run.id], detail: expect.stringMatching(/same dedup key/) });
  });

  it("closes a batch early before the event that would take its message past 128 KB", async () => {
    const { key, wf } = await queueTriggerSetup(group, { batch: { maxEvents: 100, windowSeconds: 1, key: null } });
    const big = (id: string) => message(id, { key, value: `${id}:${"x".repeat(50_000)}` });
    await deliverBatch(QUEUE, [big("big-1"), big("big-2"), big("big-3")]);
    const list = await eventually(() => instancesOf(wf.id), (l) => l.length === 2);
    const counts = await Promise.all(list.map(async (i) => (await triggerMessageOf(i.id)).events.map((e: { id: string }) => e.id)));
    expect(counts.sort((a, b) => b.length - a.length)).toEqual([["big-1", "big-2"], ["big-3"]]);
  });

  it("lets an open batch finish with the settings it opened with when the trigger's batch changes", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group, { batch: { maxEvents: 2, windowSeconds: 600, key: null } });
    await deliverBatch(QUEUE, [message("c-1", { key, value: "c-1" })]);
    const current = (await api("GET", `/api/v1/triggers/${trigger.id}`)).json;
    const replaced = await api("PUT", `/api/v1/triggers/${trigger.id}`, {
      name: current.name,
      type: "queue",
      config: current.config,
      batch: { maxEvents: 50, windowSeconds: 600, key: null },
    });
    expect(replaced.status).toBe(200);
    await deliverBatch(QUEUE, [message("c-2", { key, value: "c-2" })]);
    // The open batch still closes at its own maxEvents (2), not the new 50.
    const run = await onlyInstance(wf.id);
    expect((await triggerMessageOf(run.id)).events.map((e: { id: string }) => e.id)).toEqual(["c-1", "c-2"]);
  });

  it("never gathers a disabled trigger's events", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group, { batch: { maxEvents: 1, windowSeconds: 1, key: null } });
    expect((await api("POST", `/api/v1/triggers/${trigger.id}/disable`, {})).status).toBe(200);
    await deliverBatch(QUEUE, [message("off-1", { key, value: "off-1" })]);
    expect(await eventsOf(trigger.id)).toMatchObject([{ sourceId: "off-1", outcome: "disabled", instanceIds: [] }]);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await instancesOf(wf.id)).toEqual([]);
  });

  it("loses nothing when the gate is evicted between adds", async () => {
    const { key, wf } = await queueTriggerSetup(group, { batch: { maxEvents: 3, windowSeconds: 600, key: null } });
    const m = (id: string) => message(id, { key, value: id });
    await deliverBatch(QUEUE, [m("x-1")]);
    await evictAllDurableObjects();
    await deliverBatch(QUEUE, [m("x-2")]);
    await evictAllDurableObjects();
    await deliverBatch(QUEUE, [m("x-3")]);
    const run = await onlyInstance(wf.id);
    expect((await triggerMessageOf(run.id)).events.map((e: { value: string }) => e.value)).toEqual(["x-1", "x-2", "x-3"]);
  });

  it("a window-closed batch still starts when the gate is evicted before its alarm", async () => {
    const { key, wf } = await queueTriggerSetup(group, { batch: { maxEvents: 100, windowSeconds: 1, key: null } });
    await deliverBatch(QUEUE, [message("ev-1", { key, value: "ev-1" }), message("ev-2", { key, value: "ev-2" })]);
    await evictAllDurableObjects();
    const run = await onlyInstance(wf.id);
    expect((await triggerMessageOf(run.id)).batch.count).toBe(2);
  });
});

describe("debouncing triggers", () => {
  it("starts one instance with the last message once the key went quiet, and logs each event as debounced", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group, { debounce: { windowSeconds: 1, maxWaitSeconds: null, key: null } });
    await deliverBatch(QUEUE, [message("d-1", { key, value: "first" }), message("d-2", { key, value: "second" })]);
    await deliverBatch(QUEUE, [message("d-3", { key, value: "last" })]);
    const run = await onlyInstance(wf.id);
    expect(await triggerMessageOf(run.id)).toMatchObject({ topic: QUEUE, key, value: "last", id: "d-3" });
    const events = await eventsOf(trigger.id);
    const members = events.filter((e) => e.outcome === "debounced");
    expect(members.map((e) => e.sourceId).sort()).toEqual(["d-1", "d-2", "d-3"]);
    expect(members.every((e) => e.instanceIds[0] === run.id)).toBe(true);
  });

  it("debounces a webhook trigger: 202 naming the instance that starts later", async () => {
    const trigger = (await createTrigger({ name: unique("hook"), type: "webhook", debounce: { windowSeconds: 1, maxWaitSeconds: null, key: null } })) as {
      id: string;
      secret: string;
    };
    const wf = await group.createWorkflow({ name: unique("on_hook"), policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "noop" }] });
    await publish(wf.id);
    const post = async (id: string, n: number) => {
      const body = JSON.stringify({ n });
      const res = await SELF.fetch(`http://sluice.test/hooks/${trigger.id}`, { method: "POST", headers: { "content-type": "application/json", ...signWebhook(trigger.secret, id, body) }, body });
      return { status: res.status, json: (await res.json()) as { outcome: string; instanceIds: string[] } };
    };
    const a = await post(unique("msg"), 1);
    const b = await post(unique("msg"), 2);
    expect(a).toMatchObject({ status: 202, json: { outcome: "debounced" } });
    expect(b.json.instanceIds).toEqual(a.json.instanceIds);
    const run = await onlyInstance(wf.id);
    expect(run.id).toBe(a.json.instanceIds[0]);
    expect(await triggerMessageOf(run.id)).toEqual({ n: 2 });
  });
});

describe("a paused batching trigger", () => {
  it("keeps its events while paused; resume sends them to the gate in arrival order, and they become one batch", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group, { batch: { maxEvents: 3, windowSeconds: 600, key: null } });
    expect((await api("POST", `/api/v1/triggers/${trigger.id}/pause`)).status).toBe(200);
    await deliverBatch(QUEUE, [message("pb-1", { key, value: "p1" }), message("pb-2", { key, value: "p2" }), message("pb-3", { key, value: "p3" })]);
    expect((await eventsOf(trigger.id)).map((e) => e.outcome)).toEqual(["paused", "paused", "paused"]);
    expect(await instancesOf(wf.id)).toHaveLength(0);

    const resumed = await api("POST", `/api/v1/triggers/${trigger.id}/resume`);
    expect(resumed.json).toMatchObject({ resumed: 3, remaining: 0 });
    const run = await onlyInstance(wf.id);
    expect((await triggerMessageOf(run.id)).events.map((e: { value: string }) => e.value)).toEqual(["p1", "p2", "p3"]);
    const members = (await eventsOf(trigger.id)).filter((e) => e.sourceId?.startsWith("pb-")).sort((a, b) => a.sourceId!.localeCompare(b.sourceId!));
    expect(members.map((e) => [e.outcome, e.instanceIds])).toEqual([
      ["batched", [run.id]],
      ["batched", [run.id]],
      ["batched", [run.id]],
    ]);
  });
});
