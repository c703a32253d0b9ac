// Rules particular to a node type (DESIGN §2.1): http requests, branch conditions, fields on the wrong type.
import type { Dag } from "./dag.ts";
import type { WorkflowDefinition } from "./definition.ts";
import type { ErrorDetail } from "./errors.ts";
import { compileCondition } from "./expressions.ts";

export const DEFAULT_BRANCH = "default";

export function checkNodeRules(def: WorkflowDefinition, dag: Dag): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  def.nodes.forEach((node, i) => {
    const at = (field: string) => `nodes[${i}].${field}`;
    const label = `node '${node.name}'`;
    if (node.type !== "http" && node.http) details.push({ path: at("http"), message: `${label}: http applies to http nodes only` });
    if (node.type !== "branch" && node.conditions) details.push({ path: at("conditions"), message: `${label}: conditions apply to branch nodes only` });
    if (node.type === "http") {
      if (!node.http) details.push({ path: at("http"), message: `${label} is an http node and needs http: { method, url, headers?, body? }` });
      else if (!/^https?:\/\//i.test(node.http.url)) {
        // The scheme and host are fixed at save time, so trigger data cannot redirect the request.
        details.push({ path: at("http.url"), message: `${label}: the url must start with http:// or https:// (no parameter before the host)` });
      }
    }
    if (node.type === "branch") details.push(...checkBranch(def, dag, i));
  });
  return details;
}

function checkBranch(def: WorkflowDefinition, dag: Dag, i: number): ErrorDetail[] {
  const node = def.nodes[i]!;
  const label = `branch node '${node.name}'`;
  const conditions = node.conditions ?? [];
  if (conditions.length === 0) return [{ path: `nodes[${i}].conditions`, message: `${label} needs conditions: [{ when: "<CEL expression>", to: "<downstream node>" }]` }];
  const details: ErrorDetail[] = [];
  const downstream = new Set(dag.downstream(node.name));
  const targeted = new Set<string>();
  conditions.forEach((c, j) => {
    const path = `nodes[${i}].conditions[${j}]`;
    if (!downstream.has(c.to)) details.push({ path: `${path}.to`, message: `${label}: '${c.to}' is not one of its downstream nodes (${[...downstream].join(", ") || "none"})` });
    targeted.add(c.to);
    if (c.when !== DEFAULT_BRANCH) {
      const compiled = compileCondition(c.when);
      if (!compiled.ok) details.push({ path: `${path}.when`, message: `${label}: condition '${c.when}' is not valid CEL: ${compiled.error}` });
    }
  });
  if (conditions.filter((c) => c.when === DEFAULT_BRANCH).length > 1) {
    details.push({ path: `nodes[${i}].conditions`, message: `${label} has more than one default condition` });
  }
  for (const d of downstream) {
    if (!targeted.has(d)) details.push({ path: `nodes[${i}].conditions`, message: `${label}: no condition chooses its downstream node '${d}', so it could never run` });
  }
  return details;
}
