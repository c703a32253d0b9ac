// Pause, resume, discard and replay of trigger events, and debug runs from a logged event, through the public API (DESIGN §2.10).
import { createScheduledController, env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signWebhook } from "../../worker/core/triggers/index.ts";
import worker from "../../worker/index.ts";
import { api, isolatedGroup, shellNode } from "./helpers.ts";
import { otherWorkspace } from "./tenancy-helpers.ts";
import { createTrigger, deliverBatch, eventsOf, eventually, instancesOf, message, publish, queueTriggerSetup, unique } from "./trigger-helpers.ts";

const group = isolatedGroup();
const QUEUE = "user-behavior";
const post = (path: string, body: unknown = {}) => api("POST", `/api/v1${path}`, body);
const byArrival = (events: any[]) => [...events].sort((a, b) => a.receivedAt.localeCompare(b.receivedAt) || a.id.localeCompare(b.id));

/** A queue trigger whose runs share one ordering key (one at a time, in start order) and run a shell node. */
const orderedSetup = () => queueTriggerSetup(group, { ordering: { key: "line" } }, [shellNode("work", "true")]);

/** Runs the workflow's instances one at a time as a runner would, and returns their trigger messages' values in run order. */
async function runOrder(n: number): Promise<string[]> {
  const runner = await group.newRunner();
  const values: string[] = [];
  for (let i = 0; i < n; i++) {
    const tasks = await runner.claim(10, 5_000);
    expect(tasks, "one at a time: the ordering key admits one instance").toHaveLength(1);
    const found = await api("GET", `/api/v1/instances/${tasks[0].instanceId}`);
    values.push(found.json.triggerMessage.value);
    expect((await runner.complete(tasks[0].attemptId, 0)).status).toBe(200);
  }
  return values;
}

