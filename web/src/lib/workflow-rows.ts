// The workflows table: each workflow with its trigger and last run, and the search over them.
import type { InstanceSummary, Trigger, Workflow, WorkflowSummary } from "./api-types.ts";

export interface WorkflowRow extends WorkflowSummary {
  /** The trigger its draft selects: its name when known, else its id; null for none; undefined while unknown. */
  trigger: { id: string; name: string; type: string | null } | null | undefined;
  nodeCount: number | undefined;
  lastRun: InstanceSummary | null | undefined;
}

/** The newest instance of each workflow among `instances` (which the API lists newest first). */
export function lastRuns(instances: readonly InstanceSummary[]): Map<string, InstanceSummary> {
  const last = new Map<string, InstanceSummary>();
  for (const instance of instances) if (!last.has(instance.workflowId)) last.set(instance.workflowId, instance);
  return last;
}

export function workflowRows(
  workflows: readonly WorkflowSummary[],
  runs: ReadonlyMap<string, InstanceSummary | null>,
  details: ReadonlyMap<string, Workflow>,
  triggers: readonly Trigger[] | null,
): WorkflowRow[] {
  const byId = new Map((triggers ?? []).map((t) => [t.id, t]));
  return workflows.map((w) => {
    const detail = details.get(w.id);
    const triggerId = detail?.definition.policy.triggerId;
    const found = triggerId ? byId.get(triggerId) : undefined;
    return {
      ...w,
      trigger: detail === undefined ? undefined : triggerId ? { id: triggerId, name: found?.name ?? triggerId, type: found?.type ?? null } : null,
      nodeCount: detail?.definition.nodes.length,
      lastRun: runs.has(w.id) ? runs.get(w.id)! : undefined,
    };
  });
}

/** Case-insensitive match on name, description, id or trigger name; every word must match. */
export function matchesSearch(row: WorkflowRow, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const text = [row.name, row.description, row.id, row.trigger?.name ?? ""].join(" ").toLowerCase();
  return words.every((word) => text.includes(word));
}

/** A free name for a copy: `name_copy`, then `name_copy2`, … */
export function copyName(name: string, taken: ReadonlySet<string>): string {
  const base = `${name}_copy`.slice(0, 128);
  if (!taken.has(base)) return base;
  let n = 2;
  while (taken.has(`${base}${n}`)) n++;
  return `${base}${n}`;
}
