// Queue consumer: R2 notifications and trigger-queue messages → trigger events → runs → event log → ack.
import { derivedId, derivedInstanceId } from "../core/ids.ts";
import { revokedSourceDetail } from "../core/tenancy.ts";
import { cloudEvent, cloudEventId, queueRecord, R2NotificationSchema, sha256Hex, type TriggerEvent, type TriggerSpec } from "../core/triggers/index.ts";
import { recordEvents, type TriggerEventRecord } from "../db/trigger-events.ts";
import { triggersListeningTo } from "../db/triggers.ts";
import { injectFault } from "../faults.ts";
import { planDelivery, settleDelivery, settleGather, WorkflowLookup, type PlannedDelivery } from "./deliver.ts";
import { GateBatch } from "./gate-batch.ts";
import { R2_EVENTS_QUEUE } from "./queues.ts";
import { StartBatch } from "./starts.ts";

/** A message no retry can help (not an R2 notification): retried anyway, so it ends in the dead-letter queue. */
class UnreadableMessage extends Error {}

/** Queues hand over JSON as values, text as strings and bytes as buffers; a buffer is read as UTF-8 text. */
function bodyOf(message: Message<unknown>): unknown {
  const body = message.body;
  if (body instanceof ArrayBuffer) return new TextDecoder().decode(body);
  if (ArrayBuffer.isView(body)) return new TextDecoder().decode(body);
  return body;
}

