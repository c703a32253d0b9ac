// Graph building: a workflow definition (plus weights, errors and run states) as Svelte Flow nodes and edges.
import type { Edge as FlowEdge, Node as FlowNode } from "@xyflow/svelte";
import { downwardWeights } from "../../../worker/core/dag.ts";
import type { Edge, NodeStatus, WorkflowDefinition } from "./api/types.ts";
import { NODE_HEIGHT, NODE_WIDTH, type Point } from "./layout.ts";
import { edgeKey } from "./workflow-doc.ts";

export interface CanvasNodeData extends Record<string, unknown> {
  name: string;
  type: string;
  /** The first line of code, or the URL of an http node: what the node does at a glance. */
  summary: string;
  /** The node's priority as it runs (its own, else the workflow's). */
  priority: number;
  /** Its weight under "downward" weighting (DESIGN §2.4); null under "none" or while the edges form a cycle. */
  weight: number | null;
  /** Validation messages that name this node. */
  errors: string[];
  /** Its state in the run shown on the canvas, if any. */
  status: NodeStatus | null;
  attempt: number | null;
}

export type CanvasNode = FlowNode<CanvasNodeData, string>;
export type CanvasEdge = FlowEdge<{ errors: string[]; status: NodeStatus | null }, string>;

export interface CanvasOverlay {
  errors?: ReadonlyMap<string, readonly string[]>;
  edgeErrors?: ReadonlyMap<string, readonly string[]>;
  runs?: ReadonlyMap<string, { status: NodeStatus; attempt: number }>;
}

/** Weights of every node, or null when the edges do not form a DAG yet. */
export function nodeWeights(def: WorkflowDefinition): Record<string, number> | null {
  try {
    const policy = { priority: def.policy.priority ?? 5, weighting: def.policy.weighting ?? "none" };
    const nodes = def.nodes.map((n) => ({ ...n, priority: n.priority }));
    return downwardWeights({ nodes, edges: def.edges, policy } as Parameters<typeof downwardWeights>[0]);
  } catch {
    return null;
  }
}

function summaryOf(node: WorkflowDefinition["nodes"][number]): string {
  if (node.type === "http" && node.http) return `${node.http.method} ${node.http.url}`;
  if (node.type === "branch") return `${node.conditions?.length ?? 0} condition${node.conditions?.length === 1 ? "" : "s"}`;
  const line = node.code.split("\n").find((l) => l.trim() && !l.trim().startsWith("#"));
  return line?.trim().slice(0, 60) ?? "";
}

export const edgeId = (edge: Edge) => `e:${edgeKey(edge)}`;

/** The canvas nodes of a definition; a node with no position yet is placed at the origin (layout places it). */
export function buildNodes(def: WorkflowDefinition, positions: ReadonlyMap<string, Point>, overlay: CanvasOverlay = {}): CanvasNode[] {
  // Under "none" every node weighs the same, so the canvas shows weights only for "downward".
  const weights = def.policy.weighting === "downward" ? nodeWeights(def) : null;
  const workflowPriority = def.policy.priority ?? 5;
  return def.nodes.map((node) => {
    const run = overlay.runs?.get(node.name);
    return {
      id: node.name,
      type: node.type,
      position: positions.get(node.name) ?? { x: 0, y: 0 },
      // A size before measuring lets Svelte Flow fit and cull a 400-node canvas without rendering it all first.
      initialWidth: NODE_WIDTH,
      initialHeight: NODE_HEIGHT,
      data: {
        name: node.name,
        type: node.type,
        summary: summaryOf(node),
        priority: node.priority ?? workflowPriority,
        weight: weights ? (weights[node.name] ?? null) : null,
        errors: [...(overlay.errors?.get(node.name) ?? [])],
        status: run?.status ?? null,
        attempt: run?.attempt ?? null,
      },
    };
  });
}

export function buildEdges(def: WorkflowDefinition, overlay: CanvasOverlay = {}): CanvasEdge[] {
  const branchLabels = new Map<string, string>();
  for (const node of def.nodes) {
    for (const c of node.conditions ?? []) branchLabels.set(edgeKey({ from: node.name, to: c.to }), c.when === "default" ? "default" : "when");
  }
  return def.edges.map((edge) => {
    const errors = [...(overlay.edgeErrors?.get(edgeKey(edge)) ?? [])];
    const status = overlay.runs?.get(edge.from)?.status ?? null;
    const label = branchLabels.get(edgeKey(edge));
    return {
      id: edgeId(edge),
      source: edge.from,
      target: edge.to,
      type: "smoothstep",
      ...(label ? { label } : {}),
      markerEnd: { type: "arrowclosed" } as CanvasEdge["markerEnd"],
      class: [errors.length ? "edge-invalid" : "", status === "running" ? "edge-live" : ""].filter(Boolean).join(" ") || undefined,
      animated: status === "running",
      data: { errors, status },
    };
  });
}

const sameData = (a: CanvasNodeData, b: CanvasNodeData) =>
  a.name === b.name &&
  a.type === b.type &&
  a.summary === b.summary &&
  a.priority === b.priority &&
  a.weight === b.weight &&
  a.status === b.status &&
  a.attempt === b.attempt &&
  a.errors.length === b.errors.length &&
  a.errors.every((e, i) => e === b.errors[i]);

/**
 * The next node list for the canvas, reusing the previous objects where nothing changed so that
 * Svelte Flow keeps their measured sizes and selection (and a 400-node canvas does not re-render).
 * `movedByUser` keeps positions the canvas itself changed (dragging) until they are written back.
 */
export function reconcileNodes(previous: readonly CanvasNode[], next: readonly CanvasNode[]): CanvasNode[] {
  const before = new Map(previous.map((n) => [n.id, n]));
  return next.map((node) => {
    const old = before.get(node.id);
    if (!old) return node;
    const samePosition = old.position.x === node.position.x && old.position.y === node.position.y;
    if (old.type === node.type && samePosition && sameData(old.data, node.data)) return old;
    return { ...old, type: node.type, position: node.position, data: node.data };
  });
}

export function reconcileEdges(previous: readonly CanvasEdge[], next: readonly CanvasEdge[]): CanvasEdge[] {
  const before = new Map(previous.map((e) => [e.id, e]));
  return next.map((edge) => {
    const old = before.get(edge.id);
    if (!old) return edge;
    const same =
      old.class === edge.class && old.label === edge.label && old.animated === edge.animated && old.data?.status === edge.data?.status;
    return same ? old : { ...old, ...edge, selected: old.selected };
  });
}
