// One instance's history in D1 as the coordinator rebuilds live state from it (a rerun after the live window).
import type { WorkflowDefinition } from "../core/definition.ts";
import type { HistoryInstance, HistoryRun } from "../core/scheduler/rehydrate.ts";

const INSTANCE_COLUMNS =
  "id, workspace_id, workflow_id, workflow_name, version, env, status, priority, run_date, trigger_type, trigger_message, params, " +
  "created_at, started_at, finished_at, def_hash, ordering_key, priority_override, cyctime, concurrency_key, reason";
const RUN_COLUMNS = "id, instance_id, node_name, node_type, attempt, status, runner_id, queued_at, started_at, finished_at, exit_code, error, outputs";

export interface InstanceHistory {
  row: HistoryInstance;
  runs: HistoryRun[];
  /** The definition the instance ran, as D1 keeps it; null for a row from before it was kept (or one too large to keep). */
  definition: { def: WorkflowDefinition; weights: Record<string, number> } | null;
}

/** The instance row, every attempt of its nodes and the definition it ran, or null when D1 has no such instance. */
export async function instanceHistory(d1: D1Database, id: string): Promise<InstanceHistory | null> {
  const [rows, runs, definitions] = await d1.batch([
    d1.prepare(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE id = ?`).bind(id),
    d1.prepare(`SELECT ${RUN_COLUMNS} FROM node_runs WHERE instance_id = ?`).bind(id),
    d1.prepare(`SELECT d.definition, d.weights FROM run_definitions d JOIN instances i ON i.def_hash = d.hash WHERE i.id = ?`).bind(id),
  ]);
  const row = (rows!.results as HistoryInstance[])[0];
  if (!row) return null;
  const kept = (definitions!.results as { definition: string; weights: string }[])[0];
  const definition = kept ? { def: JSON.parse(kept.definition) as WorkflowDefinition, weights: JSON.parse(kept.weights) as Record<string, number> } : null;
  return { row, runs: runs!.results as HistoryRun[], definition };
}

/** The instance's status in D1, or null when D1 has no such instance. */
export async function historyStatus(d1: D1Database, id: string): Promise<string | null> {
  return (await d1.prepare(`SELECT status FROM instances WHERE id = ?`).bind(id).first<{ status: string }>())?.status ?? null;
}
