// Node and instance lifecycle rules: retries with backoff, which nodes a rerun repeats, terminate.
import type { RetryPolicy } from "./definition.ts";
import { badRequest, conflict } from "./errors.ts";
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

export type RerunMode = "all" | "failed" | "from";
/** What a rerun repeats: every node, the failed ones and what depends on them, or one node and everything downstream. */
export type Rerun = { mode: "all" | "failed" } | { mode: "from"; node: string };

/** A rerun request as the API takes it: `from` needs `node`, and only `from` takes one. */
export function rerunRequest(mode: RerunMode, node?: string): Rerun {
  if (mode === "from") {
    if (node === undefined) throw badRequest("mode 'from' needs node: the node to rerun with everything downstream of it", [{ path: "node", message: "required with mode 'from'" }]);
    return { mode, node };
  }
  if (node !== undefined) throw badRequest(`node is only for mode 'from'; mode '${mode}' chooses its nodes itself`, [{ path: "node", message: "only with mode 'from'" }]);
  return { mode };
}

/**
 * The nodes a rerun gives a new attempt. `all`: every node. `failed`: failed and terminated nodes and
 * everything downstream of them (skipped because of them, or to be redone with their new results).
 * `from`: the node and everything downstream of it; upstream outputs are reused, so every node upstream
 * must have succeeded (an unknown node is a 400, an upstream that did not succeed a 409).
 */
export function nodesToRerun(
  request: Rerun,
  status: Readonly<Record<string, NodeStatus>>,
  graph: { descendants(node: string): Iterable<string>; ancestors(node: string): Iterable<string> },
): string[] {
  const names = Object.keys(status);
  if (request.mode === "all") return names;
  const chosen = new Set<string>();
  const withDescendants = (name: string) => {
    chosen.add(name);
    for (const d of graph.descendants(name)) chosen.add(d);
  };
  if (request.mode === "from") {
    const { node } = request;
    if (!Object.hasOwn(status, node)) throw badRequest(`node '${node}' is not a node of this instance's workflow`, [{ path: "node", message: `no node named '${node}'` }]);
    for (const upstream of graph.ancestors(node)) {
      if (status[upstream] !== "succeeded") {
        throw conflict(`node '${node}' reuses the outputs of '${upstream}', which is ${status[upstream]}: rerun from '${upstream}' or rerun failed nodes`);
      }
    }
    withDescendants(node);
  } else {
    for (const name of names) if (status[name] === "failed" || status[name] === "terminated") withDescendants(name);
  }
  return names.filter((n) => chosen.has(n));
}

/** Node statuses that a terminate stops. */
export const STOPPABLE: ReadonlySet<NodeStatus> = new Set(["pending", "queued", "running"]);

/** A terminate of a finished instance, live or only in history: the same refusal. */
export const nothingToTerminate = (instanceId: string, status: string) => conflict(`instance ${instanceId} already ${status}; nothing to terminate`);
