// Auto-layout of a DAG with dagre: ranks top to bottom (or left to right), no hand-written placement.
import dagre from "@dagrejs/dagre";
import type { Edge } from "./api/types.ts";

export interface Point {
  x: number;
  y: number;
}

export interface LayoutOptions {
  direction?: "TB" | "LR";
  /** Node size used for spacing; the canvas nodes are about this big. */
  nodeWidth?: number;
  nodeHeight?: number;
}

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 64;
/** From this many nodes on, layout trades a little compactness for speed. */
export const LARGE_GRAPH = 150;

/** Top-left positions (Svelte Flow's origin) for every node; edges to unknown nodes are ignored. */
export function layoutGraph(names: readonly string[], edges: readonly Edge[], options: LayoutOptions = {}): Map<string, Point> {
  const width = options.nodeWidth ?? NODE_WIDTH;
  const height = options.nodeHeight ?? NODE_HEIGHT;
  const graph = new dagre.graphlib.Graph();
  // Network simplex ranks most compactly but costs ~0.5 s at 400 nodes; longest-path is 3× faster
  // and, for the fan-out shapes of large workflows, looks the same.
  const ranker = names.length > LARGE_GRAPH ? "longest-path" : "network-simplex";
  graph.setGraph({ rankdir: options.direction ?? "TB", nodesep: 32, ranksep: 56, marginx: 16, marginy: 16, ranker });
  graph.setDefaultEdgeLabel(() => ({}));
  // graphlib keys nodes by object property: prefix them so `constructor` or `__proto__` are ordinary names.
  const key = (name: string) => `n:${name}`;
  for (const name of names) graph.setNode(key(name), { width, height });
  const known = new Set(names);
  for (const edge of edges) {
    if (known.has(edge.from) && known.has(edge.to) && edge.from !== edge.to) graph.setEdge(key(edge.from), key(edge.to));
  }
  dagre.layout(graph);
  const positions = new Map<string, Point>();
  for (const name of names) {
    const placed = graph.node(key(name)) as { x: number; y: number };
    positions.set(name, { x: Math.round(placed.x - width / 2), y: Math.round(placed.y - height / 2) });
  }
  return positions;
}

/**
 * Positions for nodes that have none, keeping the ones a person placed: the missing ones are laid
 * out with the whole graph and shifted so they do not land on top of the placed ones.
 */
export function completeLayout(
  names: readonly string[],
  edges: readonly Edge[],
  placed: ReadonlyMap<string, Point>,
  options: LayoutOptions = {},
): Map<string, Point> {
  const missing = names.filter((n) => !placed.has(n));
  const result = new Map<string, Point>(names.filter((n) => placed.has(n)).map((n) => [n, placed.get(n)!]));
  if (missing.length === 0) return result;
  const auto = layoutGraph(names, edges, options);
  if (result.size === 0) return auto;
  // Below everything that is placed already.
  const bottom = Math.max(...[...result.values()].map((p) => p.y)) + (options.nodeHeight ?? NODE_HEIGHT) + 48;
  const top = Math.min(...missing.map((n) => auto.get(n)!.y));
  for (const name of missing) {
    const p = auto.get(name)!;
    result.set(name, { x: p.x, y: p.y - top + bottom });
  }
  return result;
}
