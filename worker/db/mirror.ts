// SQL that mirrors a coordinator's transitions into D1 (replayed in order from its outbox).
import type { InstanceRecord, NodeRunRecord } from "../core/scheduler/records.ts";

export interface Statement {
  sql: string;
  params: (string | number | null)[];
  /** Set on a full-row upsert (`table:id`): of several for one row, the last one's values are all that matter. */
  row?: string;
  /** Set on a row others name (a run definition): delivered before the upserts, one statement each (it may be large). */
  referenced?: true;
}

/**
 * An instance as D1 mirrors it: the coordinator's record without its arrival number and its limit (the
 * definition has it). What a rerun after the live window needs is kept: def_hash, ordering key, override, cyctime.
 */
export type InstanceRow = Omit<InstanceRecord, "seq" | "max_parallel" | "concurrency_limit">;

/** A node run as D1 mirrors it: the coordinator's record without its scheduling fields. */
export type NodeRunRow = Omit<NodeRunRecord, "current" | "not_before" | "chosen" | "lost" | "exiting">;

const INSTANCE_COLUMNS = [
  "id", "workspace_id", "workflow_id", "workflow_name", "version", "env", "status", "priority",
  "run_date", "trigger_type", "trigger_message", "params", "created_at", "started_at", "finished_at",
  "def_hash", "ordering_key", "priority_override", "cyctime", "concurrency_key", "reason",
] as const;
/** Only these change after the insert (the rest, def_hash and the keys among them, are the instance's for good). */
const INSTANCE_MUTABLE = ["status", "started_at", "finished_at", "reason"] as const;

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
    row: `${table}:${String((row as { id: unknown }).id)}`,
  };
}

export const upsertInstance = (row: InstanceRow) => upsert("instances", INSTANCE_COLUMNS, INSTANCE_MUTABLE, row);
export const upsertNodeRun = (row: NodeRunRow) => upsert("node_runs", NODE_RUN_COLUMNS, NODE_RUN_MUTABLE, row);
/**
 * A definition an instance runs, by its content hash: written once, before the instance rows that name it
 * (a second insert, after the coordinator pruned and saved it again, changes nothing).
 */
export const insertRunDefinition = (
  hash: string,
  owner: { workspaceId: string; workflowId: string },
  definition: string,
  weights: string,
  createdAt: number,
): Statement => ({
  sql:
    "INSERT INTO run_definitions (hash, workspace_id, workflow_id, definition, weights, created_at) VALUES (?, ?, ?, ?, ?, ?) " +
    "ON CONFLICT (hash) DO NOTHING",
  params: [hash, owner.workspaceId, owner.workflowId, definition, weights, createdAt],
  referenced: true,
});

/**
 * One log chunk. `seq` is the runner's number for it within the attempt: the same chunk posted again is ignored
 * (statement changes nothing). Lines the Worker writes itself have no seq and are always stored.
 */
export const insertLog = (nodeRunId: string, text: string, seq: number | null = null): Statement => ({
  sql: "INSERT INTO node_logs (node_run_id, text, seq) VALUES (?, ?, ?) ON CONFLICT (node_run_id, seq) DO NOTHING",
  params: [nodeRunId, text, seq],
});

/**
 * An instance passes through several states in one transaction (waiting → running → succeeded for a
 * noop): its row is written once, at the place of its first upsert (so rows that refer to it still
 * come after it) with the values of its last. Other statements (log lines) keep their places.
 */
export function coalesceUpserts(statements: Statement[]): Statement[] {
  const last = new Map<string, Statement>();
  for (const s of statements) if (s.row !== undefined) last.set(s.row, s);
  const written = new Set<string>();
  const out: Statement[] = [];
  for (const s of statements) {
    if (s.row === undefined) out.push(s);
    else if (!written.has(s.row)) {
      written.add(s.row);
      out.push(last.get(s.row)!);
    }
  }
  return out;
}

/** D1 takes at most 100 bound parameters per statement. */
const MAX_D1_PARAMS = 100;

/**
 * The statements of one D1 batch, as few as possible: rows others name (run definitions) first, then rows
 * coalesced, each table's upserts as multi-row statements (instances before node runs; nothing in D1 refers
 * across them), then the other statements (log lines) in their order. The final state is the same as
 * running them one by one.
 */
export function compactStatements(statements: Statement[]): Statement[] {
  const referenced: Statement[] = [];
  const upserts = new Map<string, Statement[]>();
  const others: Statement[] = [];
  for (const s of coalesceUpserts(statements)) {
    if (s.referenced) referenced.push({ sql: s.sql, params: s.params });
    else if (s.row === undefined) others.push(s);
    else upserts.set(s.sql, [...(upserts.get(s.sql) ?? []), s]);
  }
  const merged: Statement[] = [];
  for (const [sql, rows] of upserts) {
    const width = rows[0]!.params.length;
    const perStatement = Math.max(1, Math.floor(MAX_D1_PARAMS / width));
    const group = `(${Array.from({ length: width }, () => "?").join(", ")})`;
    for (let i = 0; i < rows.length; i += perStatement) {
      const chunk = rows.slice(i, i + perStatement);
      merged.push({
        sql: sql.replace(`VALUES ${group}`, `VALUES ${chunk.map(() => group).join(", ")}`),
        params: chunk.flatMap((r) => r.params),
      });
    }
  }
  return [...referenced, ...merged, ...others];
}
