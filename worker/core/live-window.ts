// How long a coordinator keeps a finished instance's live state, and when it may forget it (D1 keeps the history).
import { FINISHED_INSTANCE, type InstanceStatus } from "./progress.ts";

export const DEFAULT_LIVE_WINDOW_MINUTES = 60;
/** 0: a finished instance is forgotten as soon as its history is in D1. */
export const MIN_LIVE_WINDOW_MINUTES = 0;
/** A week: past that, live state grows with the run rate as it did when it lasted the whole retention period. */
export const MAX_LIVE_WINDOW_MINUTES = 7 * 24 * 60;

/**
 * A transaction's D1 mirror rows are written as it commits, moments after it read the clock: a row
 * written this soon after an instance finished may hold its last changes.
 */
export const SEAL_MARGIN_MS = 60_000;
/** How long a purge waits, and waits again, while the D1 mirror has not delivered the instance's rows. */
export const MIRROR_WAIT_MS = 60_000;
/** Expired dedup keys are swept at most this often (a key's expiry arms the sweep; later ones wait for the next). */
export const PRUNE_INTERVAL_MS = 3600_000;

/** LIVE_WINDOW_MINUTES: unset or not a number, the default; otherwise clamped into [MIN, MAX]. */
export function liveWindowMinutes(configured: string | undefined): number {
  const minutes = Number(configured ?? DEFAULT_LIVE_WINDOW_MINUTES);
  if (configured?.trim() === "" || !Number.isFinite(minutes)) return DEFAULT_LIVE_WINDOW_MINUTES;
  return Math.min(Math.max(Math.floor(minutes), MIN_LIVE_WINDOW_MINUTES), MAX_LIVE_WINDOW_MINUTES);
}

export const liveWindowMs = (minutes: number) => minutes * 60_000;

export type ForgetVerdict = { kind: "forget" } | { kind: "keep" } | { kind: "later"; at: number };

export interface ForgetFacts {
  /** The instance's status and when it finished, if it is still live. */
  instance: { status: string; finished_at: number | null } | undefined;
  /** When the oldest D1 mirror row not yet delivered was written (null: none is pending). */
  oldestUnmirroredAt: number | null;
  /** Whether a stopped attempt of the instance may still run (it holds a place in maxParallel until gone). */
  exiting: boolean;
}

/**
 * Whether a finished instance leaves live state now. Only once its window passed (a rerun since finished
 * later and set its own timer), its stopped processes are gone, and every D1 mirror row written up to
 * its finish (and a margin) is delivered: forgetting it earlier would lose its history.
 */
export function forgetVerdict({ instance, oldestUnmirroredAt, exiting }: ForgetFacts, now: number, windowMs: number): ForgetVerdict {
  if (!instance || instance.finished_at === null || !FINISHED_INSTANCE.has(instance.status as InstanceStatus)) return { kind: "keep" };
  if (instance.finished_at + windowMs > now) return { kind: "keep" };
  const mirrorBehind = oldestUnmirroredAt !== null && oldestUnmirroredAt <= instance.finished_at + SEAL_MARGIN_MS;
  return mirrorBehind || exiting ? { kind: "later", at: now + MIRROR_WAIT_MS } : { kind: "forget" };
}

/** When the next sweep of expired dedup keys runs: at the earliest expiry left, but not again within the interval. */
export function nextDedupSweepAt(earliestExpiry: number | null, now: number): number | null {
  return earliestExpiry === null ? null : Math.max(earliestExpiry, now + PRUNE_INTERVAL_MS);
}
