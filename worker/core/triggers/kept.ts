// Deciding a logged event again (DESIGN §2.10): kept events of a paused trigger on resume, and replays.
import type { TriggerSpec } from "./config.ts";
import type { EventOutcome, TriggerEvent } from "./decide.ts";

/**
 * Outcomes whose event keeps its whole message when the log's copy is cut: a kept event must be decided
 * later, and `unpublished`, `no_workflow` and `error` are what a replay after a fix is for. Dropped kinds
 * (filtered, key mismatch, disabled) can come by the thousand and keep only the cut copy.
 */
export const KEEP_WHOLE_MESSAGE: ReadonlySet<EventOutcome> = new Set(["paused", "unpublished", "no_workflow", "error"]);

/** A replay's dedup key: unique per replay, so the original's dedup never hides it (DESIGN §2.10). */
export function replayDedupKey(eventId: string, n: number): string {
  return `replay:${eventId}:${n}`;
}

/** The seed of replay n's event id: the same (event, n) always names the same row, which is how n is claimed. */
export const replayEventSeed = (eventId: string, n: number) => `replay|${eventId}|${n}`;

/**
 * The seed of the instance a kept (or replayed) event asks each workflow for. It derives from the event row,
 * so two resumes racing, or a resume racing the cron's continuation, ask for the same instance and the
 * coordinator answers the second with the first.
 */
export const decidedAgainInstanceSeed = (eventId: string, workflowId: string) => `again|${eventId}|${workflowId}`;

/** The stored form of an event's message in the log. */
export interface StoredMessage {
  message: string;
  messageTruncated: boolean;
  messageFull: string | null;
}

/** The whole message of a logged event, or why it is gone: a cut message without its whole form cannot be decided again. */
export function wholeMessage(stored: StoredMessage): { ok: true; message: unknown } | { ok: false; reason: string } {
  if (!stored.messageTruncated) return { ok: true, message: JSON.parse(stored.message) as unknown };
  if (stored.messageFull !== null) return { ok: true, message: JSON.parse(stored.messageFull) as unknown };
  return { ok: false, reason: "the event's message was cut at 8 KB when it was logged and its whole form was not kept, so it cannot be used again" };
}

/** A logged event as its trigger type gives it, to be decided again; the webhook-id was logged as its source id. */
export function loggedEvent(trigger: TriggerSpec, message: unknown, receivedAt: number, sourceId: string | null): TriggerEvent {
  if (trigger.type === "webhook") return { type: "webhook", message, webhookId: sourceId ?? "", receivedAt };
  return { type: trigger.type, message, receivedAt } as TriggerEvent;
}

/**
 * The trigger with a fixed dedup key: a replay's `replay:<id>:<n>` (DESIGN §2.10), which bypasses the original's
 * dedup and must survive the replay's own pause. A fixed key is a template without references: it resolves to itself.
 */
export function withFixedDedupKey(trigger: TriggerSpec, key: string | null): TriggerSpec {
  if (key === null) return trigger;
  if (key.includes("$")) throw new Error(`a fixed dedup key cannot hold template syntax: ${key}`);
  return { ...trigger, dedup: { ...trigger.dedup, key } };
}

/** The trigger as resume decides its kept events with: never kept again by the pause they are leaving. */
export function resumedTrigger(trigger: TriggerSpec): TriggerSpec {
  return { ...trigger, paused: false };
}

/** How much of a resume one request (or one cron run) does before leaving the rest to the background. */
export interface ResumeBudget {
  maxEvents: number;
  maxMs: number;
}
/** Kept events decided per round: one D1 read, one start call per workflow, one D1 batch of verdicts. */
export const RESUME_BATCH = 50;
export const RESUME_REQUEST_BUDGET: ResumeBudget = { maxEvents: 200, maxMs: 10_000 };
/** The cron's continuation shares the minute with retention's 20 s. */
export const RESUME_CRON_BUDGET: ResumeBudget = { maxEvents: 5_000, maxMs: 15_000 };
/** Kept events turned to discarded per statement; a request stops after its time budget. */
export const DISCARD_BATCH = 500;

/** Whether another round fits: each round may take up to RESUME_BATCH events. */
export function resumeMayContinue(budget: ResumeBudget, startedAt: number, now: number, decided: number): boolean {
  return decided < budget.maxEvents && now - startedAt < budget.maxMs;
}

/** How many events the next round takes: never past the budget's count. */
export function nextRoundSize(budget: ResumeBudget, decided: number): number {
  return Math.max(0, Math.min(RESUME_BATCH, budget.maxEvents - decided));
}
