// What a trigger does with one event: match, filter, dedup and ordering keys, and the event log's verdict.
import type { TriggerSpec } from "./config.ts";
import { evaluateFilter } from "./filter.ts";
import { sha256Hex } from "./hash.ts";
import type { QueueRecord } from "./queue-record.ts";
import { keyMatches, matchesEventSelectors, type CloudEvent } from "./r2.ts";
import { resolveTemplate } from "./templates.ts";

/** `not_granted`: the trigger's workspace no longer holds the bucket or queue (DESIGN §2.7); the event is not delivered to it. */
/**
 * `batched` / `debounced`: gathered into a run that starts later (the instance it joined is named); `paused`: kept by a
 * paused trigger until resumed or discarded (DESIGN §2.9, §2.10).
 */
export const EVENT_OUTCOMES = [
  "started",
  "duplicate",
  "filtered",
  "key_mismatch",
  "unpublished",
  "disabled",
  "no_workflow",
  "error",
  "not_granted",
  "batched",
  "debounced",
  "paused",
  "discarded",
] as const;
export type EventOutcome = (typeof EVENT_OUTCOMES)[number];

/** One received event in the form its trigger type gives it; `message` is workflow.triggerMessage. */
export type TriggerEvent =
  | { type: "r2"; message: CloudEvent; receivedAt: number }
  | { type: "queue"; message: QueueRecord; receivedAt: number }
  | { type: "webhook"; message: unknown; webhookId: string; receivedAt: number };

export type Decision =
  | { start: true; dedupKey: string; orderingKey: string | null }
  | { start: false; outcome: Exclude<EventOutcome, "started" | "duplicate" | "unpublished" | "no_workflow" | "not_granted">; detail: string };

/** Whether the event comes from what the trigger listens to at all; other triggers never see it. */
export function listensTo(trigger: TriggerSpec, event: TriggerEvent): boolean {
  if (trigger.type === "r2" && event.type === "r2") return trigger.config.bucket === event.message.data.bucket;
  if (trigger.type === "queue" && event.type === "queue") return trigger.config.queue === event.message.topic;
  return trigger.type === "webhook" && event.type === "webhook";
}

/** DESIGN §2.7 defaults: R2 bucket/key@eTag (deletes have no eTag: their time), queue message id, webhook-id. */
export function defaultDedupKey(event: TriggerEvent): string {
  switch (event.type) {
    case "r2": {
      const { bucket, object, eventTime } = event.message.data;
      return `${bucket}/${object.key}@${object.eTag ?? eventTime}`;
    }
    case "queue":
      return event.message.id;
    case "webhook":
      return event.webhookId;
  }
}

/** A message that fails the trigger's own criteria (event type, key): why, or null when it matches. */
function mismatch(trigger: TriggerSpec, event: TriggerEvent): { outcome: "filtered" | "key_mismatch"; detail: string } | null {
  if (trigger.type === "r2" && event.type === "r2") {
    const { action, object } = event.message.data;
    if (!matchesEventSelectors(trigger.config.events, action)) {
      return { outcome: "filtered", detail: `event ${event.message.type} is not one of ${trigger.config.events.join(", ")}` };
    }
    if (!keyMatches(trigger.config.keyPattern, object.key)) {
      return { outcome: "key_mismatch", detail: `key '${object.key}' does not match ${trigger.config.keyPattern}` };
    }
  }
  if (trigger.type === "queue" && event.type === "queue" && trigger.config.key !== null && event.message.key !== trigger.config.key) {
    const got = event.message.key === null ? "no key" : `key '${event.message.key}'`;
    return { outcome: "key_mismatch", detail: `${got} is not '${trigger.config.key}'` };
  }
  return null;
}

