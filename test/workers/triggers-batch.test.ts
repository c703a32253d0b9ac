// Batch admission: a queue batch's starts go to each coordinator as one call, in order, and fail alone.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { consumeBatch } from "../../worker/ingest/queue.ts";
import { api, isolatedGroup, shellNode } from "./helpers.ts";
import { createTrigger, queueTriggerSetup, deliverBatch, eventsOf, instancesOf, message, publish, unique } from "./trigger-helpers.ts";

const group = isolatedGroup();
const QUEUE = "user-behavior";

const queueSetup = (extra: Record<string, unknown> = {}, nodes?: unknown[]) => queueTriggerSetup(group, extra, nodes);

/** Each instance of a workflow with its trigger message value, oldest first. */
async function byArrival(workflowId: string) {
  const list = await instancesOf(workflowId);
  const full = await Promise.all(list.map(async (i) => (await api("GET", `/api/v1/instances/${i.id}`)).json));
  return full.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

describe("batch admission from a queue batch", () => {
  it("starts one run per message of a full batch of 100, logs and acks each", async () => {
    const { key, trigger, wf } = await queueSetup();
    const at = new Date();
    const result = await deliverBatch(QUEUE, Array.from({ length: 100 }, (_, i) => message(`full-${i}`, { key, value: `v${i}` }, at)));
    expect(result.explicitAcks).toHaveLength(100);
    expect(result.retryMessages).toEqual([]);
    const runs = await instancesOf(wf.id);
    expect(runs).toHaveLength(100);
    expect(runs.every((r) => r.status === "succeeded")).toBe(true);
    const events = await eventsOf(trigger.id);
    expect(events.filter((e) => e.outcome === "started")).toHaveLength(100);
  });

  it("keeps arrival order for an ordering key across one batch: the waiting instances start in message order", async () => {
    const { key, wf } = await queueSetup({ ordering: { key: "${workflow.triggerMessage.headers.user}" } }, [shellNode("work", "true")]);
    const at = new Date();
    const order = Array.from({ length: 12 }, (_, i) => `m${String(i).padStart(2, "0")}`);
    await deliverBatch(QUEUE, order.map((id) => message(id, { key, value: id, headers: { user: "same" } }, at)));
    const runner = await group.newRunner();
    const started: string[] = [];
    for (let step = 0; step < order.length; step++) {
      const running = (await byArrival(wf.id)).filter((i) => i.status === "running");
      expect(running).toHaveLength(1); // one at a time for the key
      started.push(running[0].triggerMessage.value);
      const [task] = await runner.claim(1);
      expect(task.instanceId).toBe(running[0].id);
      await runner.complete(task.attemptId, 0);
    }
    expect(started).toEqual(order);
  });

  it("starts each workflow selected by a trigger once per message, a redelivered batch starting nothing new", async () => {
    const key = unique("key");
    const trigger = await createTrigger({ name: unique("q"), type: "queue", config: { queue: QUEUE, key } });
    const wfs = await Promise.all(["a", "b"].map((n) => group.createWorkflow({ name: unique(`two_${n}`), policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "noop" }] })));
    for (const wf of wfs) await publish(wf.id);
    const at = new Date();
    const batch = Array.from({ length: 10 }, (_, i) => message(`two-${i}`, { key, value: `v${i}` }, at));
    await deliverBatch(QUEUE, batch);
    await deliverBatch(QUEUE, [...batch.slice(5), ...batch.slice(0, 5)].map((m) => ({ ...m, attempts: 2 })));
    for (const wf of wfs) expect(await instancesOf(wf.id)).toHaveLength(10);
    const events = await eventsOf(trigger.id);
    expect(events).toHaveLength(10);
    expect(events.every((e) => e.outcome === "started" && e.deliveries === 2 && e.instanceIds.length === 2)).toBe(true);
  });

  it("when a coordinator refuses the batch call, starts the messages one by one and loses none", async () => {
    const { key, wf } = await queueSetup();
    let batchCalls = 0;
    // The real coordinators, except that startMany fails (as a refused input would fail the whole transaction).
    const refusing = {
      idFromName: (name: string) => env.COORDINATOR.idFromName(name),
      get: (id: DurableObjectId) => {
        const real = env.COORDINATOR.get(id);
        return new Proxy(real, {
          get: (target, prop) =>
            prop === "startMany"
              ? async (request: { runs: unknown[] }) => {
                  if (request.runs.length === 1) return real.startMany(request as never);
                  batchCalls++;
                  throw new Error("refused");
                }
              : Reflect.get(target, prop),
        });
      },
    };
    const at = new Date();
    const batch = createMessageBatch(
      QUEUE,
      Array.from({ length: 5 }, (_, i) => ({ id: `refused-${i}`, timestamp: at, attempts: 1, body: { key, value: `v${i}` } })),
    );
    const ctx = createExecutionContext();
    await consumeBatch(batch, { ...env, COORDINATOR: refusing } as unknown as Env);
    const result = await getQueueResult(batch, ctx);
    expect(batchCalls).toBe(1);
    expect(result.explicitAcks.sort()).toEqual(["refused-0", "refused-1", "refused-2", "refused-3", "refused-4"]);
    expect(await instancesOf(wf.id)).toHaveLength(5);
  });
});

describe("sending a batch over HTTP", () => {
  it("sends up to 100 messages in one request, in order", async () => {
    const { key, wf } = await queueSetup();
    const res = await api("POST", `/api/v1/queues/${QUEUE}/messages`, { messages: Array.from({ length: 3 }, (_, i) => ({ key, value: `http-${i}` })) });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ queue: QUEUE, accepted: true, count: 3 });
    for (;;) {
      if ((await instancesOf(wf.id)).length === 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it("refuses an empty batch or one over 100 with a 400 naming messages, sending nothing", async () => {
    const { key, trigger } = await queueSetup();
    for (const messages of [[], Array.from({ length: 101 }, () => ({ key, value: "x" }))]) {
      const res = await api("POST", `/api/v1/queues/${QUEUE}/messages`, { messages });
      expect(res.status).toBe(400);
      expect(res.text).toMatch(/messages/);
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await eventsOf(trigger.id)).toEqual([]);
  });
});
