import { describe, expect, it } from "vitest";
import type { WorkflowDefinition } from "./api/types.ts";
import {
  connect,
  connectionProblem,
  definitionText,
  definitionToSave,
  emptyDefinition,
  fromNodeOnward,
  removeEdges,
  removeNodes,
  renameNode,
  splitLayout,
  updateNode,
  withLayout,
} from "./workflow-doc.ts";

const node = (name: string, extra: Partial<WorkflowDefinition["nodes"][number]> = {}) => ({ name, type: "shell", code: "", params: {}, timeoutSeconds: 3600, ...extra });
const def = (nodes = [node("a"), node("b"), node("c")], edges = [{ from: "a", to: "b" }]): WorkflowDefinition => ({ ...emptyDefinition("wf"), nodes, edges });

describe("connect", () => {
  it("adds an edge between two nodes", () => {
    const result = connect(def(), { from: "b", to: "c" });
    expect(result.ok && result.def.edges).toEqual([{ from: "a", to: "b" }, { from: "b", to: "c" }]);
  });

  it("refuses an edge that closes a cycle, naming the cycle", () => {
    expect(connectionProblem(def(undefined, [{ from: "a", to: "b" }, { from: "b", to: "c" }]), { from: "c", to: "a" })).toMatch(/cycle: .*a.*b.*c.*a|cycle: .*c → a/);
  });

  it("refuses a self-loop, a duplicate and an unknown node", () => {
    expect(connectionProblem(def(), { from: "a", to: "a" })).toMatch(/itself/);
    expect(connectionProblem(def(), { from: "a", to: "b" })).toMatch(/exists already/);
    expect(connectionProblem(def(), { from: "a", to: "zz" })).toMatch(/both ends/);
  });
});

describe("renameNode", () => {
  it("renames the node in edges, branch conditions and output references of other nodes", () => {
    const before = def(
      [
        node("extract"),
        node("route", { type: "branch", conditions: [{ when: "default", to: "extract" }] }),
        node("load", { code: 'echo "${nodes.extract.outputs.rows} ${nodes.extracted.outputs.x}"', params: { n: "${nodes.extract.outputs.n}" } }),
      ],
      [{ from: "extract", to: "load" }],
    );
    const result = renameNode(before, "extract", "pull");
    if (!result.ok) throw new Error(result.reason);
    expect(result.def.nodes.map((n) => n.name)).toEqual(["pull", "route", "load"]);
    expect(result.def.edges).toEqual([{ from: "pull", to: "load" }]);
    expect(result.def.nodes[1]!.conditions).toEqual([{ when: "default", to: "pull" }]);
    // Only the exact node name is rewritten, not a longer name that starts with it.
    expect(result.def.nodes[2]!.code).toBe('echo "${nodes.pull.outputs.rows} ${nodes.extracted.outputs.x}"');
    expect(result.def.nodes[2]!.params).toEqual({ n: "${nodes.pull.outputs.n}" });
  });

  it("refuses a name that is taken", () => {
    expect(renameNode(def(), "a", "b")).toEqual({ ok: false, reason: "a node named b already exists" });
  });
});

describe("removeNodes and removeEdges", () => {
  it("removes nodes with their edges and the branch conditions that led to them", () => {
    const before = def([node("a", { type: "branch", conditions: [{ when: "x > 1", to: "b" }, { when: "default", to: "c" }] }), node("b"), node("c")], [{ from: "a", to: "b" }, { from: "a", to: "c" }]);
    const after = removeNodes(before, ["b"]);
    expect(after.nodes.map((n) => n.name)).toEqual(["a", "c"]);
    expect(after.edges).toEqual([{ from: "a", to: "c" }]);
    expect(after.nodes[0]!.conditions).toEqual([{ when: "default", to: "c" }]);
  });

  it("removes edges by key", () => {
    expect(removeEdges(def(), ["a>b"]).edges).toEqual([]);
  });
});

describe("definitionToSave", () => {
  it("keeps http only on http nodes and conditions only on branch nodes, and drops an empty retry", () => {
    const saved = definitionToSave(
      def([
        node("a", { http: { method: "GET", url: "https://x", headers: {} }, retry: { count: 0, delaySeconds: 0 } }),
        node("b", { type: "http", http: { method: "GET", url: "https://x", headers: {} }, conditions: [] }),
        node("c", { type: "branch" }),
      ]),
    );
    expect(saved.nodes[0]).toEqual(node("a"));
    expect(saved.nodes[1]).toEqual(node("b", { type: "http", http: { method: "GET", url: "https://x", headers: {} } }));
    expect(saved.nodes[2]!.conditions).toEqual([]);
  });

  it("drops fields set to undefined, so 'no priority' is an absent field", () => {
    const updated = updateNode(def([node("a", { priority: 7 })]), "a", { priority: undefined });
    expect("priority" in updated.nodes[0]!).toBe(false);
  });
});

describe("definitionText", () => {
  it("is the same for the same definition written with keys in another order", () => {
    const a = def();
    const b = { ...a, policy: Object.fromEntries(Object.entries(a.policy).reverse()) };
    expect(definitionText(b)).toBe(definitionText(a));
    expect(definitionText(updateNode(a, "a", { code: "x" }))).not.toBe(definitionText(a));
  });
});

describe("layout in the draft", () => {
  it("stores the positions of the definition's nodes only, in whole pixels", () => {
    const stored = withLayout(def(), new Map([["a", { x: 10.4, y: -3.6 }], ["c", { x: 0, y: 120 }], ["removed", { x: 5, y: 5 }]]));
    expect(stored.ui).toEqual({ positions: { a: { x: 10, y: -4 }, c: { x: 0, y: 120 } } });
  });

  it("splits a stored draft into the definition to edit and its positions, and back", () => {
    const stored = withLayout(def(), new Map([["a", { x: 1, y: 2 }], ["b", { x: 3, y: 4 }]]));
    const { definition, positions } = splitLayout(stored);
    expect(definition).toEqual(def());
    expect("ui" in definition).toBe(false);
    expect([...positions]).toEqual([["a", { x: 1, y: 2 }], ["b", { x: 3, y: 4 }]]);
    expect(definitionText(withLayout(definition, positions))).toBe(definitionText(stored));
  });

  it("ignores positions of unknown nodes or without numbers, and a draft without a layout", () => {
    const odd = { ...def(), ui: { positions: { ghost: { x: 1, y: 1 }, a: { x: Number.NaN, y: 0 }, b: { x: 1, y: 2 } } } };
    expect([...splitLayout(odd).positions]).toEqual([["b", { x: 1, y: 2 }]]);
    expect(splitLayout(def()).positions.size).toBe(0);
  });

  it("makes a moved node a change to save", () => {
    const before = withLayout(def(), new Map([["a", { x: 0, y: 0 }]]));
    const after = withLayout(def(), new Map([["a", { x: 40, y: 0 }]]));
    expect(definitionText(after)).not.toBe(definitionText(before));
  });
});

describe("fromNodeOnward", () => {
  it("lists the node and everything downstream of it once, not its upstream or siblings", () => {
    const edges = [
      { from: "a", to: "b" },
      { from: "a", to: "c" },
      { from: "b", to: "d" },
      { from: "c", to: "d" },
      { from: "d", to: "e" },
    ];
    expect(fromNodeOnward(edges, "b")).toEqual(["b", "d", "e"]);
    expect(fromNodeOnward(edges, "e")).toEqual(["e"]);
    expect(fromNodeOnward(edges, "a")).toEqual(["a", "b", "c", "d", "e"]);
  });
});