/**
 * The trigger's verdict on one event, before any workflow is looked at. Order: its own criteria,
 * then enabled (so a disabled trigger's log shows what it would have started), then the filter,
 * then paused, then the keys. A key template that cannot resolve is an error: retrying would not change it.
 * A paused trigger keeps only what it would start: a disabled trigger still drops at once, and a filtered
 * event stays filtered (resume would drop it anyway); its keys are resolved when resume decides it.
 */
export function decide(trigger: TriggerSpec, event: TriggerEvent): Decision {
  const miss = mismatch(trigger, event);
  if (miss) return { start: false, ...miss };
  if (!trigger.enabled) return { start: false, outcome: "disabled", detail: "the trigger is disabled" };
  if (trigger.filter !== null) {
    const result = evaluateFilter(trigger.filter, event.message);
    if (!result.pass) {
      return { start: false, outcome: "filtered", detail: result.error ? `filter error: ${result.error}` : `filter ${trigger.filter} is false` };
    }
  }
  if (trigger.paused) return { start: false, outcome: "paused", detail: "kept while the trigger is paused; resume starts it, discard drops it" };
  const dedup = trigger.dedup.key === null ? { ok: true as const, value: defaultDedupKey(event) } : resolveTemplate(trigger.dedup.key, event.message, event.receivedAt);
  if (!dedup.ok) return { start: false, outcome: "error", detail: `dedup key: ${dedup.error}` };
  let orderingKey: string | null = null;
  if (trigger.ordering !== null) {
    const ordering = resolveTemplate(trigger.ordering.key, event.message, event.receivedAt);
    if (!ordering.ok) return { start: false, outcome: "error", detail: `ordering key: ${ordering.error}` };
    orderingKey = ordering.value;
  }
  return { start: true, dedupKey: dedup.value, orderingKey };
}

const MAX_PLAIN_KEY = 200;

/**
 * The key the coordinator remembers: scoped to the trigger, and hashed when long so a 1 KB object
 * key does not become a 1 KB index entry. The readable key stays in the event log.
 */
export async function coordinatorDedupKey(triggerId: string, dedupKey: string): Promise<string> {
  return dedupKey.length <= MAX_PLAIN_KEY ? `${triggerId}:${dedupKey}` : `${triggerId}:sha256:${await sha256Hex(dedupKey)}`;
}

export interface WorkflowStart {
  workflowId: string;
  workflowName: string;
  /** The instance id this delivery asked for. */
  requestedId: string;
  /** What the coordinator answered: a new instance, or the one the dedup key already started. */
  id: string;
  duplicate: boolean;
}

/**
 * The event log's verdict once the coordinators answered. A redelivery of the same queue message
 * asks for the same instance id and gets it back: that is the run this event started, not a duplicate.
 */
export function startVerdict(starts: WorkflowStart[]): { outcome: "started" | "duplicate"; detail: string; instanceIds: string[] } {
  const fresh = starts.filter((s) => !s.duplicate || s.id === s.requestedId);
  const dupes = starts.filter((s) => !fresh.includes(s));
  const instanceIds = starts.map((s) => s.id);
  const describe = (list: WorkflowStart[]) => list.map((s) => `${s.workflowName} (${s.id})`).join(", ");
  if (fresh.length === 0) return { outcome: "duplicate", detail: `already started by an earlier event with the same dedup key: ${describe(dupes)}`, instanceIds };
  const detail = `started ${describe(fresh)}` + (dupes.length ? `; duplicate for ${describe(dupes)}` : "");
  return { outcome: "started", detail, instanceIds };
}

/** Why a matching event started nothing when no published workflow selects the trigger. */
export function noWorkflowVerdict(unpublished: { name: string }[]): { outcome: "unpublished" | "no_workflow"; detail: string } {
  if (unpublished.length > 0) {
    return {
      outcome: "unpublished",
      detail: `no published version selects this trigger; publish ${unpublished.map((w) => `'${w.name}'`).join(", ")} for it to run`,
    };
  }
  return { outcome: "no_workflow", detail: "no workflow selects this trigger (policy.triggerId)" };
}
