// DAG progression of one instance: which nodes become ready or skipped, and when the instance ends.

export type NodeStatus = "pending" | "queued" | "running" | "succeeded" | "failed" | "skipped" | "terminated";
export type InstanceStatus = "waiting" | "running" | "succeeded" | "failed" | "terminated";

export const FINISHED_NODE: ReadonlySet<NodeStatus> = new Set(["succeeded", "failed", "skipped", "terminated"]);
export const FINISHED_INSTANCE: ReadonlySet<InstanceStatus> = new Set(["succeeded", "failed", "terminated"]);

export interface DagShape {
  /** Node names in a topological order. */
  order: readonly string[];
  upstream: Readonly<Record<string, readonly string[]>>;
}

export interface Progress {
  /** Pending nodes whose upstream all succeeded: start them now. */
  ready: string[];
  /** Pending nodes below a failed, skipped or terminated node: they will never run. */
  skipped: string[];
  /** Set when nothing is left to run: the instance's final status. */
  finished?: Exclude<InstanceStatus, "waiting" | "running">;
}

/**
 * Decides the next step of an instance from its node statuses. Pure: the caller applies the result
 * and calls again until nothing changes (a noop node that completes inline can make more ready).
 */
export function planProgress(dag: DagShape, status: Readonly<Record<string, NodeStatus>>): Progress {
  const now: Record<string, NodeStatus> = { ...status };
  const ready: string[] = [];
  const skipped: string[] = [];
  // Topological order lets one pass cascade skips all the way down.
  for (const name of dag.order) {
    if (now[name] !== "pending") continue;
    const ups = dag.upstream[name] ?? [];
    if (ups.some((u) => now[u] === "failed" || now[u] === "skipped" || now[u] === "terminated")) {
      now[name] = "skipped";
      skipped.push(name);
    } else if (ups.every((u) => now[u] === "succeeded")) {
      ready.push(name);
    }
  }
  const progress: Progress = { ready, skipped };
  if (ready.length === 0 && dag.order.every((n) => FINISHED_NODE.has(now[n]!))) {
    const all = dag.order.map((n) => now[n]);
    progress.finished = all.includes("terminated") ? "terminated" : all.includes("failed") ? "failed" : "succeeded";
  }
  return progress;
}

export function dagShape(nodes: readonly { name: string }[], edges: readonly { from: string; to: string }[], order: readonly string[]): DagShape {
  const upstream: Record<string, string[]> = Object.fromEntries(nodes.map((n) => [n.name, []]));
  for (const e of edges) upstream[e.to]!.push(e.from);
  return { order, upstream };
}
