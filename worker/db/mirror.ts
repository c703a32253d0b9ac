// SQL that mirrors a coordinator's transitions into D1 (replayed in order from its outbox).

export interface Statement {
  sql: string;
  params: (string | number | null)[];
}

export interface InstanceRow {
  id: string;
  workspace_id: string;
  workflow_id: string;
  workflow_name: string;
  version: number | null;
  env: string;
  status: string;
  priority: number;
  run_date: string | null;
  trigger_type: string;
  trigger_message: string;
  params: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface NodeRunRow {
  id: string;
  instance_id: string;
  node_name: string;
  node_type: string;
  attempt: number;
  status: string;
  runner_id: string | null;
  queued_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  error: string | null;
  outputs: string | null;
}

const INSTANCE_COLUMNS = [
  "id", "workspace_id", "workflow_id", "workflow_name", "version", "env", "status", "priority",
  "run_date", "trigger_type", "trigger_message", "params", "created_at", "started_at", "finished_at",
] as const;
const INSTANCE_MUTABLE = ["status", "started_at", "finished_at"] as const;

const NODE_RUN_COLUMNS = [
  "id", "instance_id", "node_name", "node_type", "attempt", "status", "runner_id",
  "queued_at", "started_at", "finished_at", "exit_code", "error", "outputs",
] as const;
const NODE_RUN_MUTABLE = ["status", "runner_id", "queued_at", "started_at", "finished_at", "exit_code", "error", "outputs"] as const;

function upsert<R>(table: string, columns: readonly (keyof R & string)[], mutable: readonly string[], row: R): Statement {
  return {
    sql:
      `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")}) ` +
      `ON CONFLICT (id) DO UPDATE SET ${mutable.map((c) => `${c} = excluded.${c}`).join(", ")}`,
    params: columns.map((c) => row[c] as string | number | null),
  };
}

export const upsertInstance = (row: InstanceRow) => upsert("instances", INSTANCE_COLUMNS, INSTANCE_MUTABLE, row);
export const upsertNodeRun = (row: NodeRunRow) => upsert("node_runs", NODE_RUN_COLUMNS, NODE_RUN_MUTABLE, row);
export const insertLog = (nodeRunId: string, text: string): Statement => ({
  sql: "INSERT INTO node_logs (node_run_id, text) VALUES (?, ?)",
  params: [nodeRunId, text],
});
