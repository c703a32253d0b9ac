// Tests for the workflow DAG: neighbours, closures, order, cycles and downward weights.
import { describe, expect, it } from "vitest";
import { Dag, downwardWeights, findCycle, findCycles, formatCycle } from "./dag.ts";
import { DefinitionSchema, type Edge, type WorkflowDefinitionInput } from "./definition.ts";

const edges = (...pairs: string[]): Edge[] =>
  pairs.map((pair) => {
    const [from, to] = pair.split(">");
    return { from: from!, to: to! };
  });

const definition = (input: Partial<WorkflowDefinitionInput> & Pick<WorkflowDefinitionInput, "nodes">) =>
  DefinitionSchema.parse({ name: "wf", ...input });

const shellNodes = (...names: string[]) => names.map((name) => ({ name, type: "shell" }));

/** s → m0..m(width-1) → t */
const fanOutFanIn = (width: number) => {
  const middle = Array.from({ length: width }, (_, i) => `m${i}`);
  return {
    nodes: ["s", ...middle, "t"],
    edges: middle.flatMap((m) => edges(`s>${m}`, `${m}>t`)),
  };
};

const chain = (length: number) => {
  const nodes = Array.from({ length }, (_, i) => `n${i}`);
  return { nodes, edges: nodes.slice(1).map((to, i) => ({ from: nodes[i]!, to })) };
};

describe("Dag", () => {
  const diamond = new Dag(["a", "b", "c", "d"], edges("a>b", "a>c", "b>d", "c>d"));

  it("lists direct upstream and downstream nodes in definition order", () => {
    expect(diamond.upstream("d")).toEqual(["b", "c"]);
    expect(diamond.downstream("a")).toEqual(["b", "c"]);
    expect(diamond.upstream("a")).toEqual([]);
  });

  it("lists every ancestor once, even when two paths lead from it", () => {
    expect([...diamond.ancestors("d")]).toEqual(["a", "b", "c"]);
    expect([...diamond.ancestors("a")]).toEqual([]);
  });

  it("lists every descendant once", () => {
    expect([...diamond.descendants("a")]).toEqual(["b", "c", "d"]);
    expect([...diamond.descendants("d")]).toEqual([]);
  });

  it("orders every node after all of its ancestors", () => {
    const dag = new Dag(["d", "c", "b", "a"], edges("a>b", "a>c", "b>d", "c>d"));
    const order = dag.topologicalOrder();
    expect(order).toHaveLength(4);
    for (const node of order) {
      for (const ancestor of dag.ancestors(node)) expect(order.indexOf(ancestor)).toBeLessThan(order.indexOf(node));
    }
  });

  it("names the roots and leaves", () => {
    const dag = new Dag(["x", "a", "b", "c"], edges("a>b", "b>c"));
    expect(dag.roots()).toEqual(["x", "a"]);
    expect(dag.leaves()).toEqual(["x", "c"]);
  });

  it("handles node names that are Object.prototype properties", () => {
    const dag = new Dag(["constructor", "toString", "__proto__"], edges("constructor>toString", "toString>__proto__"));
    expect(dag.topologicalOrder()).toEqual(["constructor", "toString", "__proto__"]);
    expect([...dag.ancestors("__proto__")]).toEqual(["constructor", "toString"]);
    expect(dag.roots()).toEqual(["constructor"]);
  });

  it("computes the closures of a 400-node chain", () => {
    const { nodes, edges: chainEdges } = chain(400);
    const dag = new Dag(nodes, chainEdges);
    expect(dag.ancestors("n399").size).toBe(399);
    expect(dag.descendants("n0").size).toBe(399);
    expect(dag.topologicalOrder()).toEqual(nodes);
  });

  it("computes the closures of a 398-wide fan-out/fan-in", () => {
    const { nodes, edges: fanEdges } = fanOutFanIn(398);
    const dag = new Dag(nodes, fanEdges);
    expect(dag.ancestors("t").size).toBe(399);
    expect(dag.upstream("t")).toHaveLength(398);
    expect([...dag.ancestors("m17")]).toEqual(["s"]);
  });

  it("rejects an edge to a node it does not know", () => {
    expect(() => new Dag(["a"], edges("a>b"))).toThrow("'b' is not a node of this workflow");
  });

  it("refuses an order when the edges form a cycle, naming it", () => {
    const dag = new Dag(["a", "b"], edges("a>b", "b>a"));
    expect(() => dag.topologicalOrder()).toThrow("the edges form a cycle: a → b → a");
  });
});

