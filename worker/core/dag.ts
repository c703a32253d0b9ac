// The workflow DAG: neighbours, ancestors, descendants, topological order, cycles and downward weights (DESIGN §2.4).
import { Graph, alg } from "@dagrejs/graphlib";
import type { Edge, WorkflowDefinition } from "./definition.ts";

/**
 * graphlib keys its nodes by plain-object properties, so a node named `constructor` or `toString`
 * (both valid node names) would collide with Object.prototype. Its graphs therefore hold node
 * indices ("0", "1", …); integer-like keys also enumerate in ascending order, so graphlib hands
 * nodes back in definition order.
 */
const id = (index: number) => String(index);
const indexOf = (graphId: string) => Number(graphId);

/** One bit per node: 400 nodes are 13 words, so ancestor unions stay cheap even on dense DAGs. */
type Bits = Uint32Array;
const words = (n: number) => Math.ceil(n / 32);
const setBit = (bits: Bits, i: number) => {
  bits[i >>> 5]! |= 1 << (i & 31);
};
const orInto = (target: Bits, source: Bits) => {
  for (let w = 0; w < target.length; w++) target[w]! |= source[w]!;
};

/** "a → b → c → a": how a cycle reads in an error message. */
export const formatCycle = (cycle: readonly string[]) => [...cycle, cycle[0]].join(" → ");

export class Dag {
  readonly nodes: readonly string[];
  readonly #index = new Map<string, number>();
  readonly #graph = new Graph();
  #order?: number[];
  #ancestors?: Bits[];
  #descendants?: Bits[];

  /** Edges must name known nodes; duplicates are harmless. A cycle surfaces on first use of an order. */
  constructor(nodes: readonly string[], edges: readonly Edge[]) {
    this.nodes = nodes;
    nodes.forEach((name, i) => {
      if (this.#index.has(name)) throw new Error(`node name '${name}' appears twice`);
      this.#index.set(name, i);
      this.#graph.setNode(id(i));
    });
    for (const edge of edges) this.#graph.setEdge(id(this.#at(edge.from)), id(this.#at(edge.to)));
  }

  static fromDefinition(def: Pick<WorkflowDefinition, "nodes" | "edges">): Dag {
    return new Dag(
      def.nodes.map((n) => n.name),
      def.edges,
    );
  }

  has(name: string): boolean {
    return this.#index.has(name);
  }

  /** Direct predecessors, in definition order. */
  upstream(name: string): string[] {
    return this.#names(this.#graph.predecessors(id(this.#at(name))) ?? []);
  }

  /** Direct successors, in definition order. */
  downstream(name: string): string[] {
    return this.#names(this.#graph.successors(id(this.#at(name))) ?? []);
  }

  /** Every node with a path to `name`, each once, in definition order. */
  ancestors(name: string): Set<string> {
    return this.#setOf(this.#closures().ancestors[this.#at(name)]!);
  }

  /** Every node reachable from `name`, each once, in definition order. */
  descendants(name: string): Set<string> {
    return this.#setOf(this.#closures().descendants[this.#at(name)]!);
  }

  /** Each node after all of its ancestors. */
  topologicalOrder(): string[] {
    return this.#topological().map((i) => this.nodes[i]!);
  }

  /** Nodes without upstream: where an instance starts. */
  roots(): string[] {
    return this.#names(this.#graph.sources());
  }

  /** Nodes without downstream: when they are settled, the instance is. */
  leaves(): string[] {
    return this.#names(this.#graph.sinks());
  }

  #at(name: string): number {
    const i = this.#index.get(name);
    if (i === undefined) throw new Error(`'${name}' is not a node of this workflow`);
    return i;
  }

