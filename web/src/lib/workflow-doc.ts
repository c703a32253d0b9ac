// Edits to a workflow definition as pure functions: add, rename, remove, connect, its layout, and what a save sends.
import { findCycle } from "../../../worker/core/dag.ts";
import type { Edge, NodeDefinition, WorkflowDefinition } from "./api/types.ts";
import type { Point } from "./layout.ts";

export const edgeKey = (edge: Edge) => `${edge.from}>${edge.to}`;

/** An empty workflow for the "new workflow" page; it needs a node before it can be saved. */
export function emptyDefinition(name = ""): WorkflowDefinition {
  return {
    name,
    description: "",
    params: {},
    policy: {
      priority: 5,
      weighting: "none",
      maxParallel: null,
      triggerId: null,
      timezone: "UTC",
      resourceGroup: "default",
      concurrency: null,
      overlap: "queue",
      waitingTimeoutSeconds: null,
      share: 1,
      alerts: [],
    },
    nodes: [],
    edges: [],
  };
}

export function addNode(def: WorkflowDefinition, node: NodeDefinition): WorkflowDefinition {
  return { ...def, nodes: [...def.nodes, node] };
}

export function updateNode(def: WorkflowDefinition, name: string, patch: Partial<NodeDefinition>): WorkflowDefinition {
  return { ...def, nodes: def.nodes.map((n) => (n.name === name ? withoutUndefined({ ...n, ...patch }) : n)) };
}

/** Drops the fields set to undefined, so "no priority" means the field is absent, as the API expects. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const OUTPUT_REF = (name: string) => new RegExp(`\\$\\{nodes\\.${name.replace(/[-]/g, "\\-")}\\.outputs\\.`, "g");

/**
 * Renames a node and everything that names it: edges, branch conditions and `${nodes.<old>.outputs.…}`
 * references in other nodes. Refuses a name that is taken.
 */
export function renameNode(def: WorkflowDefinition, from: string, to: string): { ok: true; def: WorkflowDefinition } | { ok: false; reason: string } {
  if (from === to) return { ok: true, def };
  if (def.nodes.some((n) => n.name === to)) return { ok: false, reason: `a node named ${to} already exists` };
  const rewrite = (text: string) => text.replace(OUTPUT_REF(from), `\${nodes.${to}.outputs.`);
  const nodes = def.nodes.map((node) => {
    const renamed: NodeDefinition = { ...node, name: node.name === from ? to : node.name, code: rewrite(node.code) };
    renamed.params = Object.fromEntries(Object.entries(node.params).map(([k, v]) => [k, rewrite(v)]));
    if (node.conditions) renamed.conditions = node.conditions.map((c) => ({ when: c.when, to: c.to === from ? to : c.to }));
    if (node.http) {
      renamed.http = {
        ...node.http,
        url: rewrite(node.http.url),
        headers: Object.fromEntries(Object.entries(node.http.headers).map(([k, v]) => [k, rewrite(v)])),
        ...(node.http.body === undefined ? {} : { body: rewrite(node.http.body) }),
      };
    }
    return renamed;
  });
  const edges = def.edges.map((e) => ({ from: e.from === from ? to : e.from, to: e.to === from ? to : e.to }));
  return { ok: true, def: { ...def, nodes, edges } };
}

/** Removes nodes with their edges, and branch conditions that led to them. */
export function removeNodes(def: WorkflowDefinition, names: Iterable<string>): WorkflowDefinition {
  const gone = new Set(names);
  return {
    ...def,
    nodes: def.nodes
      .filter((n) => !gone.has(n.name))
      .map((n) => (n.conditions?.some((c) => gone.has(c.to)) ? { ...n, conditions: n.conditions.filter((c) => !gone.has(c.to)) } : n)),
    edges: def.edges.filter((e) => !gone.has(e.from) && !gone.has(e.to)),
  };
}

