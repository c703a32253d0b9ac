// Queue triggers and API idempotency in the Workers runtime: records, exact keys, dedup, ordering keys.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, instance, isolatedGroup, shellNode } from "./helpers.ts";
import { createTrigger, queueTriggerSetup, deliverBatch, eventsOf, eventually, FIXTURES, instancesOf, message, publish, unique } from "./trigger-helpers.ts";

const group = isolatedGroup();
const QUEUE = "user-behavior";

const queueSetup = (extra: Record<string, unknown> = {}, nodes?: unknown[]) => queueTriggerSetup(group, extra, nodes);

describe("queue triggers", () => {
  it("starts exactly one run per distinct message when each is delivered 1-3 times", async () => {
    const { key, trigger, wf } = await queueSetup();
    const at = new Date();
    const body = (n: number) => ({ key, value: `v${n}` });
    await deliverBatch(QUEUE, [message("q-1", body(1), at), message("q-2", body(2), at), message("q-2", body(2), at)]);
    await deliverBatch(QUEUE, [message("q-3", body(3), at), message("q-3", body(3), at), message("q-2", body(2), at)]);
    expect(await instancesOf(wf.id)).toHaveLength(3);
    const events = await eventsOf(trigger.id);
    expect(events).toHaveLength(3);
    expect(events.every((e) => e.outcome === "started")).toBe(true);
    expect(Object.fromEntries(events.map((e) => [e.sourceId, e.deliveries]))).toEqual({ "q-1": 1, "q-2": 3, "q-3": 2 });
  });

  it("a redelivery after a crash between the start and the log finds the run it started, not a duplicate", async () => {
    const { key, trigger, wf } = await queueSetup();
    const at = new Date();
    await deliverBatch(QUEUE, [message("crash-1", { key, value: "x" }, at)]);
    const [run] = await instancesOf(wf.id);
    // As if the consumer died after the coordinator committed but before the event log was written.
    await env.DB.prepare("DELETE FROM trigger_events WHERE trigger_id = ?").bind(trigger.id).run();
    const retried = await deliverBatch(QUEUE, [{ ...message("crash-1", { key, value: "x" }, at), attempts: 2 }]);
    expect(retried.explicitAcks).toEqual(["crash-1"]);
    expect(await instancesOf(wf.id)).toHaveLength(1);
    expect(await eventsOf(trigger.id)).toMatchObject([{ outcome: "started", instanceIds: [run!.id] }]);
  });

  it("gives the run a Kafka-like record: topic, key, the value as a string, headers, timestamp, id", async () => {
    const { key, wf } = await queueSetup();
    const at = new Date(Date.UTC(2026, 2, 11, 8, 0, 0));
    await deliverBatch(QUEUE, [message("rec-1", { ...FIXTURES.userBehavior, key }, at)]);
    const [only] = await instancesOf(wf.id);
    const found = await api("GET", `/api/v1/instances/${only!.id}`);
    expect(found.json.triggerMessage).toEqual({ topic: QUEUE, key, value: FIXTURES.userBehavior.value, headers: {}, timestamp: at.getTime(), id: "rec-1" });
  });

  it("starts nothing for another key and logs a key mismatch", async () => {
    const { trigger, wf } = await queueSetup();
    await deliverBatch(QUEUE, [message("other", { key: "other-key", value: "x" })]);
    expect(await instancesOf(wf.id)).toEqual([]);
    expect(await eventsOf(trigger.id)).toMatchObject([{ outcome: "key_mismatch", detail: expect.stringMatching(/'other-key'/) }]);
  });

  it("dedups by a template over the message: the same value inside the window starts once", async () => {
    const { key, trigger, wf } = await queueSetup({ dedup: { key: "${workflow.triggerMessage.value}", windowSeconds: 3600 } });
    await deliverBatch(QUEUE, [message("d-1", { key, value: "same" }), message("d-2", { key, value: "same" }), message("d-3", { key, value: "other" })]);
    expect(await instancesOf(wf.id)).toHaveLength(2);
    const events = await eventsOf(trigger.id);
    expect(events.find((e) => e.sourceId === "d-2")).toMatchObject({ outcome: "duplicate", dedupKey: "same" });
  });

  it("filters with CEL on the record's fields", async () => {
    const { key, trigger, wf } = await queueSetup({ filter: 'value.contains("login")' });
    await deliverBatch(QUEUE, [message("login", { ...FIXTURES.userBehavior, key }), message("logout", { key, value: '{"action_type": "logout"}' })]);
    expect(await instancesOf(wf.id)).toHaveLength(1);
    expect((await eventsOf(trigger.id)).map((e) => e.outcome).sort()).toEqual(["filtered", "started"]);
  });

  it("runs instances with the same ordering key one at a time, in arrival order", async () => {
    const { key, wf } = await queueSetup({ ordering: { key: "${workflow.triggerMessage.headers.user}" } }, [shellNode("work", "true")]);
    const send = (id: string, user: string) => message(id, { key, value: id, headers: { user } });
    await deliverBatch(QUEUE, [send("u1-first", "u1"), send("u2-only", "u2"), send("u1-second", "u1")]);
    const byValue = async () => {
      const list = await instancesOf(wf.id);
      const full = await Promise.all(list.map(async (i) => ({ ...(await api("GET", `/api/v1/instances/${i.id}`)).json })));
      return Object.fromEntries(full.map((i) => [i.triggerMessage.value, i]));
    };
    let all = await byValue();
    expect(all["u1-first"].status).toBe("running");
    expect(all["u2-only"].status).toBe("running");
    expect(all["u1-second"].status).toBe("waiting");
    const runner = await group.newRunner();
    const tasks = await runner.claim(10);
    const first = tasks.find((t) => t.instanceId === all["u1-first"].id);
    await runner.complete(first.attemptId, 0);
    all = await byValue();
    expect(all["u1-second"].status).toBe("running");
    expect((await instance(all["u1-first"].id)).status).toBe("succeeded");
  });

  it("sends through POST /queues/{queue}/messages and the consumer starts the run", async () => {
    const { key, trigger, wf } = await queueSetup();
    const res = await api("POST", `/api/v1/queues/${QUEUE}/messages`, { key, value: { user_id: "1001" } });
    expect(res.status).toBe(202);
    await eventually(() => instancesOf(wf.id), (list) => list.length === 1);
    const [event] = await eventsOf(trigger.id);
    expect(event.message).toMatchObject({ topic: QUEUE, key, value: '{"user_id":"1001"}' });
  });

  it("answers 404 naming the known queues for an unknown queue", async () => {
    const res = await api("POST", "/api/v1/queues/orders/messages", { value: "x" });
    expect(res.status).toBe(404);
    expect(res.json.error.message).toMatch(/user-behavior/);
  });
});

describe("API trigger idempotency", () => {
  it("returns the same instance for a repeated Idempotency-Key: 201 first, 200 after, one run", async () => {
    const wf = await group.createWorkflow({ name: unique("api_idem"), nodes: [shellNode("n", "true")] });
    const key = unique("idem");
    const first = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev" }, undefined, { "idempotency-key": key });
    const again = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev" }, undefined, { "idempotency-key": key });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(first.json.id);
    const other = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev" }, undefined, { "idempotency-key": unique("idem") });
    expect(other.status).toBe(201);
    expect(await instancesOf(wf.id)).toHaveLength(2);
  });

  it("starts one run for concurrent requests with the same key", async () => {
    const wf = await group.createWorkflow({ name: unique("api_idem_race"), nodes: [shellNode("n", "true")] });
    const key = unique("idem");
    const answers = await Promise.all(Array.from({ length: 5 }, () => api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev" }, undefined, { "idempotency-key": key })));
    expect(new Set(answers.map((a) => a.json.id)).size).toBe(1);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(await instancesOf(wf.id)).toHaveLength(1);
  });
});