  #names(graphIds: readonly string[]): string[] {
    return graphIds.map((g) => this.nodes[indexOf(g)]!);
  }

  #setOf(bits: Bits): Set<string> {
    const out = new Set<string>();
    for (let i = 0; i < this.nodes.length; i++) if (bits[i >>> 5]! & (1 << (i & 31))) out.add(this.nodes[i]!);
    return out;
  }

  #topological(): number[] {
    if (!this.#order) {
      try {
        this.#order = alg.topsort(this.#graph).map(indexOf);
      } catch (error) {
        if (!(error instanceof alg.CycleException)) throw error;
        const cycle = findCycle(this.nodes, this.#graph.edges().map((e) => ({ from: this.nodes[indexOf(e.v)]!, to: this.nodes[indexOf(e.w)]! })));
        throw new Error(`not a DAG: the edges form a cycle: ${formatCycle(cycle ?? [])}`);
      }
    }
    return this.#order;
  }

  /**
   * Transitive closures as bitsets, one pass each way in topological order: O(E · V/32), where
   * walking every path would be exponential in a diamond-rich graph.
   */
  #closures(): { ancestors: Bits[]; descendants: Bits[] } {
    if (!this.#ancestors || !this.#descendants) {
      const order = this.#topological();
      const size = words(this.nodes.length);
      const ancestors = this.nodes.map(() => new Uint32Array(size));
      const descendants = this.nodes.map(() => new Uint32Array(size));
      for (const v of order) {
        for (const p of this.#graph.predecessors(id(v)) ?? []) {
          orInto(ancestors[v]!, ancestors[indexOf(p)]!);
          setBit(ancestors[v]!, indexOf(p));
        }
      }
      for (const v of [...order].reverse()) {
        for (const s of this.#graph.successors(id(v)) ?? []) {
          orInto(descendants[v]!, descendants[indexOf(s)]!);
          setBit(descendants[v]!, indexOf(s));
        }
      }
      this.#ancestors = ancestors;
      this.#descendants = descendants;
    }
    return { ancestors: this.#ancestors, descendants: this.#descendants };
  }
}

/**
 * One cycle per strongly connected component, each as node names in edge order, e.g.
 * ["a", "b", "c"] for a → b → c → a. Edges naming unknown nodes are ignored: they are reported
 * on their own. Each cycle is the shortest one through the component's earliest-defined node, so
 * the message names as few nodes as possible.
 */
export function findCycles(nodes: readonly string[], edges: readonly Edge[]): string[][] {
  const index = new Map<string, number>();
  nodes.forEach((name, i) => {
    if (!index.has(name)) index.set(name, i);
  });
  const graph = new Graph();
  for (const i of index.values()) graph.setNode(id(i));
  for (const { from, to } of edges) {
    const f = index.get(from);
    const t = index.get(to);
    if (f !== undefined && t !== undefined) graph.setEdge(id(f), id(t));
  }
  return alg
    .findCycles(graph)
    .map((component) => shortestCycleThrough(graph, component.map(indexOf)).map((i) => nodes[i]!))
    .sort((x, y) => index.get(x[0]!)! - index.get(y[0]!)!);
}

export function findCycle(nodes: readonly string[], edges: readonly Edge[]): string[] | null {
  return findCycles(nodes, edges)[0] ?? null;
}

/** Breadth-first search inside one strongly connected component, back to its earliest node. */
function shortestCycleThrough(graph: Graph, component: number[]): number[] {
  const inside = new Set(component);
  const start = Math.min(...component);
  const parent = new Map<number, number>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head]!;
    for (const s of (graph.successors(id(u)) ?? []).map(indexOf)) {
      if (s === start) {
        const path = [u];
        while (path[0] !== start) path.unshift(parent.get(path[0]!)!);
        return path;
      }
      if (inside.has(s) && !parent.has(s)) {
        parent.set(s, u);
        queue.push(s);
      }
    }
  }
  return [start]; // unreachable: every node of a component lies on a cycle
}

/**
 * Node weights per DESIGN §2.4. p(n) = node priority, else workflow priority. "downward":
 * weight(n) = p(n) + Σ p(a) over all ancestors a, each counted once however many paths lead from
 * it; "none": every node has the same baseline weight, 0. Null-prototype record, so a node named
 * `__proto__` keeps its weight.
 */
export function downwardWeights(
  def: Pick<WorkflowDefinition, "nodes" | "edges" | "policy">,
  dag?: Dag,
): Record<string, number> {
  const weights: Record<string, number> = Object.create(null);
  if (def.policy.weighting === "none") {
    for (const node of def.nodes) weights[node.name] = 0;
    return weights;
  }
  dag ??= Dag.fromDefinition(def);
  const priority = new Map(def.nodes.map((n) => [n.name, n.priority ?? def.policy.priority]));
  for (const node of def.nodes) {
    let weight = priority.get(node.name)!;
    for (const ancestor of dag.ancestors(node.name)) weight += priority.get(ancestor)!;
    weights[node.name] = weight;
  }
  return weights;
}
