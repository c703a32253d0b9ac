import { structuredPatch } from "diff";
import { describe, expect, it } from "vitest";
import type { Comparison } from "./api/types.ts";
import { comparisonView, definitionSideBySide, fieldRows, sideBySide } from "./diff-view.ts";
import { emptyDefinition } from "./workflow-doc.ts";

const hunks = (a: string, b: string) => structuredPatch("a", "b", a, b, "", "", { context: 1 }).hunks;

describe("sideBySide", () => {
  it("pairs a changed line with its new form and keeps context on both sides", () => {
    const rows = sideBySide(hunks("one\ntwo\nthree\n", "one\nTWO\nthree\n"));
    expect(rows).toEqual([
      { left: { line: 1, text: "one", kind: "same" }, right: { line: 1, text: "one", kind: "same" } },
      { left: { line: 2, text: "two", kind: "removed" }, right: { line: 2, text: "TWO", kind: "added" } },
      { left: { line: 3, text: "three", kind: "same" }, right: { line: 3, text: "three", kind: "same" } },
    ]);
  });

  it("leaves the other side empty for pure additions and shows a gap between hunks", () => {
    const before = "a\nb\nc\nd\ne\nf\ng\n";
    const after = "a\nb\nc\nd\ne\nf\ng\nh\n".replace("a\n", "a\nnew\n");
    const rows = sideBySide(hunks(before, after));
    expect(rows.filter((r) => !r.gap && r.left === null).map((r) => (r.gap ? "" : r.right!.text))).toEqual(["new", "h"]);
    expect(rows.some((r) => r.gap)).toBe(true);
  });

  it("shows a line that only gained a newline at the end of the file as unchanged", () => {
    const rows = sideBySide(hunks('echo "a"', 'echo "a"\necho "b"'));
    expect(rows).toEqual([
      { left: { line: 1, text: 'echo "a"', kind: "same" }, right: { line: 1, text: 'echo "a"', kind: "same" } },
      { left: null, right: { line: 2, text: 'echo "b"', kind: "added" } },
    ]);
  });

  it("numbers lines after an earlier deletion correctly on each side", () => {
    const rows = sideBySide(hunks("x\ny\nz\n", "y\nz\n"));
    expect(rows[0]).toEqual({ left: { line: 1, text: "x", kind: "removed" }, right: null });
    expect(rows[1]).toEqual({ left: { line: 2, text: "y", kind: "same" }, right: { line: 1, text: "y", kind: "same" } });
  });
});

describe("fieldRows", () => {
  it("names added, removed and changed fields; null is a value, not absence", () => {
    expect(fieldRows([{ path: "params.a", after: "1" }, { path: "params.b", before: "2" }, { path: "policy.maxParallel", before: null, after: 3 }])).toEqual([
      { path: "params.a", kind: "added", before: "", after: "1" },
      { path: "params.b", kind: "removed", before: "2", after: "" },
      { path: "policy.maxParallel", kind: "changed", before: "null", after: "3" },
    ]);
  });
});

describe("comparisonView", () => {
  const comparison: Comparison = {
    from: 1,
    to: 2,
    summary: { identical: false, nodesAdded: 1, nodesRemoved: 0, nodesChanged: 1, edgesAdded: 1, edgesRemoved: 0, fieldsChanged: 1, layoutChanged: false },
    fields: [{ path: "policy.triggerId", before: null, after: "trg_1" }],
    nodes: { added: ["notify"], removed: [], changed: [{ name: "report", fields: [], code: { unified: "", hunks: hunks("echo a\n", "echo a\necho b\n"), linesAdded: 1, linesRemoved: 0 } }] },
    edges: { added: [{ from: "report", to: "notify" }], removed: [] },
  };

  it("summarises the change in words and counts each node's changed lines", () => {
    const view = comparisonView(comparison);
    expect(view.headline).toBe("1 node added, 1 node changed, 1 edge changed, 1 workflow setting changed");
    expect(view.changed[0]).toMatchObject({ name: "report", linesAdded: 1, linesRemoved: 0 });
    expect(view.edgesAdded).toEqual(["report → notify"]);
  });

  it("says when two versions are identical", () => {
    const same = { ...comparison, summary: { ...comparison.summary, identical: true } };
    expect(comparisonView(same).headline).toBe("v1 and v2 are identical");
  });

  it("tells a layout-only change apart from identical versions, and lists it last otherwise", () => {
    const moved = { ...comparison, summary: { ...comparison.summary, identical: true, layoutChanged: true } };
    expect(comparisonView(moved).headline).toBe("v1 and v2 differ only in where nodes sit on the canvas");
    const both = { ...comparison, summary: { ...comparison.summary, layoutChanged: true } };
    expect(comparisonView(both).headline).toMatch(/1 workflow setting changed, nodes moved on the canvas$/);
  });
});

describe("definitionSideBySide", () => {
  it("diffs the whole definitions as JSON", () => {
    const a = emptyDefinition("wf");
    const b = { ...a, description: "now described" };
    const rows = definitionSideBySide(a, b);
    expect(rows.some((r) => !r.gap && r.right?.kind === "added" && r.right.text.includes("now described"))).toBe(true);
  });

  it("leaves canvas positions out of the whole-definition diff", () => {
    const a = { ...emptyDefinition("wf"), ui: { positions: { n: { x: 0, y: 0 } } } };
    const b = { ...a, ui: { positions: { n: { x: 99, y: 0 } } } };
    expect(definitionSideBySide(a, b)).toEqual([]);
  });
});
