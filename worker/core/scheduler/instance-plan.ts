// planProgress kept incrementally: a transition re-decides only the nodes below what changed.
import { decidePending, finalStatus, FINISHED_NODE, type DagShape, type NodeStatus, type Progress } from "../progress.ts";

/** A DAG's shape with what the incremental plan looks up: topological positions and downstream nodes. */
export interface IndexedDag {
  shape: DagShape;
  position: ReadonlyMap<string, number>;
  downstream: Readonly<Record<string, readonly string[]>>;
}

export function indexDag(shape: DagShape): IndexedDag {
  const position = new Map(shape.order.map((name, i) => [name, i]));
  const downstream: Record<string, string[]> = Object.fromEntries(shape.order.map((n) => [n, []]));
  for (const name of shape.order) for (const up of shape.upstream[name] ?? []) downstream[up]!.push(name);
  return { shape, position, downstream };
}

/**
 * The decisions of `planProgress` for one instance, kept between transitions. A node is decided again
 * only when it or one of its upstream nodes changed (it is then "dirty"), in topological order so
 * skips cascade in one pass; so a transition costs what it touches, not the size of the DAG.
 * `plan()` answers exactly what `planProgress` would answer for the same statuses and choices.
 */
export class InstancePlan {
  private readonly dag: IndexedDag;
  private readonly status = new Map<string, NodeStatus>();
  private readonly chosen = new Map<string, readonly string[]>();
  /** Pending nodes to decide again, by topological position. */
  private readonly dirty = new MinHeap();
  /** Pending nodes whose inputs are satisfied (some wait for a retry's delay). */
  private readonly ready = new Set<string>();
  private finished = 0;

  constructor(dag: IndexedDag, status: Readonly<Record<string, NodeStatus>>, chosen: Readonly<Record<string, readonly string[]>> = {}) {
    this.dag = dag;
    for (const name of dag.shape.order) {
      const s = status[name]!;
      this.status.set(name, s);
      if (FINISHED_NODE.has(s)) this.finished++;
      if (s === "pending") this.dirty.push(dag.position.get(name)!);
    }
    for (const [name, c] of Object.entries(chosen)) this.chosen.set(name, c);
  }

  statusOf(name: string): NodeStatus {
    return this.status.get(name)!;
  }

  /** Records a node's new status (and, for a branch node, its choice; null clears it). */
  set(name: string, status: NodeStatus, chosen?: readonly string[] | null): void {
    if (chosen !== undefined) {
      if (chosen === null) this.chosen.delete(name);
      else this.chosen.set(name, chosen);
    }
    const before = this.status.get(name)!;
    if (before === status) return;
    this.status.set(name, status);
    this.finished += (FINISHED_NODE.has(status) ? 1 : 0) - (FINISHED_NODE.has(before) ? 1 : 0);
    if (status === "pending") this.dirty.push(this.dag.position.get(name)!);
    else this.ready.delete(name);
    // What a node delivers downstream changes only when it finishes or starts over.
    if (FINISHED_NODE.has(status) || FINISHED_NODE.has(before)) for (const d of this.dag.downstream[name]!) this.dirty.push(this.dag.position.get(d)!);
  }

  /** Decides the dirty nodes: marks skipped ones skipped here and answers as `planProgress` does. */
  plan(): Progress {
    const skipped: Progress["skipped"] = [];
    const order = this.dag.shape.order;
    for (let at = this.dirty.pop(); at !== undefined; at = this.dirty.pop()) {
      const name = order[at]!;
      if (this.status.get(name) !== "pending") continue;
      const verdict = decidePending(this.dag.shape, name, (n) => this.status.get(n)!, (b) => this.chosen.get(b));
      if (verdict.kind === "ready") this.ready.add(name);
      else if (verdict.kind === "wait") this.ready.delete(name);
      else {
        skipped.push({ name, reason: verdict.reason });
        this.set(name, "skipped");
      }
    }
    const ready = [...this.ready].sort((a, b) => this.dag.position.get(a)! - this.dag.position.get(b)!);
    const progress: Progress = { ready, skipped };
    if (ready.length === 0 && this.finished === order.length) progress.finished = finalStatus(this.status.values());
    return progress;
  }
}

/** Topological positions to decide, smallest first, each once. */
class MinHeap {
  private readonly items: number[] = [];
  private readonly queued = new Set<number>();

  push(value: number): void {
    if (this.queued.has(value)) return;
    this.queued.add(value);
    const a = this.items;
    a.push(value);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= a[i]!) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }

  pop(): number | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < a.length && a[l]! < a[min]!) min = l;
        if (r < a.length && a[r]! < a[min]!) min = r;
        if (min === i) break;
        [a[min], a[i]] = [a[i]!, a[min]!];
        i = min;
      }
    }
    this.queued.delete(top);
    return top;
  }
}