describe("findCycle", () => {
  it("returns null for a DAG", () => {
    expect(findCycle(["a", "b", "c"], edges("a>b", "b>c", "a>c"))).toBeNull();
  });

  it("returns the cycle's nodes in edge order", () => {
    expect(findCycle(["a", "b", "c", "d"], edges("a>b", "b>c", "c>a", "c>d"))).toEqual(["a", "b", "c"]);
  });

  it("starts at the earliest-defined node of the cycle and takes the shortest way round", () => {
    expect(findCycle(["x", "c", "b", "a"], edges("x>a", "a>b", "b>c", "c>a"))).toEqual(["c", "a", "b"]);
    expect(findCycle(["a", "b", "c", "d"], edges("a>b", "b>c", "c>d", "d>a", "b>a"))).toEqual(["a", "b"]);
  });

  it("reports a self-edge as a one-node cycle", () => {
    expect(findCycle(["a"], edges("a>a"))).toEqual(["a"]);
  });

  it("finds one cycle in each independent knot", () => {
    expect(findCycles(["a", "b", "c", "d"], edges("a>b", "b>a", "c>d", "d>c"))).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
  });

  it("ignores edges that name unknown nodes", () => {
    expect(findCycle(["a"], edges("a>zz", "zz>a"))).toBeNull();
  });

  it("reads as an arrow path back to its start", () => {
    expect(formatCycle(["a", "b", "c"])).toBe("a → b → c → a");
  });
});

describe("downwardWeights", () => {
  it("adds the priorities of all ancestors along a chain", () => {
    const def = definition({ policy: { weighting: "downward", priority: 5 }, nodes: shellNodes("a", "b", "c"), edges: edges("a>b", "b>c") });
    expect(downwardWeights(def)).toEqual({ a: 5, b: 10, c: 15 });
  });

  it("counts an ancestor once in a diamond", () => {
    const def = definition({
      policy: { weighting: "downward", priority: 1 },
      nodes: shellNodes("a", "b", "c", "d"),
      edges: edges("a>b", "a>c", "b>d", "c>d"),
    });
    // d: 1 + (a 1 + b 1 + c 1) — a is reached by two paths and still counted once.
    expect(downwardWeights(def)).toEqual({ a: 1, b: 2, c: 2, d: 4 });
  });

  it("uses a node's own priority over the workflow's", () => {
    const def = definition({
      policy: { weighting: "downward", priority: 3 },
      nodes: [{ name: "a", type: "shell", priority: 8 }, { name: "b", type: "shell" }, { name: "c", type: "shell", priority: 1 }],
      edges: edges("a>b", "b>c"),
    });
    expect(downwardWeights(def)).toEqual({ a: 8, b: 11, c: 12 });
  });

  it("gives every node the same baseline weight when weighting is none", () => {
    const def = definition({
      policy: { weighting: "none", priority: 7 },
      nodes: [{ name: "a", type: "shell", priority: 8 }, { name: "b", type: "shell" }],
      edges: edges("a>b"),
    });
    expect(downwardWeights(def)).toEqual({ a: 0, b: 0 });
  });

  it("weighs a 398-wide fan-out/fan-in by its distinct ancestors", () => {
    const { nodes, edges: fanEdges } = fanOutFanIn(398);
    const def = definition({ policy: { weighting: "downward", priority: 5 }, nodes: shellNodes(...nodes), edges: fanEdges });
    const weights = downwardWeights(def);
    expect(weights.s).toBe(5);
    expect(weights.m0).toBe(10);
    expect(weights.t).toBe(5 * 400);
  });

  it("weighs a 400-node chain", () => {
    const { nodes, edges: chainEdges } = chain(400);
    const def = definition({ policy: { weighting: "downward", priority: 1 }, nodes: shellNodes(...nodes), edges: chainEdges });
    const weights = downwardWeights(def);
    expect(weights.n399).toBe(400);
  });

  it("weighs a fully dense 400-node DAG (by closures: walking its paths would never finish within the test timeout)", () => {
    const names = Array.from({ length: 400 }, (_, i) => `n${i}`);
    const dense = names.flatMap((from, i) => names.slice(i + 1).map((to) => ({ from, to })));
    const def = definition({ policy: { weighting: "downward", priority: 1 }, nodes: shellNodes(...names), edges: dense });
    const dag = Dag.fromDefinition(def);
    const weights = downwardWeights(def, dag);
    expect(weights.n399).toBe(400);
    expect(weights.n200).toBe(201);
  }, 20_000);
});
