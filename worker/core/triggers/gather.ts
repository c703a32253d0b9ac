// Batching and debounce per trigger (DESIGN §2.9): which group an event joins, when a group closes, and its run's message.
import { SluiceError } from "../errors.ts";
import { derivedId, derivedInstanceId } from "../ids.ts";
import { MAX_TRIGGER_MESSAGE_BYTES } from "../runs.ts";
import type { TriggerSpec } from "./config.ts";
import { startVerdict, type WorkflowStart } from "./decide.ts";
import { sha256Hex } from "./hash.ts";
import { resolveTemplate, type TemplateResult } from "./templates.ts";

/** The gathering a trigger does, as a group keeps it from the moment it opens (a later config change does not reach it). */
export type GatherRule =
  | { kind: "batch"; maxEvents: number; windowSeconds: number; key: string | null }
  | { kind: "debounce"; windowSeconds: number; maxWaitSeconds: number | null; key: string | null };

export type GatherOutcome = "batched" | "debounced";

/** The trigger's gathering, or null when each event starts its own run. */
export function gatherRuleOf(trigger: Pick<TriggerSpec, "batch" | "debounce">): GatherRule | null {
  if (trigger.batch) return { kind: "batch", ...trigger.batch };
  if (trigger.debounce) return { kind: "debounce", ...trigger.debounce };
  return null;
}

export const gatherOutcome = (rule: Pick<GatherRule, "kind">): GatherOutcome => (rule.kind === "batch" ? "batched" : "debounced");

/** The key value an event is gathered under (a template like dedup and ordering keys); a rule without key: one group. */
export function gatherKeyOf(rule: GatherRule, message: unknown, receivedAt: number): TemplateResult | { ok: true; value: null } {
  return rule.key === null ? { ok: true, value: null } : resolveTemplate(rule.key, message, receivedAt);
}

/** The UTF-8 size of a message as the 128 KB trigger-message limit counts it (core/runs.ts checkTriggerMessageSize). */
export const messageBytes = (message: unknown): number => new TextEncoder().encode(JSON.stringify(message ?? {})).byteLength;

/** A batch's header with the widest values it can take, so a group's size is known before it closes. */
function envelopeBytes(key: string | null): number {
  const at = new Date(0).toISOString();
  return messageBytes({ batch: { key, count: 1000, firstReceivedAt: at, lastReceivedAt: at }, events: [] });
}

/**
 * Whether an event can be gathered at all: a batch of that one event must fit the 128 KB trigger-message limit.
 * A debounced run's message is the event itself, which the ingest checked already.
 */
export function fitsAlone(rule: GatherRule, key: string | null, bytes: number): boolean {
  return rule.kind === "debounce" ? bytes <= MAX_TRIGGER_MESSAGE_BYTES : envelopeBytes(key) + bytes <= MAX_TRIGGER_MESSAGE_BYTES;
}

/** One event as the gate receives it, its key resolved and its size measured by the ingest. */
export interface GatherEvent {
  /** The event log id: adding the same id again never counts twice. */
  eventId: string;
  key: string | null;
  message: unknown;
  receivedAt: number;
  bytes: number;
  /** The trigger's dedup key (scoped, see coordinatorDedupKey) and window: a second event with it is a duplicate. */
  dedup: { key: string; windowSeconds: number };
}

export type GroupState = "open" | "closing" | "closed";

export interface Group {
  id: string;
  key: string | null;
  rule: GatherRule;
  state: GroupState;
  /** When the gate opened it (its clock): instance ids derive from it. */
  openedAt: number;
  /** When it closes (open), or when its run is started again (closing, after a failed start). */
  dueAt: number;
  /** Debounce: the latest it may close, however often events come. */
  deadlineAt: number | null;
  count: number;
  /** A batch: the size of its trigger message so far (envelope included). */
  bytes: number;
  firstReceivedAt: number;
  lastReceivedAt: number;
  /** Failed starts so far (closing groups): the retry backs off. */
  attempts: number;
}

