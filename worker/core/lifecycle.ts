// Node and instance lifecycle rules: retries with backoff, which nodes a rerun repeats, terminate.
import type { RetryPolicy } from "./definition.ts";
import { conflict } from "./errors.ts";
import type { NodeStatus } from "./progress.ts";

/** Retry delays are capped so exponential backoff cannot push a retry out by days. */
export const MAX_RETRY_DELAY_MS = 24 * 3600 * 1000;

/**
 * After attempt `attempt` (1-based) failed: the time the next attempt may start, or null when the
 * node has used its retries. Exponential backoff doubles the delay each time: d, 2d, 4d, …
 */
export function nextAttemptAt(retry: RetryPolicy | undefined, attempt: number, now: number): number | null {
  if (!retry || attempt > retry.count) return null;
  const factor = retry.backoff === "exponential" ? 2 ** (attempt - 1) : 1;
  return now + Math.min(retry.delaySeconds * 1000 * factor, MAX_RETRY_DELAY_MS);
}

export type RerunMode = "all" | "failed";

/**
 * The nodes a rerun gives a new attempt. `all`: every node. `failed`: failed and terminated nodes and
 * everything downstream of them (skipped because of them, or to be redone with their new results).
 */
export function nodesToRerun(
  mode: RerunMode,
  status: Readonly<Record<string, NodeStatus>>,
  descendants: (node: string) => Iterable<string>,
): string[] {
  const names = Object.keys(status);
  if (mode === "all") return names;
  const chosen = new Set<string>();
  for (const name of names) {
    if (status[name] === "failed" || status[name] === "terminated") {
      chosen.add(name);
      for (const d of descendants(name)) chosen.add(d);
    }
  }
  return names.filter((n) => chosen.has(n));
}

/** Node statuses that a terminate stops. */
export const STOPPABLE: ReadonlySet<NodeStatus> = new Set(["pending", "queued", "running"]);

/** A terminate of a finished instance, live or only in history: the same refusal. */
export const nothingToTerminate = (instanceId: string, status: string) => conflict(`instance ${instanceId} already ${status}; nothing to terminate`);
