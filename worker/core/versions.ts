// Comparing two versions of a workflow (DESIGN §2.8): a structured diff of the definitions and a line diff of node code.
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch, type StructuredPatchHunk } from "diff";
import type { Edge, NodeDefinition, WorkflowDefinition } from "./definition.ts";

/**
 * One changed leaf, addressed by a dotted path (`policy.maxParallel`, `params.target`,
 * `retry.count`). A field present on one side only has no `before` (added) or no `after`
 * (removed); `null` is a real value (maxParallel null = unlimited), never "absent".
 */
export interface FieldChange {
  path: string;
  before?: unknown;
  after?: unknown;
}

/** A node's code diff: a unified patch to render as-is, and its hunks for a side-by-side view. */
export interface CodeDiff {
  unified: string;
  hunks: StructuredPatchHunk[];
  linesAdded: number;
  linesRemoved: number;
}

/** A node present in both versions under the same name, with what changed. */
export interface NodeChange {
  name: string;
  /** Every field but `name` and `code`: type, description, params.*, priority, timeoutSeconds, retry.* */
  fields: FieldChange[];
  code?: CodeDiff;
}

/**
 * "Compare version a with version b", as JSON:
 * - `summary`: counts; `identical` when nothing that runs differs, and `layoutChanged` when nodes
 *   of both moved on the canvas (`ui.positions`): a layout is not a change to the workflow, so it
 *   counts nowhere else;
 * - `fields`: workflow-level changes (name, description, params.*, policy.*);
 * - `nodes`: names added and removed (a rename is one of each), and changed nodes in b's order;
 * - `edges`: edges added (b's order) and removed (a's order).
 */
export interface DefinitionComparison {
  summary: {
    identical: boolean;
    nodesAdded: number;
    nodesRemoved: number;
    nodesChanged: number;
    edgesAdded: number;
    edgesRemoved: number;
    fieldsChanged: number;
    layoutChanged: boolean;
  };
  fields: FieldChange[];
  nodes: { added: string[]; removed: string[]; changed: NodeChange[] };
  edges: { added: Edge[]; removed: Edge[] };
}

/** How each side is named in patch headers, e.g. `v3` and `v4` or `v4` and `draft`. */
export interface ComparisonLabels {
  before: string;
  after: string;
}

export function compareDefinitions(
  a: WorkflowDefinition,
  b: WorkflowDefinition,
  labels: ComparisonLabels = { before: "a", after: "b" },
): DefinitionComparison {
  const workflowLevel = ({ name, description, params, policy }: WorkflowDefinition) => ({ name, description, params, policy });
  const fields = compareFields(workflowLevel(a), workflowLevel(b));

  const before = new Map(a.nodes.map((n) => [n.name, n]));
  const after = new Map(b.nodes.map((n) => [n.name, n]));
  const added = b.nodes.filter((n) => !before.has(n.name)).map((n) => n.name);
  const removed = a.nodes.filter((n) => !after.has(n.name)).map((n) => n.name);
  const changed: NodeChange[] = [];
  for (const node of b.nodes) {
    const old = before.get(node.name);
    if (old) {
      const change = compareNode(old, node, labels);
      if (change) changed.push(change);
    }
  }

  const edges = compareEdges(a.edges, b.edges);
  return {
    summary: {
      identical: fields.length + added.length + removed.length + changed.length + edges.added.length + edges.removed.length === 0,
      nodesAdded: added.length,
      nodesRemoved: removed.length,
      nodesChanged: changed.length,
      edgesAdded: edges.added.length,
      edgesRemoved: edges.removed.length,
      fieldsChanged: fields.length,
      layoutChanged: layoutChanged(a, b),
    },
    fields,
    nodes: { added, removed, changed },
    edges,
  };
}

/** Whether a node of both versions has another canvas position (or gained or lost one). */
function layoutChanged(a: WorkflowDefinition, b: WorkflowDefinition): boolean {
  // Own keys only: a node may be called `constructor`.
  const at = (def: WorkflowDefinition, name: string) => (def.ui && Object.hasOwn(def.ui.positions, name) ? def.ui.positions[name] : null);
  const inB = new Set(b.nodes.map((n) => n.name));
  return a.nodes.some(({ name }) => inB.has(name) && !sameValue(at(a, name), at(b, name)));
}

function compareNode(a: NodeDefinition, b: NodeDefinition, labels: ComparisonLabels): NodeChange | undefined {
  const { name: _an, code: codeA, ...restA } = a;
  const { name: _bn, code: codeB, ...restB } = b;
  const fields = compareFields(restA, restB);
  const code = codeA === codeB ? undefined : compareCode(b.name, codeA, codeB, labels);
  if (fields.length === 0 && !code) return undefined;
  return code ? { name: b.name, fields, code } : { name: b.name, fields };
}

/** Git-style file names (`a/<node>@v3`, `b/<node>@v4`) so the patch reads like any code review. */
function compareCode(node: string, before: string, after: string, labels: ComparisonLabels): CodeDiff {
  const patch = structuredPatch(`a/${node}@${labels.before}`, `b/${node}@${labels.after}`, before, after, undefined, undefined, {
    context: 3,
  });
  let linesAdded = 0;
  let linesRemoved = 0;
  for (const hunk of patch.hunks) {
    for (const line of hunk.lines) {
      if (line.startsWith("+")) linesAdded++;
      else if (line.startsWith("-")) linesRemoved++;
    }
  }
  return { unified: formatPatch(patch, FILE_HEADERS_ONLY), hunks: patch.hunks, linesAdded, linesRemoved };
}

function compareEdges(a: readonly Edge[], b: readonly Edge[]): { added: Edge[]; removed: Edge[] } {
  const key = (e: Edge) => JSON.stringify([e.from, e.to]);
  const inA = new Set(a.map(key));
  const inB = new Set(b.map(key));
  const only = (edges: readonly Edge[], other: Set<string>) => {
    const seen = new Set<string>();
    const out: Edge[] = [];
    for (const { from, to } of edges) {
      const k = key({ from, to });
      if (other.has(k) || seen.has(k)) continue;
      seen.add(k);
      out.push({ from, to });
    }
    return out;
  };
  return { added: only(b, inA), removed: only(a, inB) };
}

/** Leaf-by-leaf: a's paths in a's order, then paths only b has. */
function compareFields(a: object, b: object): FieldChange[] {
  const before = leaves(a);
  const after = leaves(b);
  const changes: FieldChange[] = [];
  for (const path of new Set([...before.keys(), ...after.keys()])) {
    const had = before.has(path);
    const has = after.has(path);
    const old = before.get(path);
    const now = after.get(path);
    if (had && has && sameValue(old, now)) continue;
    changes.push({ path, ...(had ? { before: old } : {}), ...(has ? { after: now } : {}) });
  }
  return changes;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Flattens nested objects to dotted paths; arrays and primitives are leaves; undefined is absent. */
function leaves(value: object, prefix = "", out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [key, child] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(child)) leaves(child, path, out);
    else if (child !== undefined) out.set(path, child);
  }
  return out;
}

/** Leaves are JSON values, so their JSON text decides equality (arrays included). */
const sameValue = (x: unknown, y: unknown) => x === y || JSON.stringify(x) === JSON.stringify(y);