/** What the gate keeps: groups and the events that joined them. The Durable Object implements it over SQLite. */
export interface GatherStore {
  /** The group an event id already joined, whatever its state. */
  groupOfEvent(eventId: string): Group | null;
  /** The open group of a key gathering the same way (batch or debounce), if any. */
  openGroupFor(kind: GatherRule["kind"], key: string | null): Group | null;
  /** Inserts or updates a group. */
  saveGroup(group: Group): void;
  /** Records the event as a member, in arrival order. A batch keeps every message; a debounce only the last. */
  addMember(group: Group, event: GatherEvent): void;
  /** The group and event that took a dedup key whose window is still open at `now`. */
  dedupHolder(key: string, now: number): { group: Group; eventId: string } | null;
  /** Remembers a dedup key until `until`. */
  holdDedup(key: string, groupId: string, eventId: string, until: number): void;
}

export interface Joined {
  eventId: string;
  groupId: string;
  openedAt: number;
  outcome: GatherOutcome;
  /** False when the event had joined before (a redelivery): it was not counted again. */
  added: boolean;
  /** Another event with the same dedup key inside its window joined that group: this one is a duplicate, not gathered. */
  duplicateOf: string | null;
}

const joined = (group: Group, eventId: string, added: boolean, duplicateOf: string | null = null): Joined => ({
  eventId,
  groupId: group.id,
  openedAt: group.openedAt,
  outcome: gatherOutcome(group.rule),
  added,
  duplicateOf,
});

function openGroup(rule: GatherRule, event: GatherEvent, now: number, id: string): Group {
  const windowMs = rule.windowSeconds * 1000;
  const deadlineAt = rule.kind === "debounce" && rule.maxWaitSeconds !== null ? now + rule.maxWaitSeconds * 1000 : null;
  return {
    id,
    key: event.key,
    rule,
    state: "open",
    openedAt: now,
    dueAt: now + windowMs,
    deadlineAt,
    count: 0,
    bytes: rule.kind === "batch" ? envelopeBytes(event.key) : 0,
    firstReceivedAt: event.receivedAt,
    lastReceivedAt: event.receivedAt,
    attempts: 0,
  };
}

/** A group stops taking events and is started at once. */
function closeNow(group: Group, now: number): void {
  group.state = "closing";
  group.dueAt = now;
}

/** The size a batch reaches with one more event: its message plus the comma before it. */
const bytesWith = (group: Group, event: GatherEvent) => group.bytes + event.bytes + (group.count > 0 ? 1 : 0);

/**
 * Adds one event. An event id seen before answers with the group it joined (open or already started), so a
 * redelivery is never counted twice; another event with a dedup key held inside its window is a duplicate. A group
 * past its close time takes no more. A batch closes when it reaches maxEvents, and closes early, before this event,
 * when the event would take its message past 128 KB. A debounce moves its close to windowSeconds from now, but never
 * past maxWaitSeconds from its opening.
 */
export function admit(store: GatherStore, rule: GatherRule, event: GatherEvent, now: number, newGroupId: () => string): Joined {
  const seen = store.groupOfEvent(event.eventId);
  if (seen) return joined(seen, event.eventId, false);
  // The trigger's dedup applies as to any event (DESIGN §2.7): a duplicate joins nothing and names the group it duplicates.
  const holder = store.dedupHolder(event.dedup.key, now);
  if (holder) return joined(holder.group, event.eventId, false, holder.eventId);
  let group = store.openGroupFor(rule.kind, event.key);
  // A group whose time has come takes no more events, even if the alarm that starts it has not run yet.
  const expired = group !== null && group.dueAt <= now;
  if (group && (expired || (group.rule.kind === "batch" && bytesWith(group, event) > MAX_TRIGGER_MESSAGE_BYTES))) {
    closeNow(group, now);
    store.saveGroup(group);
    group = null;
  }
  group ??= openGroup(rule, event, now, newGroupId());
  group.bytes = group.rule.kind === "batch" ? bytesWith(group, event) : 0;
  group.count += 1;
  // Deliveries may come out of order: the batch names the earliest and latest times its events were received.
  group.firstReceivedAt = Math.min(group.firstReceivedAt, event.receivedAt);
  group.lastReceivedAt = Math.max(group.lastReceivedAt, event.receivedAt);
  if (group.rule.kind === "batch") {
    if (group.count >= group.rule.maxEvents) closeNow(group, now);
  } else {
    const quiet = now + group.rule.windowSeconds * 1000;
    group.dueAt = group.deadlineAt === null ? quiet : Math.min(quiet, group.deadlineAt);
  }
  store.saveGroup(group);
  store.addMember(group, event);
  store.holdDedup(event.dedup.key, group.id, event.eventId, now + event.dedup.windowSeconds * 1000);
  return joined(group, event.eventId, true);
}