describe("pause and resume", () => {
  it("keeps events while paused, then starts each once on resume, in arrival order, each log row naming its run", async () => {
    const { key, trigger, wf } = await orderedSetup();
    const paused = await post(`/triggers/${trigger.id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ paused: true, pausedAt: expect.any(String) });
    const again = await post(`/triggers/${trigger.id}/pause`);
    expect(again.json.pausedAt, "pausing a paused trigger changes nothing").toBe(paused.json.pausedAt);

    const values = ["m1", "m2", "m3", "m4", "m5"];
    for (const value of values) {
      expect((await post(`/queues/${QUEUE}/messages`, { key, value })).status).toBe(202);
      await new Promise((r) => setTimeout(r, 5)); // distinct arrival times
    }
    const kept = await eventually(() => eventsOf(trigger.id), (events) => events.length === values.length);
    expect(kept.map((e) => e.outcome)).toEqual(values.map(() => "paused"));
    expect(await instancesOf(wf.id)).toEqual([]);

    const resumed = await post(`/triggers/${trigger.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.json).toMatchObject({ resumed: 5, remaining: 0, trigger: { paused: false, pausedAt: null } });
    const runs = await instancesOf(wf.id);
    expect(runs).toHaveLength(5);
    const events = byArrival(await eventsOf(trigger.id));
    expect(events.map((e) => e.message.value)).toEqual(values);
    for (const e of events) expect(e).toMatchObject({ outcome: "started", instanceIds: [expect.any(String)], detail: expect.stringMatching(/^resumed: started/) });
    expect(new Set(events.map((e) => e.instanceIds[0]))).toEqual(new Set(runs.map((r) => r.id)));

    const second = await post(`/triggers/${trigger.id}/resume`);
    expect(second.json).toMatchObject({ resumed: 0, remaining: 0 });
    expect(await instancesOf(wf.id)).toHaveLength(5);
    expect(await runOrder(5)).toEqual(values);
  });

  it("discard drops the kept events, logged as discarded; a later resume starts nothing", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group);
    await post(`/triggers/${trigger.id}/pause`);
    await deliverBatch(QUEUE, [message(unique("d"), { key, value: "a" }), message(unique("d"), { key, value: "b" }), message(unique("d"), { key, value: "c" })]);
    const discarded = await post(`/triggers/${trigger.id}/discard`);
    expect(discarded.status).toBe(200);
    expect(discarded.json).toEqual({ discarded: 3, remaining: 0 });
    const events = await eventsOf(trigger.id);
    expect(events.map((e) => e.outcome)).toEqual(["discarded", "discarded", "discarded"]);
    expect((await api("GET", `/api/v1/triggers/${trigger.id}`)).json.paused, "discard leaves the trigger paused").toBe(true);
    expect((await post(`/triggers/${trigger.id}/resume`)).json).toMatchObject({ resumed: 0, remaining: 0 });
    expect(await instancesOf(wf.id)).toEqual([]);
    const audited = await env.DB.prepare("SELECT action FROM audit_events WHERE target LIKE ? ORDER BY id").bind(`%${trigger.id}%`).all<{ action: string }>();
    expect(audited.results.map((r) => r.action)).toEqual(["pause", "discard", "resume"].map((a) => `POST /api/v1/triggers/:id/${a}`));
    // Live again: a new event starts at once.
    await deliverBatch(QUEUE, [message(unique("d"), { key, value: "d" })]);
    expect(await instancesOf(wf.id)).toHaveLength(1);
  });

  it("keeps a message over the log's 8 KB whole, and the resumed run gets all of it", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group);
    await post(`/triggers/${trigger.id}/pause`);
    const value = "x".repeat(20_000);
    await deliverBatch(QUEUE, [message(unique("big"), { key, value })]);
    expect(await eventsOf(trigger.id)).toMatchObject([{ outcome: "paused", messageTruncated: true }]);
    await post(`/triggers/${trigger.id}/resume`);
    const [run] = await instancesOf(wf.id);
    expect((await api("GET", `/api/v1/instances/${run!.id}`)).json.triggerMessage.value).toBe(value);
  });

  it("a disabled trigger still drops events at once, paused or not", async () => {
    const { key, trigger } = await queueTriggerSetup(group);
    await post(`/triggers/${trigger.id}/pause`);
    await post(`/triggers/${trigger.id}/disable`);
    await deliverBatch(QUEUE, [message(unique("x"), { key, value: "v" })]);
    expect((await eventsOf(trigger.id)).map((e) => e.outcome)).toEqual(["disabled"]);
  });

  it("the cron continues a resume the request left, and new events wait behind the kept ones", async () => {
    const { key, trigger, wf } = await orderedSetup();
    await post(`/triggers/${trigger.id}/pause`);
    const t0 = Date.now();
    await deliverBatch(QUEUE, [message(unique("c"), { key, value: "k1" }, new Date(t0)), message(unique("c"), { key, value: "k2" }, new Date(t0 + 1))]);
    // As if a resume request stopped before deciding any: unpaused, its kept events left to the background.
    await env.DB.prepare("UPDATE triggers SET paused = 0 WHERE id = ?").bind(trigger.id).run();
    await deliverBatch(QUEUE, [message(unique("c"), { key, value: "k3" }, new Date(t0 + 2))]);
    expect((await eventsOf(trigger.id)).map((e) => e.outcome), "the new event waits behind the kept ones").toEqual(["paused", "paused", "paused"]);
    await worker.scheduled!(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), env);
    expect(byArrival(await eventsOf(trigger.id)).map((e) => e.outcome)).toEqual(["started", "started", "started"]);
    expect((await api("GET", `/api/v1/triggers/${trigger.id}`)).json).toMatchObject({ paused: false, pausedAt: null });
    await deliverBatch(QUEUE, [message(unique("c"), { key, value: "k4" }, new Date(t0 + 3))]);
    expect(byArrival(await eventsOf(trigger.id)).at(-1).outcome, "once none is kept, events go live").toBe("started");
    expect(await runOrder(4)).toEqual(["k1", "k2", "k3", "k4"]);
    expect(await instancesOf(wf.id)).toHaveLength(4);
  });

  it("keeps a signed webhook while paused and resumes it with its webhook-id as the dedup key", async () => {
    const trigger = (await createTrigger({ name: unique("hook"), type: "webhook" })) as { id: string; secret: string };
    const wf = await group.createWorkflow({ name: unique("on_hook"), policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "noop" }] });
    await publish(wf.id);
    await post(`/triggers/${trigger.id}/pause`);
    const body = JSON.stringify({ order: 7 });
    const hook = await SELF.fetch(`http://sluice.test/hooks/${trigger.id}`, { method: "POST", headers: { "content-type": "application/json", ...signWebhook(trigger.secret, "msg_paused", body) }, body });
    expect(hook.status).toBe(200);
    expect(await hook.json()).toMatchObject({ outcome: "paused", instanceIds: [] });
    expect((await post(`/triggers/${trigger.id}/resume`)).json).toMatchObject({ resumed: 1, remaining: 0 });
    expect(await eventsOf(trigger.id)).toMatchObject([{ outcome: "started", dedupKey: "msg_paused", sourceId: "msg_paused" }]);
    const [run] = await instancesOf(wf.id);
    expect((await api("GET", `/api/v1/instances/${run!.id}`)).json).toMatchObject({ triggerType: "webhook", triggerMessage: { order: 7 } });
  });

  it("documents pause, resume, discard and replay in the OpenAPI document", async () => {
    const doc = await api("GET", "/api/v1/openapi.json", undefined, null);
    expect(Object.keys(doc.json.paths)).toEqual(
      expect.arrayContaining(["/api/v1/triggers/{id}/pause", "/api/v1/triggers/{id}/resume", "/api/v1/triggers/{id}/discard", "/api/v1/triggers/{id}/events/{eventId}/replay"]),
    );
  });

  it("answers 404 for another workspace's trigger", async () => {
    const { trigger } = await queueTriggerSetup(group);
    const other = await otherWorkspace(unique("ws"));
    for (const action of ["pause", "resume", "discard"]) {
      expect((await api("POST", `/api/v1/triggers/${trigger.id}/${action}`, {}, other.admin)).status).toBe(404);
    }
    expect((await api("GET", `/api/v1/triggers/${trigger.id}`)).json.paused).toBe(false);
  });
});

