// The workflows table: each listed workflow with its trigger's name, and the search over them.
import type { Trigger, WorkflowListItem } from "./api/types.ts";

export interface WorkflowRow extends WorkflowListItem {
  /** The trigger that starts it: its name when the trigger list has it, else its id; null for none. */
  trigger: { id: string; name: string; type: string | null } | null;
}

/** The list already carries each workflow's trigger id and last run; only trigger names come from elsewhere. */
export function workflowRows(workflows: readonly WorkflowListItem[], triggers: readonly Trigger[] | null): WorkflowRow[] {
  const byId = new Map((triggers ?? []).map((t) => [t.id, t]));
  return workflows.map((w) => {
    const found = w.triggerId ? byId.get(w.triggerId) : undefined;
    return { ...w, trigger: w.triggerId ? { id: w.triggerId, name: found?.name ?? w.triggerId, type: found?.type ?? null } : null };
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
