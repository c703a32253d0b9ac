// Helpers for trigger tests: create triggers and published workflows, deliver queue batches to the Worker, read logs.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import worker from "../../worker/index.ts";
import { api, mirrored } from "./helpers.ts";

// The sample events of test/fixtures, inlined: the Workers runtime has no file system.
export const FIXTURES = {
  put: {
    account: "3f4b7e3dcab231cbfdaa90a6a28bd548",
    action: "PutObject",
    bucket: "uploads",
    object: { key: "input/test_file_20260310.csv", size: 59537, eTag: "c846ff7a18f28c2e262116d6e8719ef0" },
    eventTime: "2026-03-11T05:40:45.379Z",
  },
  copy: {
    account: "3f4b7e3dcab231cbfdaa90a6a28bd548",
    action: "CopyObject",
    bucket: "uploads",
    object: { key: "input/copied.csv", size: 59537, eTag: "c846ff7a18f28c2e262116d6e8719ef0" },
    eventTime: "2026-03-11T05:41:02.118Z",
    copySource: { bucket: "staging", object: "exports/orders.csv" },
  },
  delete: {
    account: "3f4b7e3dcab231cbfdaa90a6a28bd548",
    action: "DeleteObject",
    bucket: "uploads",
    object: { key: "input/test_file_20260310.csv" },
    eventTime: "2026-03-11T06:00:00.000Z",
  },
  userBehavior: { key: "some-key", value: '{"user_id": "1001", "action_type": "login", "timestamp": 1688888888}' },
};

export const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/**
 * Grants a bucket or queue to a workspace in D1 directly. Tests give each R2 trigger its own bucket, which only a
 * notification message names; the grant API accepts only the installation's bound buckets (wrangler.toml).
 */
export async function grantDirectly(kind: "bucket" | "queue", name: string, workspaceId = "default") {
  await env.DB.prepare(`INSERT OR IGNORE INTO workspace_sources (workspace_id, kind, name) VALUES (?, ?, ?)`).bind(workspaceId, kind, name).run();
}

export async function createTrigger(body: Record<string, unknown>) {
  const res = await api("POST", "/api/v1/triggers", body);
  if (res.status !== 201) throw new Error(`create trigger: ${res.status} ${res.text}`);
  return res.json as { id: string; secret?: string; hookUrl?: string };
}

/**
 * A queue trigger on user-behavior with its own exact key (so no other test's messages reach it) and a
 * published workflow on it, created in the test's isolated group.
 */
export async function queueTriggerSetup(
  group: { createWorkflow(def: Record<string, unknown>): Promise<{ id: string }> },
  extra: Record<string, unknown> = {},
  nodes: unknown[] = [{ name: "n", type: "noop" }],
) {
  const key = unique("key");
  const trigger = await createTrigger({ name: unique("q"), type: "queue", config: { queue: "user-behavior", key }, ...extra });
  const wf = await group.createWorkflow({ name: unique("handle_user_action_workflow"), policy: { triggerId: trigger.id }, nodes });
  await publish(wf.id);
  return { key, trigger, wf };
}

export async function publish(workflowId: string) {
  const res = await api("POST", `/api/v1/workflows/${workflowId}/publish`, {});
  if (res.status !== 200) throw new Error(`publish: ${res.status} ${res.text}`);
}

export interface QueuedMessage {
  id: string;
  body: unknown;
  timestamp?: Date;
  attempts?: number;
}

/** Delivers one batch to the Worker's queue handler, as the Queues runtime would, and returns its acks and retries. */
export async function deliverBatch(queue: string, messages: QueuedMessage[]) {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({ id: m.id, timestamp: m.timestamp ?? new Date(Date.UTC(2026, 2, 11, 5, 40, 46)), attempts: m.attempts ?? 1, body: m.body })),
  );
  const ctx = createExecutionContext();
  // The handler awaits its work itself (nothing goes to ctx.waitUntil), so it takes no context.
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

/** A fixed time per message: a redelivery carries its message's original timestamp. */
export const message = (id: string, body: unknown, timestamp = new Date()): QueuedMessage => ({ id, body, timestamp });

/** The workflow's instances as listed (from D1), once its coordinator's mirror has caught up. */
export async function instancesOf(workflowId: string): Promise<{ id: string; status: string; triggerType: string }[]> {
  await mirrored(workflowId);
  const res = await api("GET", `/api/v1/instances?workflowId=${workflowId}&limit=200`);
  if (res.status !== 200) throw new Error(`instances: ${res.status} ${res.text}`);
  return res.json.items;
}

export async function eventsOf(triggerId: string): Promise<any[]> {
  const res = await api("GET", `/api/v1/triggers/${triggerId}/events?limit=200`);
  if (res.status !== 200) throw new Error(`events: ${res.status} ${res.text}`);
  return res.json.items;
}

/** Polls (bounded by the test's timeout) for a condition that an asynchronous queue delivery makes true. */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