describe("replay", () => {
  it("replays an event logged unpublished once the workflow is published: one run per request, each naming what it replays", async () => {
    const key = unique("key");
    const trigger = await createTrigger({ name: unique("q"), type: "queue", config: { queue: QUEUE, key } });
    const wf = await group.createWorkflow({ name: unique("replayed"), policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "noop" }] });
    await deliverBatch(QUEUE, [message(unique("r"), { key, value: "late" })]);
    const [original] = await eventsOf(trigger.id);
    expect(original).toMatchObject({ outcome: "unpublished", replayOf: null });
    await publish(wf.id);

    const first = await post(`/triggers/${trigger.id}/events/${original.id}/replay`);
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ outcome: "started", replayOf: original.id, instanceIds: [expect.any(String)] });
    expect(await instancesOf(wf.id)).toHaveLength(1);
    const second = await post(`/triggers/${trigger.id}/events/${original.id}/replay`);
    expect(second.json).toMatchObject({ outcome: "started", replayOf: original.id });
    expect(second.json.id).not.toBe(first.json.id);
    const runs = await instancesOf(wf.id);
    expect(runs.map((r) => r.id).sort()).toEqual([first.json.instanceIds[0], second.json.instanceIds[0]].sort());

    const events = await eventsOf(trigger.id);
    expect(events).toHaveLength(3);
    const replays = events.filter((e) => e.replayOf === original.id);
    expect(replays.map((e) => e.dedupKey).sort()).toEqual([`replay:${original.id}:1`, `replay:${original.id}:2`]);
    expect((await api("GET", `/api/v1/instances/${runs[0]!.id}`)).json.triggerMessage.value).toBe("late");
  });

  it("a replay on a paused trigger is kept, and resume starts it under its replay key, not as the original's duplicate", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group);
    await deliverBatch(QUEUE, [message(unique("r"), { key, value: "again" })]);
    const [original] = await eventsOf(trigger.id);
    expect(original.outcome).toBe("started");
    await post(`/triggers/${trigger.id}/pause`);
    const replay = await post(`/triggers/${trigger.id}/events/${original.id}/replay`);
    expect(replay.json).toMatchObject({ outcome: "paused", instanceIds: [] });
    expect((await post(`/triggers/${trigger.id}/resume`)).json).toMatchObject({ resumed: 1 });
    const events = await eventsOf(trigger.id);
    expect(events.find((e) => e.id === replay.json.id)).toMatchObject({ outcome: "started", dedupKey: `replay:${original.id}:1` });
    expect(await instancesOf(wf.id)).toHaveLength(2);
  });

  it("answers 404 for another workspace's event and for an event of another trigger", async () => {
    const { key, trigger } = await queueTriggerSetup(group);
    const { trigger: otherTrigger } = await queueTriggerSetup(group);
    await deliverBatch(QUEUE, [message(unique("r"), { key, value: "v" })]);
    const [event] = await eventsOf(trigger.id);
    const other = await otherWorkspace(unique("ws"));
    expect((await api("POST", `/api/v1/triggers/${trigger.id}/events/${event.id}/replay`, {}, other.admin)).status).toBe(404);
    expect((await post(`/triggers/${otherTrigger.id}/events/${event.id}/replay`)).status).toBe(404);
    expect(await eventsOf(trigger.id)).toHaveLength(1);
  });

  it("answers 409 for an event whose cut message was not kept whole", async () => {
    const { key, trigger } = await queueTriggerSetup(group, { filter: 'value != "drop"' });
    await deliverBatch(QUEUE, [message(unique("r"), { key, value: "x".repeat(10_000) })]);
    await env.DB.prepare("UPDATE trigger_events SET message_full = NULL WHERE trigger_id = ?").bind(trigger.id).run();
    const [event] = await eventsOf(trigger.id);
    expect(event.messageTruncated).toBe(true);
    const res = await post(`/triggers/${trigger.id}/events/${event.id}/replay`);
    expect(res.status).toBe(409);
    expect(res.json.error.message).toMatch(/cut/);
  });
});

