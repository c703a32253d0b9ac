// Validation errors (400 details with paths like `nodes[3].code`) mapped onto the nodes, edges and fields they name.
import type { ErrorDetail, WorkflowDefinition } from "./api/types.ts";
import { edgeKey } from "./workflow-doc.ts";

export interface FieldError {
  /** The field inside its node or the workflow, e.g. `code`, `retry.count`, `policy.maxParallel`; "" for the whole thing. */
  field: string;
  message: string;
}

export interface MappedErrors {
  /** By node name. */
  nodes: Map<string, FieldError[]>;
  /** By edge key (`from>to`). */
  edges: Map<string, string[]>;
  /** Workflow-level: name, description, params.*, policy.*, or the definition as a whole. */
  workflow: FieldError[];
  count: number;
}

const NODE_PATH = /^nodes\[(\d+)\](?:\.(.+)|(\[.+))?$/;
const EDGE_PATH = /^edges\[(\d+)\]/;

/**
 * Maps each detail to what it names in `sent`, the definition that was submitted (the indices in
 * the paths are its indices). Messages naming a node by name but with no path, or a path that no
 * longer exists, fall to the workflow level so none is lost.
 */
export function mapErrors(details: readonly ErrorDetail[], sent: WorkflowDefinition): MappedErrors {
  const mapped: MappedErrors = { nodes: new Map(), edges: new Map(), workflow: [], count: details.length };
  const push = <K, V>(map: Map<K, V[]>, key: K, value: V) => map.set(key, [...(map.get(key) ?? []), value]);
  for (const detail of details) {
    const path = detail.path ?? "";
    const node = NODE_PATH.exec(path);
    if (node) {
      const name = sent.nodes[Number(node[1])]?.name;
      if (name !== undefined) {
        push(mapped.nodes, name, { field: node[2] ?? node[3] ?? "", message: detail.message });
        continue;
      }
    }
    const edge = EDGE_PATH.exec(path);
    if (edge) {
      const found = sent.edges[Number(edge[1])];
      if (found) {
        push(mapped.edges, edgeKey(found), detail.message);
        // A cycle's closing edge also marks the nodes it joins, so the cycle is visible on the canvas.
        for (const end of [found.from, found.to]) {
          if (sent.nodes.some((n) => n.name === end)) push(mapped.nodes, end, { field: "edges", message: detail.message });
        }
        continue;
      }
    }
    mapped.workflow.push({ field: path, message: detail.message });
  }
  return mapped;
}

/** The messages for one node as its canvas card lists them. */
export function nodeMessages(mapped: MappedErrors | null, name: string): string[] {
  return mapped?.nodes.get(name)?.map((e) => (e.field && e.field !== "edges" ? `${e.field}: ${stripPrefix(e.message)}` : e.message)) ?? [];
}

/** The message for one field of a node (for the panel), if any. */
export function fieldMessage(mapped: MappedErrors | null, name: string, field: string): string | undefined {
  return mapped?.nodes.get(name)?.find((e) => e.field === field || e.field.startsWith(`${field}.`))?.message;
}

/** The server prefixes "nodes[0].code (node 'x'): "; on the node itself that is noise. */
function stripPrefix(message: string): string {
  return message.replace(/^nodes\[\d+\][^:]*:\s*/, "");
}
