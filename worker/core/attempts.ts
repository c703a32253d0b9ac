// What becomes of an attempt the machine lost, and how long a stopped attempt holds its place (DESIGN §2.5, §2.6).
import { nextAttemptAt } from "./lifecycle.ts";
import type { RetryPolicy } from "./definition.ts";

/** Infrastructure retries of a node per run: attempts lost with their runner, not failed by their script. */
export const INFRA_RETRIES = 2;

export type LostVerdict =
  /** Another attempt at once, not counted against the node's own retries. */
  | { retry: "infrastructure"; error: string; log: string }
  /** The infrastructure retries are used up: the attempt fails like a script failure (the node's own retries apply). */
  | { retry: "none"; error: string; log: string };

/**
 * A lost attempt (its runner stopped heartbeating and its lease expired, so by protocol the runner
 * killed it): retried as infrastructure while `lostBefore` (earlier lost attempts of this node in
 * this run) is under the limit.
 */
export function lostAttempt(reason: string, lostBefore: number, limit = INFRA_RETRIES): LostVerdict {
  if (lostBefore < limit) {
    const which = `infrastructure retry ${lostBefore + 1} of ${limit}`;
    return { retry: "infrastructure", error: `lost: ${reason} (${which} follows)`, log: `[sluice] attempt lost: ${reason}; ${which} starts now\n` };
  }
  const error = `lost: ${reason} (all ${limit} infrastructure retries used)`;
  return { retry: "none", error, log: `[sluice] attempt lost: ${reason}; no infrastructure retries left\n` };
}

/**
 * When the next attempt of a failed node may start under its own retry policy, counting only the
 * attempts its script failed (`attempt` minus the ones lost to the machine); null: no retries left.
 */
export function nextOwnAttemptAt(retry: RetryPolicy | undefined, attempt: number, lost: number, now: number): number | null {
  return nextAttemptAt(retry, attempt - lost, now);
}

/**
 * A stopped attempt (terminated, timed out) whose process may still live keeps its instance's place
 * in `maxParallel` until its runner confirms the process gone, or until the lease it held has run
 * out twice over: by protocol a runner that cannot renew kills the process within one lease period.
 */
export function exitDeadline(stoppedAt: number, leaseMs: number): number {
  return stoppedAt + 2 * leaseMs;
}

/** An instance counts against `maxParallel` while it runs, or while any of its stopped processes may still live. */
export function holdsPlace(status: string, processesExiting: number): boolean {
  return status === "running" || processesExiting > 0;
}
