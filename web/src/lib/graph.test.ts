import { describe, expect, it } from "vitest";
import type { WorkflowDefinition } from "./api/types.ts";
import { buildEdges, buildNodes, nodeWeights, reconcileNodes } from "./graph.ts";
import { emptyDefinition } from "./workflow-doc.ts";

const node = (name: string, priority?: 1 | 3 | 5 | 7 | 8, code = "") => ({ name, type: "shell", code, params: {}, timeoutSeconds: 60, ...(priority ? { priority } : {}) });

function diamond(weighting: "none" | "downward"): WorkflowDefinition {
  return {
    ...emptyDefinition("wf"),
    policy: { ...emptyDefinition().policy, priority: 5, weighting },
    nodes: [node("a", 8), node("b", 1), node("c"), node("d", 3)],
    edges: [{ from: "a", to: "b" }, { from: "a", to: "c" }, { from: "b", to: "d" }, { from: "c", to: "d" }],
  };
}

describe("nodeWeights", () => {
  it("adds every ancestor's priority once under downward weighting", () => {
    // d: 3 + a 8 + b 1 + c 5 (a counted once although two paths lead from it)
    expect(nodeWeights(diamond("downward"))).toEqual({ a: 8, b: 9, c: 13, d: 17 });
  });

  it("is null while the edges form a cycle", () => {
    const cyclic = { ...diamond("downward"), edges: [{ from: "a", to: "b" }, { from: "b", to: "a" }] };
    expect(nodeWeights(cyclic)).toBeNull();
  });
});

describe("buildNodes", () => {
  it("puts each node where it was placed, with its effective priority, weight and first code line", () => {
    const def = { ...diamond("downward"), nodes: [node("a", 8, "# comment\necho one\necho two"), ...diamond("downward").nodes.slice(1)] };
    const [a, , c] = buildNodes(def, new Map([["a", { x: 10, y: 20 }]]));
    expect(a).toMatchObject({ id: "a", type: "shell", position: { x: 10, y: 20 }, data: { priority: 8, weight: 8, summary: "echo one", status: null } });
    expect(c!.data).toMatchObject({ priority: 5, weight: 13 });
    expect(c!.position).toEqual({ x: 0, y: 0 });
  });

  it("shows no weight under 'none' weighting", () => {
    expect(buildNodes(diamond("none"), new Map()).map((n) => n.data.weight)).toEqual([null, null, null, null]);
  });

  it("carries validation errors and run states onto the nodes", () => {
    const [a, b] = buildNodes(diamond("none"), new Map(), {
      errors: new Map([["a", ["code: unresolved ${x}"]]]),
      runs: new Map([["b", { status: "running", attempt: 2 }]]),
    });
    expect(a!.data.errors).toEqual(["code: unresolved ${x}"]);
    expect(b!.data).toMatchObject({ status: "running", attempt: 2 });
  });
});

describe("buildEdges", () => {
  it("gives each edge a stable id, marks invalid ones and animates edges out of running nodes", () => {
    const edges = buildEdges(diamond("none"), { edgeErrors: new Map([["b>d", ["cycle"]]]), runs: new Map([["a", { status: "running", attempt: 1 }]]) });
    expect(edges.map((e) => e.id)).toEqual(["e:a>b", "e:a>c", "e:b>d", "e:c>d"]);
    expect(edges[2]!.class).toBe("edge-invalid");
    expect(edges[0]!.animated).toBe(true);
    expect(edges[2]!.animated).toBe(false);
  });

  it("labels the edges a branch node chooses", () => {
    const def = { ...diamond("none"), nodes: diamond("none").nodes.map((n) => (n.name === "a" ? { ...n, type: "branch", conditions: [{ when: "x > 1", to: "b" }, { when: "default", to: "c" }] } : n)) };
    expect(buildEdges(def).slice(0, 2).map((e) => e.label)).toEqual(["when", "default"]);
  });
});

describe("reconcileNodes", () => {
  it("keeps the previous object of an unchanged node (Svelte Flow keeps its size and selection)", () => {
    const first = buildNodes(diamond("none"), new Map()).map((n) => ({ ...n, measured: { width: 200, height: 60 }, selected: true }));
    const next = reconcileNodes(first, buildNodes(diamond("none"), new Map()));
    expect(next[0]).toBe(first[0]);
  });

  it("replaces position and data of a changed node but keeps what Svelte Flow measured", () => {
    const first = buildNodes(diamond("none"), new Map()).map((n) => ({ ...n, measured: { width: 200, height: 60 } }));
    const next = reconcileNodes(first, buildNodes(diamond("none"), new Map([["a", { x: 5, y: 5 }]]), { runs: new Map([["a", { status: "failed", attempt: 1 }]]) }));
    expect(next[0]).not.toBe(first[0]);
    expect(next[0]).toMatchObject({ position: { x: 5, y: 5 }, measured: { width: 200, height: 60 }, data: { status: "failed" } });
    expect(next[1]).toBe(first[1]);
  });
});
