// Tests for comparing two versions of a workflow: structured changes and node code line diffs.
import { applyPatch } from "diff";
import { describe, expect, it } from "vitest";
import { DefinitionSchema, type WorkflowDefinitionInput } from "./definition.ts";
import { compareDefinitions } from "./versions.ts";

const base: WorkflowDefinitionInput = {
  name: "orders",
  description: "loads orders",
  params: { target: "ods_orders" },
  policy: { priority: 5, weighting: "downward", maxParallel: 10 },
  nodes: [
    { name: "extract", type: "shell", code: "echo one\necho two\necho three\n" },
    { name: "load", type: "python", code: "print('load')\n", priority: 7 },
  ],
  edges: [{ from: "extract", to: "load" }],
};

const version = (change: (def: WorkflowDefinitionInput) => void = () => {}) => {
  const copy = structuredClone(base);
  change(copy);
  return DefinitionSchema.parse(copy);
};

describe("compareDefinitions", () => {
  it("reports nothing for identical definitions", () => {
    const diff = compareDefinitions(version(), version());
    expect(diff).toEqual({
      summary: { identical: true, nodesAdded: 0, nodesRemoved: 0, nodesChanged: 0, edgesAdded: 0, edgesRemoved: 0, fieldsChanged: 0, layoutChanged: false },
      fields: [],
      nodes: { added: [], removed: [], changed: [] },
      edges: { added: [], removed: [] },
    });
  });

  it("lists added and removed nodes by name", () => {
    const after = version((d) => {
      d.nodes = [d.nodes[0]!, { name: "publish", type: "noop" }];
      d.edges = [];
    });
    const diff = compareDefinitions(version(), after);
    expect(diff.nodes.added).toEqual(["publish"]);
    expect(diff.nodes.removed).toEqual(["load"]);
    expect(diff.summary).toMatchObject({ identical: false, nodesAdded: 1, nodesRemoved: 1, nodesChanged: 0 });
  });

  it("lists added and removed edges", () => {
    const after = version((d) => {
      d.nodes.push({ name: "audit", type: "noop" });
      d.edges = [{ from: "extract", to: "audit" }];
    });
    const diff = compareDefinitions(version(), after);
    expect(diff.edges).toEqual({ added: [{ from: "extract", to: "audit" }], removed: [{ from: "extract", to: "load" }] });
    expect(diff.summary).toMatchObject({ edgesAdded: 1, edgesRemoved: 1 });
  });

  it("reports workflow-level policy and parameter changes with before and after", () => {
    const after = version((d) => {
      d.policy = { ...d.policy, maxParallel: 20, weighting: "none" };
      d.params = { target: "dw_orders", region: "eu" };
      d.description = "loads all orders";
    });
    const diff = compareDefinitions(version(), after);
    expect(diff.fields).toEqual([
      { path: "description", before: "loads orders", after: "loads all orders" },
      { path: "params.target", before: "ods_orders", after: "dw_orders" },
      { path: "policy.weighting", before: "downward", after: "none" },
      { path: "policy.maxParallel", before: 10, after: 20 },
      { path: "params.region", after: "eu" },
    ]);
    expect(diff.summary.fieldsChanged).toBe(5);
  });

  it("treats null maxParallel (unlimited) as a value, not as absent", () => {
    const diff = compareDefinitions(version(), version((d) => void (d.policy!.maxParallel = null)));
    expect(diff.fields).toEqual([{ path: "policy.maxParallel", before: 10, after: null }]);
  });

  it("reports a removed parameter without an after value", () => {
    const diff = compareDefinitions(version(), version((d) => void (d.params = {})));
    expect(diff.fields).toEqual([{ path: "params.target", before: "ods_orders" }]);
    expect(JSON.parse(JSON.stringify(diff.fields[0]))).toEqual({ path: "params.target", before: "ods_orders" });
  });

  it("reports changed node fields, including nested retry fields, without code when code is unchanged", () => {
    const after = version((d) => {
      d.nodes[1] = { ...d.nodes[1]!, priority: 8, retry: { count: 2 } };
    });
    const diff = compareDefinitions(version(), after);
    expect(diff.nodes.changed).toEqual([
      {
        name: "load",
        fields: [
          { path: "priority", before: 7, after: 8 },
          { path: "retry.count", after: 2 },
          { path: "retry.delaySeconds", after: 0 },
          { path: "retry.backoff", after: "fixed" },
        ],
      },
    ]);
  });

  it("diffs changed node code line by line as a unified patch", () => {
    const after = version((d) => void (d.nodes[0]!.code = "echo one\necho 2\necho three\necho four\n"));
    const diff = compareDefinitions(version(), after, { before: "v3", after: "v4" });
    const [change] = diff.nodes.changed;
    expect(change?.name).toBe("extract");
    expect(change?.fields).toEqual([]);
    expect(change?.code?.unified).toBe(
      [
        "--- a/extract@v3",
        "+++ b/extract@v4",
        "@@ -1,3 +1,4 @@",
        " echo one",
        "-echo two",
        "+echo 2",
        " echo three",
        "+echo four",
        "",
      ].join("\n"),
    );
    expect(change?.code).toMatchObject({ linesAdded: 2, linesRemoved: 1 });
    expect(change?.code?.hunks).toEqual([
      { oldStart: 1, oldLines: 3, newStart: 1, newLines: 4, lines: [" echo one", "-echo two", "+echo 2", " echo three", "+echo four"] },
    ]);
  });

  it("produces a patch that turns the old code into the new", () => {
    const before = version();
    const after = version((d) => void (d.nodes[1]!.code = "import os\nprint('load', os.getcwd())"));
    const code = compareDefinitions(before, after).nodes.changed[0]!.code!;
    expect(applyPatch(before.nodes[1]!.code, code.unified)).toBe(after.nodes[1]!.code);
  });

  it("lists changed nodes in the newer version's order", () => {
    const after = version((d) => {
      d.nodes.reverse();
      d.nodes[0]!.timeoutSeconds = 60;
      d.nodes[1]!.description = "pulls orders";
    });
    expect(compareDefinitions(version(), after).nodes.changed.map((c) => c.name)).toEqual(["load", "extract"]);
  });

  it("does not report reordered nodes as a change", () => {
    const after = version((d) => {
      d.nodes.reverse();
    });
    expect(compareDefinitions(version(), after).summary.identical).toBe(true);
  });

  it("summarises moved nodes as a layout change, not as a change to the workflow", () => {
    const placed = version((d) => void (d.ui = { positions: { extract: { x: 0, y: 0 }, load: { x: 0, y: 120 } } }));
    const moved = version((d) => void (d.ui = { positions: { extract: { x: 0, y: 0 }, load: { x: 240, y: 120 } } }));
    const diff = compareDefinitions(placed, moved);
    expect(diff.summary).toMatchObject({ identical: true, layoutChanged: true, fieldsChanged: 0, nodesChanged: 0 });
    expect(diff.fields).toEqual([]);
    expect(compareDefinitions(version(), placed).summary).toMatchObject({ identical: true, layoutChanged: true });
    expect(compareDefinitions(placed, structuredClone(placed)).summary.layoutChanged).toBe(false);
  });

  it("does not count the position of an added or removed node as a layout change", () => {
    const before = version((d) => void (d.ui = { positions: { extract: { x: 0, y: 0 } } }));
    const after = version((d) => {
      d.nodes.push({ name: "audit", type: "noop" });
      d.ui = { positions: { extract: { x: 0, y: 0 }, audit: { x: 300, y: 0 } } };
    });
    expect(compareDefinitions(before, after).summary).toMatchObject({ identical: false, nodesAdded: 1, layoutChanged: false });
  });
});