/** Open groups whose time has come become closing; returns every closing group now due for a start. */
export function groupsToStart(groups: Group[], now: number): Group[] {
  const due = groups.filter((g) => g.state !== "closed" && g.dueAt <= now);
  for (const g of due) g.state = "closing";
  return due;
}

/** After a failed start: 2, 4, 8 … up to 60 seconds, so a struggling coordinator or D1 is not hammered. */
export function startRetryAt(group: Group, now: number): number {
  return now + Math.min(60, 2 ** Math.max(1, group.attempts)) * 1000;
}

/** How long a started group (and which events joined it) is remembered, so a late redelivery finds it. */
export const CLOSED_MEMORY_MS = 3 * 24 * 3600 * 1000;

/** A batch's trigger message: its members' messages in arrival order, with when the first and last arrived. */
export function batchMessage(group: Pick<Group, "key" | "count" | "firstReceivedAt" | "lastReceivedAt">, events: unknown[]) {
  return {
    batch: {
      key: group.key,
      count: events.length,
      firstReceivedAt: new Date(group.firstReceivedAt).toISOString(),
      lastReceivedAt: new Date(group.lastReceivedAt).toISOString(),
    },
    events,
  };
}

/**
 * The instance a group starts for one workflow: derived from the group id, so every member's log row can name it
 * when it joins, and a repeated close asks for the same instance.
 */
export async function gatheredInstanceId(workflowId: string, groupId: string, openedAt: number): Promise<string> {
  return derivedInstanceId(workflowId, openedAt, await sha256Hex(`gather|${groupId}|${workflowId}`));
}

/** The coordinator dedup key of a group's runs: a repeated close never starts twice. */
export const gatheredDedupKey = (groupId: string) => `gather:${groupId}`;

/** The group's own event-log row (the run start itself), written once it started. */
export async function groupEventId(groupId: string, openedAt: number): Promise<string> {
  return derivedId("evt", openedAt, await sha256Hex(`gather-row|${groupId}`));
}

/**
 * Refusals no retry can change (the workflow is gone, its parameters cannot resolve): the group is logged with them
 * instead of retrying forever. Anything else (a coordinator restarting, D1) is retried with the same ids.
 */
export const isPermanentRefusal = (err: unknown) => err instanceof SluiceError && [400, 404, 413, 422].includes(err.status);

export interface GroupStartAnswer {
  workflowId: string;
  workflowName: string;
  requestedId: string;
  answer: PromiseSettledResult<{ id: string; duplicate?: boolean }>;
}

/**
 * A closed group's own verdict once each workflow's coordinator answered: started (or duplicate), naming any workflow
 * that refused it for good; `error` when every one refused; or `retry` (with the failure) when any start failed for a
 * passing reason: the whole group is started again, and the starts that succeeded answer with their instances.
 */
export function groupStartVerdict(
  label: string,
  answers: GroupStartAnswer[],
): { outcome: "started" | "duplicate" | "error"; detail: string; instanceIds: string[] } | { retry: unknown } {
  const passing = answers.find((a) => a.answer.status === "rejected" && !isPermanentRefusal(a.answer.reason));
  if (passing) return { retry: (passing.answer as PromiseRejectedResult).reason };
  const refused: string[] = [];
  const started: WorkflowStart[] = [];
  for (const { workflowId, workflowName, requestedId, answer } of answers) {
    if (answer.status === "fulfilled") started.push({ workflowId, workflowName, requestedId, id: answer.value.id, duplicate: answer.value.duplicate === true });
    else refused.push(`${workflowName} refused it: ${answer.reason instanceof Error ? answer.reason.message : String(answer.reason)}`);
  }
  if (started.length === 0) return { outcome: "error", detail: `${label}: ${refused.join("; ")}`, instanceIds: [] };
  const verdict = startVerdict(started);
  return { ...verdict, detail: [`${label}: ${verdict.detail}`, ...refused].join("; ") };
}