async function r2Event(message: Message<unknown>): Promise<TriggerEvent> {
  let body = bodyOf(message);
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      throw new UnreadableMessage("the body is not JSON");
    }
  }
  const parsed = R2NotificationSchema.safeParse(body);
  if (!parsed.success) throw new UnreadableMessage(`not an R2 event notification: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return { type: "r2", message: cloudEvent(parsed.data, await cloudEventId(parsed.data)), receivedAt: message.timestamp.getTime() };
}

function queueEvent(queue: string, message: Message<unknown>): TriggerEvent {
  const timestamp = message.timestamp.getTime();
  return { type: "queue", message: queueRecord(queue, bodyOf(message), { id: message.id, timestamp }), receivedAt: timestamp };
}

/** Per batch: the triggers listening to one bucket or queue, read once. */
class TriggerLookup {
  private readonly d1: D1Database;
  private readonly found = new Map<string, ReturnType<typeof triggersListeningTo>>();
  constructor(d1: D1Database) {
    this.d1 = d1;
  }
  listeningTo(type: "r2" | "queue", source: string) {
    const key = `${type}:${source}`;
    let rows = this.found.get(key);
    if (!rows) {
      rows = triggersListeningTo(this.d1, type, source);
      // A failed read is not remembered: the next message of the batch tries again.
      rows.catch(() => this.found.delete(key));
      this.found.set(key, rows);
    }
    return rows;
  }
}

/** What one message asks for: each listening trigger's planned delivery. */
async function planMessage(queue: string, message: Message<unknown>, triggers: TriggerLookup, workflows: WorkflowLookup): Promise<PlannedDelivery[]> {
  const event = queue === R2_EVENTS_QUEUE ? await r2Event(message) : queueEvent(queue, message);
  const source = event.type === "r2" ? event.message.data.bucket : queue;
  const listening = await triggers.listeningTo(event.type === "r2" ? "r2" : "queue", source);
  // Ids derive from the queue message: a redelivery asks for the same instances and updates the same rows.
  const seed = (trigger: TriggerSpec, more = "") => sha256Hex(`${queue}|${message.id}|${trigger.id}|${more}`);
  const plans: PlannedDelivery[] = [];
  for (const { spec: trigger, workspaceId, granted } of listening) {
    if (!granted) {
      plans.push(await notGranted(trigger, workspaceId, event, source, await seed(trigger)));
      continue;
    }
    plans.push(
      await planDelivery(
        {
          trigger,
          workspaceId,
          event,
          eventId: derivedId("evt", event.receivedAt, await seed(trigger)),
          instanceIdFor: async (workflowId) => derivedInstanceId(workflowId, event.receivedAt, await seed(trigger, workflowId)),
          source: event.type === "r2" ? `r2 ${source} via ${queue}` : `queue ${queue}`,
          sourceId: message.id,
        },
        workflows,
      ),
    );
  }
  return plans;
}

/**
 * A trigger whose workspace no longer holds the source: the event is not delivered to it. Its log says so,
 * without the message or its id: they belong to the workspaces that hold the source.
 */
async function notGranted(trigger: TriggerSpec, workspaceId: string, event: TriggerEvent, source: string, seed: string): Promise<PlannedDelivery> {
  const kind = event.type === "r2" ? "bucket" : "queue";
  return {
    done: true,
    record: {
      id: derivedId("evt", event.receivedAt, seed),
      triggerId: trigger.id,
      workspaceId,
      receivedAt: event.receivedAt,
      source: `${event.type === "r2" ? "r2" : "queue"} ${source}`,
      sourceId: null,
      dedupKey: null,
      outcome: "not_granted",
      detail: revokedSourceDetail(kind, source),
      instanceIds: [],
      message: null,
    },
  };
}

/** Retries back off (2, 4, … 60 s) so a struggling dependency is not hammered; max_retries then sends to the DLQ. */
const retryDelay = (attempts: number) => Math.min(60, 2 ** Math.max(1, attempts));

function retryLater(queue: string, message: Message<unknown>, err: unknown): void {
  const why = err instanceof Error ? err.message : String(err);
  console.error(`sluice: message ${message.id} on ${queue} (attempt ${message.attempts}) will be retried: ${why}`);
  message.retry({ delaySeconds: retryDelay(message.attempts) });
}

/**
 * Each message is acknowledged only after its runs (or duplicate verdicts) are committed by the
 * coordinators, its gathered events by their triggers' gates, and its verdicts are in the event log;
 * a message that fails is retried, the others go on. Three steps: plan every message in delivery order
 * (the arrival order ordering keys and batches keep; a retried message arrives again later, and Queues
 * promises no producer order), start all of the batch's runs with one call per coordinator and gather
 * its batched or debounced events with one call per trigger's gate, then write the event log in one D1
 * batch and ack.
 */
export async function consumeBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const triggers = new TriggerLookup(env.DB);
  const workflows = new WorkflowLookup(env.DB);
  const starts = new StartBatch(env);
  const gates = new GateBatch(env);
  const planned: { message: Message<unknown>; records: Promise<TriggerEventRecord[]> }[] = [];
  for (const message of batch.messages) {
    try {
      const plans = await planMessage(batch.queue, message, triggers, workflows);
      const records = Promise.all(
        plans.map(async (plan) => {
          if (plan.done) return plan.record;
          if ("gather" in plan) return settleGather(plan, await gates.add(plan.gather.trigger, plan.gather.rule, plan.gather.event));
          return settleDelivery(plan, await Promise.all(plan.starts.map((s) => starts.add(s.input))));
        }),
      );
      records.catch(() => {}); // settled below, after the flush
      planned.push({ message, records });
    } catch (err) {
      retryLater(batch.queue, message, err);
    }
  }
  // Gathered events reach their gates (one call per trigger) while the other runs start (one call per coordinator).
  await Promise.all([starts.flush(), gates.flush()]);
  const logged: { message: Message<unknown>; records: TriggerEventRecord[] }[] = [];
  for (const { message, records } of planned) {
    try {
      const settled = await records;
      injectFault(env, `ingest:${message.id}`); // test/faults: the consumer fails after the runs committed, before log and ack
      logged.push({ message, records: settled });
    } catch (err) {
      retryLater(batch.queue, message, err);
    }
  }
  try {
    await recordEvents(env.DB, logged.flatMap((l) => l.records));
  } catch (err) {
    // The runs are committed and idempotent: a redelivery finds them and writes the log again.
    for (const { message } of logged) retryLater(batch.queue, message, err);
    return;
  }
  for (const { message } of logged) message.ack();
}
