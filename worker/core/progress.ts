// DAG progression of one instance: which nodes become ready or skipped, and when the instance ends.

export type NodeStatus = "pending" | "queued" | "running" | "succeeded" | "failed" | "skipped" | "terminated";
export type InstanceStatus = "waiting" | "running" | "succeeded" | "failed" | "terminated";

export const FINISHED_NODE: ReadonlySet<NodeStatus> = new Set(["succeeded", "failed", "skipped", "terminated"]);
export const FINISHED_INSTANCE: ReadonlySet<InstanceStatus> = new Set(["succeeded", "failed", "terminated"]);

export interface DagShape {
  /** Node names in a topological order. */
  order: readonly string[];
  upstream: Readonly<Record<string, readonly string[]>>;
  /** Merge nodes run when every upstream is done and at least one upstream edge delivered. */
  merge: ReadonlySet<string>;
  /** Branch nodes deliver only along the edges their conditions chose. */
  branch: ReadonlySet<string>;
}

export interface Progress {
  /** Pending nodes whose inputs are satisfied: start them now. */
  ready: string[];
  /** Pending nodes that will never run, with the reason a person reads in the node's error. */
  skipped: { name: string; reason: string }[];
  /** Set when nothing is left to run: the instance's final status. */
  finished?: Exclude<InstanceStatus, "waiting" | "running">;
}

/** What an upstream edge carries: delivered (run me), blocked (the upstream did not succeed or chose another path) or open. */
type EdgeState = "delivered" | "failed" | "not-chosen" | "open";

/**
 * Decides the next step of an instance from its node statuses and its branch choices (branch node →
 * the downstream nodes it chose). Pure: the caller applies the result and calls again until nothing
 * changes (a node that completes inline can make more ready).
 */
export function planProgress(
  dag: DagShape,
  status: Readonly<Record<string, NodeStatus>>,
  chosen: Readonly<Record<string, readonly string[]>> = {},
): Progress {
  const now: Record<string, NodeStatus> = { ...status };
  const ready: string[] = [];
  const skipped: Progress["skipped"] = [];
  const edge = (from: string, to: string): EdgeState => {
    const s = now[from]!;
    if (s === "succeeded") return dag.branch.has(from) && !(chosen[from] ?? []).includes(to) ? "not-chosen" : "delivered";
    return FINISHED_NODE.has(s) ? "failed" : "open";
  };
  // Topological order lets one pass cascade skips all the way down.
  for (const name of dag.order) {
    if (now[name] !== "pending") continue;
    const states = (dag.upstream[name] ?? []).map((u) => ({ from: u, state: edge(u, name) }));
    const skip = (reason: string) => {
      now[name] = "skipped";
      skipped.push({ name, reason });
    };
    if (dag.merge.has(name)) {
      if (states.some((e) => e.state === "open")) continue;
      if (states.length === 0 || states.some((e) => e.state === "delivered")) ready.push(name);
      else skip("no upstream node of this merge succeeded");
      continue;
    }
    const blocked = states.find((e) => e.state === "failed" || e.state === "not-chosen");
    if (blocked) skip(blocked.state === "not-chosen" ? `branch '${blocked.from}' chose another path` : `upstream node '${blocked.from}' did not succeed`);
    else if (states.every((e) => e.state === "delivered")) ready.push(name);
  }
  const progress: Progress = { ready, skipped };
  if (ready.length === 0 && dag.order.every((n) => FINISHED_NODE.has(now[n]!))) {
    const all = dag.order.map((n) => now[n]);
    progress.finished = all.includes("terminated") ? "terminated" : all.includes("failed") ? "failed" : "succeeded";
  }
  return progress;
}

export function dagShape(
  nodes: readonly { name: string; type: string }[],
  edges: readonly { from: string; to: string }[],
  order: readonly string[],
): DagShape {
  const upstream: Record<string, string[]> = Object.fromEntries(nodes.map((n) => [n.name, []]));
  for (const e of edges) upstream[e.to]!.push(e.from);
  return {
    order,
    upstream,
    merge: new Set(nodes.filter((n) => n.type === "merge").map((n) => n.name)),
    branch: new Set(nodes.filter((n) => n.type === "branch").map((n) => n.name)),
  };
}