export function removeEdges(def: WorkflowDefinition, keys: Iterable<string>): WorkflowDefinition {
  const gone = new Set(keys);
  return { ...def, edges: def.edges.filter((e) => !gone.has(edgeKey(e))) };
}

/** Why an edge cannot be added, or null when it can: to itself, twice, to an unknown node, or closing a cycle. */
export function connectionProblem(def: WorkflowDefinition, edge: Edge): string | null {
  const names = def.nodes.map((n) => n.name);
  if (edge.from === edge.to) return `${edge.from} cannot depend on itself`;
  if (!names.includes(edge.from) || !names.includes(edge.to)) return "both ends must be nodes of this workflow";
  if (def.edges.some((e) => e.from === edge.from && e.to === edge.to)) return `${edge.from} → ${edge.to} exists already`;
  const cycle = findCycle(names, [...def.edges, edge]);
  return cycle ? `that would make a cycle: ${[...cycle, cycle[0]].join(" → ")}` : null;
}

export function connect(def: WorkflowDefinition, edge: Edge): { ok: true; def: WorkflowDefinition } | { ok: false; reason: string } {
  const problem = connectionProblem(def, edge);
  return problem ? { ok: false, reason: problem } : { ok: true, def: { ...def, edges: [...def.edges, { from: edge.from, to: edge.to }] } };
}

/** The upstream nodes of a node, in definition order. */
export function upstreamOf(def: WorkflowDefinition, name: string): string[] {
  return def.edges.filter((e) => e.to === name).map((e) => e.from);
}

/** A node and everything downstream of it, in breadth-first order: what a rerun from that node runs again. */
export function fromNodeOnward(edges: readonly Edge[], name: string): string[] {
  const seen = [name];
  for (let i = 0; i < seen.length; i++) {
    for (const edge of edges) if (edge.from === seen[i] && !seen.includes(edge.to)) seen.push(edge.to);
  }
  return seen;
}

/**
 * A stored definition split in two: the definition the editor edits, and its nodes' canvas positions
 * (`ui.positions`), which the canvas moves without touching the definition's history.
 */
export function splitLayout(stored: WorkflowDefinition): { definition: WorkflowDefinition; positions: Map<string, Point> } {
  const { ui, ...definition } = stored;
  const names = new Set(definition.nodes.map((n) => n.name));
  const placed = Object.entries(ui?.positions ?? {}).filter(([name, p]) => names.has(name) && Number.isFinite(p?.x) && Number.isFinite(p?.y));
  return { definition, positions: new Map(placed) };
}

/** The definition with its nodes' positions, in whole pixels, as the draft stores them; other names are left out. */
export function withLayout(def: WorkflowDefinition, positions: ReadonlyMap<string, Point>): WorkflowDefinition {
  const placed: [string, Point][] = [];
  for (const { name } of def.nodes) {
    const at = positions.get(name);
    if (at) placed.push([name, { x: Math.round(at.x), y: Math.round(at.y) }]);
  }
  return { ...def, ui: { positions: Object.fromEntries(placed) } };
}

/**
 * The body of a save: fields that only one node type uses are dropped from the others, so changing
 * a node's type never leaves an `http` block on a shell node for the server to refuse.
 */
export function definitionToSave(def: WorkflowDefinition): WorkflowDefinition {
  return {
    ...def,
    nodes: def.nodes.map((node) => {
      const { http, conditions, ...rest } = node;
      const out: NodeDefinition = { ...rest };
      if (node.type === "http" && http) out.http = http;
      if (node.type === "branch") out.conditions = conditions ?? [];
      if (out.retry && out.retry.count === 0 && out.retry.delaySeconds === 0) delete out.retry;
      return withoutUndefined(out);
    }),
  };
}

/** A canonical text of a definition: equal texts mean nothing to save. */
export function definitionText(def: WorkflowDefinition): string {
  return JSON.stringify(definitionToSave(def), (_key, value: unknown) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}
