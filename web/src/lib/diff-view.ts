// The version compare as the console shows it: field rows, and side-by-side line rows from diff hunks.
import { structuredPatch } from "diff";
import type { Comparison, DiffHunk, FieldChange, WorkflowDefinition } from "./api/types.ts";

export interface FieldRow {
  path: string;
  kind: "added" | "removed" | "changed";
  before: string;
  after: string;
}

export interface Cell {
  /** 1-based line number on its side. */
  line: number;
  text: string;
  kind: "same" | "removed" | "added";
}

/** One row of a side-by-side diff: a line on each side, one side empty for a pure addition or removal, or a gap marker. */
export type SideBySideRow = { gap: true; skipped: string } | { gap?: false; left: Cell | null; right: Cell | null };

const show = (value: unknown) => (value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value));

export function fieldRows(changes: readonly FieldChange[]): FieldRow[] {
  return changes.map((c) => ({
    path: c.path,
    kind: !("before" in c) ? "added" : !("after" in c) ? "removed" : "changed",
    before: show(c.before),
    after: show(c.after),
  }));
}

/**
 * Pairs each run of removed lines with the run of added lines that follows it, row by row, so a
 * changed line sits beside its new form; context lines sit on both sides. Hunks are separated by
 * a gap row.
 */
export function sideBySide(hunks: readonly DiffHunk[]): SideBySideRow[] {
  const rows: SideBySideRow[] = [];
  hunks.forEach((hunk, h) => {
    if (h > 0 || hunk.oldStart > 1) rows.push({ gap: true, skipped: `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@` });
    let left = hunk.oldStart;
    let right = hunk.newStart;
    let removed: Cell[] = [];
    let added: Cell[] = [];
    const flush = () => {
      for (let i = 0; i < Math.max(removed.length, added.length); i++) {
        const [l, r] = [removed[i] ?? null, added[i] ?? null];
        // A line that differs only by the newline at the end of the file reads as unchanged.
        if (l && r && l.text === r.text) rows.push({ left: { ...l, kind: "same" }, right: { ...r, kind: "same" } });
        else rows.push({ left: l, right: r });
      }
      removed = [];
      added = [];
    };
    for (const line of hunk.lines) {
      const mark = line[0];
      const text = line.slice(1);
      if (mark === "\\") continue; // "\ No newline at end of file"
      if (mark === "-") removed.push({ line: left++, text, kind: "removed" });
      else if (mark === "+") added.push({ line: right++, text, kind: "added" });
      else {
        flush();
        rows.push({ left: { line: left++, text, kind: "same" }, right: { line: right++, text, kind: "same" } });
      }
    }
    flush();
  });
  return rows;
}

/**
 * The whole definitions as pretty JSON, side by side with three lines of context: the "definition
 * diff". Canvas positions are left out: moved nodes would bury the changes that matter (the
 * headline says when the layout changed).
 */
export function definitionSideBySide(before: WorkflowDefinition, after: WorkflowDefinition, context = 3): SideBySideRow[] {
  const text = ({ ui: _layout, ...def }: WorkflowDefinition) => `${JSON.stringify(def, null, 2)}\n`;
  const patch = structuredPatch("a", "b", text(before), text(after), "", "", { context });
  return sideBySide(patch.hunks);
}

export interface ComparisonView {
  identical: boolean;
  headline: string;
  fields: FieldRow[];
  added: string[];
  removed: string[];
  changed: { name: string; fields: FieldRow[]; code: SideBySideRow[] | null; linesAdded: number; linesRemoved: number }[];
  edgesAdded: string[];
  edgesRemoved: string[];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function comparisonView(comparison: Comparison): ComparisonView {
  const { summary } = comparison;
  const parts = [
    summary.nodesAdded && `${plural(summary.nodesAdded, "node")} added`,
    summary.nodesRemoved && `${plural(summary.nodesRemoved, "node")} removed`,
    summary.nodesChanged && `${plural(summary.nodesChanged, "node")} changed`,
    summary.edgesAdded + summary.edgesRemoved && `${plural(summary.edgesAdded + summary.edgesRemoved, "edge")} changed`,
    summary.fieldsChanged && `${plural(summary.fieldsChanged, "workflow setting")} changed`,
    summary.layoutChanged && "nodes moved on the canvas",
  ].filter(Boolean);
  const same = summary.layoutChanged
    ? `v${comparison.from} and v${comparison.to} differ only in where nodes sit on the canvas`
    : `v${comparison.from} and v${comparison.to} are identical`;
  return {
    identical: summary.identical,
    headline: summary.identical ? same : parts.join(", "),
    fields: fieldRows(comparison.fields),
    added: comparison.nodes.added,
    removed: comparison.nodes.removed,
    changed: comparison.nodes.changed.map((node) => {
      const code = node.code ? sideBySide(node.code.hunks) : null;
      const count = (kind: Cell["kind"], side: "left" | "right") =>
        code?.filter((r) => !r.gap && r[side]?.kind === kind).length ?? 0;
      return { name: node.name, fields: fieldRows(node.fields), code, linesAdded: count("added", "right"), linesRemoved: count("removed", "left") };
    }),
    edgesAdded: comparison.edges.added.map((e) => `${e.from} → ${e.to}`),
    edgesRemoved: comparison.edges.removed.map((e) => `${e.from} → ${e.to}`),
  };
}
