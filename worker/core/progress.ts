// DAG progression of one instance: which nodes become ready or skipped, and when the instance ends.

export type NodeStatus = "pending" | "queued" | "running" | "succeeded" | "failed" | "skipped" | "terminated";
/** `skipped`: it never ran, because of an overlap policy or its waiting timeout (DESIGN §2.9). */
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];
export const INSTANCE_STATUSES = ["waiting", "running", "succeeded", "failed", "terminated", "skipped"] as const;

export const FINISHED_NODE: ReadonlySet<NodeStatus> = new Set(["succeeded", "failed", "skipped", "terminated"]);
export const FINISHED_INSTANCE: ReadonlySet<InstanceStatus> = new Set(["succeeded", "failed", "terminated", "skipped"]);

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

/** Why a node a branch did not choose is skipped (its history says which way the branch went). */
export const notChosenReason = (branch: string) => `branch '${branch}' chose another path`;

/** What an upstream edge carries: delivered (run me), blocked (the upstream did not succeed or chose another path) or open. */
type EdgeState = "delivered" | "failed" | "not-chosen" | "open";

/** What becomes of one pending node given its upstream nodes' statuses now. */
export type PendingVerdict = { kind: "ready" } | { kind: "skip"; reason: string } | { kind: "wait" };

/**
 * The rule for one pending node (DESIGN §2.6): a merge runs once no upstream is open and one delivered;
 * any other node runs once every upstream delivered, and is skipped by the first blocked one.
 */
export function decidePending(
  dag: DagShape,
  name: string,
  statusOf: (node: string) => NodeStatus,
  chosenOf: (branch: string) => readonly string[] | undefined,
): PendingVerdict {
  const edge = (from: string): EdgeState => {
    const s = statusOf(from);
    if (s === "succeeded") return dag.branch.has(from) && !(chosenOf(from) ?? []).includes(name) ? "not-chosen" : "delivered";
    return FINISHED_NODE.has(s) ? "failed" : "open";
  };
  const states = (dag.upstream[name] ?? []).map((u) => ({ from: u, state: edge(u) }));
  if (dag.merge.has(name)) {
    if (states.some((e) => e.state === "open")) return { kind: "wait" };
    if (states.length === 0 || states.some((e) => e.state === "delivered")) return { kind: "ready" };
    return { kind: "skip", reason: "no upstream node of this merge succeeded" };
  }
  const blocked = states.find((e) => e.state === "failed" || e.state === "not-chosen");
  if (blocked) return { kind: "skip", reason: blocked.state === "not-chosen" ? notChosenReason(blocked.from) : `upstream node '${blocked.from}' did not succeed` };
  return states.every((e) => e.state === "delivered") ? { kind: "ready" } : { kind: "wait" };
}

/** The instance's final status once every node is finished. */
export function finalStatus(statuses: Iterable<NodeStatus>): Exclude<InstanceStatus, "waiting" | "running"> {
  const all = new Set(statuses);
  return all.has("terminated") ? "terminated" : all.has("failed") ? "failed" : "succeeded";
}

/**
 * Decides the next step of an instance from its node statuses and its branch choices (branch node →
 * the downstream nodes it chose). Pure: the caller applies the result and calls again until nothing
 * changes (a node that completes inline can make more ready). The scheduler keeps the same decisions
 * incrementally (core/scheduler/instance-plan.ts); this whole-DAG form is their reference.
 */
export function planProgress(
  dag: DagShape,
  status: Readonly<Record<string, NodeStatus>>,
  chosen: Readonly<Record<string, readonly string[]>> = {},
): Progress {
  const now: Record<string, NodeStatus> = { ...status };
  const ready: string[] = [];
  const skipped: Progress["skipped"] = [];
  // Topological order lets one pass cascade skips all the way down.
  for (const name of dag.order) {
    if (now[name] !== "pending") continue;
    const verdict = decidePending(dag, name, (n) => now[n]!, (b) => chosen[b]);
    if (verdict.kind === "ready") ready.push(name);
    else if (verdict.kind === "skip") {
      now[name] = "skipped";
      skipped.push({ name, reason: verdict.reason });
    }
  }
  const progress: Progress = { ready, skipped };
  if (ready.length === 0 && dag.order.every((n) => FINISHED_NODE.has(now[n]!))) progress.finished = finalStatus(dag.order.map((n) => now[n]!));
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
