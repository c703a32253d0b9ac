// One instance's history in D1 as the coordinator rebuilds live state from it (a rerun after the live window).
import type { HistoryInstance, HistoryRun } from "../core/scheduler/rehydrate.ts";

const INSTANCE_COLUMNS =
  "id, workspace_id, workflow_id, workflow_name, version, env, status, priority, run_date, trigger_type, trigger_message, params, created_at, started_at, finished_at";
const RUN_COLUMNS = "id, instance_id, node_name, node_type, attempt, status, runner_id, queued_at, started_at, finished_at, exit_code, error, outputs";

/** The instance row and every attempt of its nodes, or null when D1 has no such instance. */
export async function instanceHistory(d1: D1Database, id: string): Promise<{ row: HistoryInstance; runs: HistoryRun[] } | null> {
  const [rows, runs] = await d1.batch([
    d1.prepare(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE id = ?`).bind(id),
    d1.prepare(`SELECT ${RUN_COLUMNS} FROM node_runs WHERE instance_id = ?`).bind(id),
  ]);
  const row = (rows!.results as HistoryInstance[])[0];
  return row ? { row, runs: runs!.results as HistoryRun[] } : null;
}

/** The instance's status in D1, or null when D1 has no such instance. */
export async function historyStatus(d1: D1Database, id: string): Promise<string | null> {
  return (await d1.prepare(`SELECT status FROM instances WHERE id = ?`).bind(id).first<{ status: string }>())?.status ?? null;
}