describe("debug run from a logged event", () => {
  it("uses the event's message as the trigger message, in dev and prod", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group);
    await post(`/triggers/${trigger.id}/pause`);
    await deliverBatch(QUEUE, [message(unique("e"), { key, value: "from-the-log" })]);
    const [event] = await eventsOf(trigger.id);
    for (const runEnv of ["dev", "prod"]) {
      const res = await post(`/workflows/${wf.id}/runs`, { env: runEnv, fromEventId: event.id });
      expect(res.status).toBe(201);
      expect((await api("GET", `/api/v1/instances/${res.json.id}`)).json.triggerMessage).toEqual(event.message);
    }
    const batch = await post(`/workflows/${wf.id}/runs`, { runs: [{ env: "dev", fromEventId: event.id }, { env: "dev", triggerMessage: { typed: true } }] });
    expect(batch.status).toBe(201);
    const messages = await Promise.all(batch.json.items.map(async (i: { id: string }) => (await api("GET", `/api/v1/instances/${i.id}`)).json.triggerMessage));
    expect(messages).toEqual([event.message, { typed: true }]);
  });

  it("refuses fromEventId with triggerMessage (400), an unknown or another workspace's event (404)", async () => {
    const { key, trigger, wf } = await queueTriggerSetup(group);
    await deliverBatch(QUEUE, [message(unique("e"), { key, value: "v" })]);
    const [event] = await eventsOf(trigger.id);
    const both = await post(`/workflows/${wf.id}/runs`, { env: "dev", fromEventId: event.id, triggerMessage: {} });
    expect(both.status).toBe(400);
    expect(both.json.error.message).toMatch(/fromEventId/);
    expect((await post(`/workflows/${wf.id}/runs`, { env: "dev", fromEventId: "evt_unknown" })).status).toBe(404);
    const other = await otherWorkspace(unique("ws"));
    const theirs = await api("POST", "/api/v1/workflows", { name: unique("theirs"), nodes: [{ name: "n", type: "noop" }] }, other.admin);
    expect((await api("POST", `/api/v1/workflows/${theirs.json.id}/runs`, { env: "dev", fromEventId: event.id }, other.admin)).status).toBe(404);
  });
});
