// The coordinator's SQLite tables: definitions, instances and node runs of one workflow.
import type { WorkflowDefinition } from "../core/definition.ts";
import type { InstanceStatus, NodeStatus } from "../core/progress.ts";
import type { InstanceRow, NodeRunRow } from "../db/mirror.ts";

export interface LiveInstance extends InstanceRow {
  seq: number;
  def_hash: string;
  priority_override: number | null;
  max_parallel: number | null;
  cyctime: number;
}

export class CoordinatorStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS definitions (hash TEXT PRIMARY KEY, json TEXT NOT NULL, weights TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS instances (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        workspace_id TEXT NOT NULL, workflow_id TEXT NOT NULL, workflow_name TEXT NOT NULL,
        version INTEGER, env TEXT NOT NULL, status TEXT NOT NULL,
        priority INTEGER NOT NULL, priority_override INTEGER, max_parallel INTEGER,
        run_date TEXT, trigger_type TEXT NOT NULL, trigger_message TEXT NOT NULL, params TEXT NOT NULL,
        def_hash TEXT NOT NULL, cyctime INTEGER NOT NULL,
        created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER
      );
      -- Waiting instances are admitted by (priority, arrival), read through this index, never all in memory.
      CREATE INDEX IF NOT EXISTS instances_by_status ON instances (env, status, priority DESC, seq);
      CREATE TABLE IF NOT EXISTS node_runs (
        id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, node_name TEXT NOT NULL, node_type TEXT NOT NULL,
        attempt INTEGER NOT NULL, current INTEGER NOT NULL, status TEXT NOT NULL, runner_id TEXT,
        queued_at INTEGER, started_at INTEGER, finished_at INTEGER, exit_code INTEGER, error TEXT, outputs TEXT
      );
      CREATE INDEX IF NOT EXISTS node_runs_current ON node_runs (instance_id, current);
    `);
  }

  saveDefinition(hash: string, def: WorkflowDefinition, weights: Record<string, number>): void {
    this.sql.exec(`INSERT OR IGNORE INTO definitions (hash, json, weights) VALUES (?, ?, ?)`, hash, JSON.stringify(def), JSON.stringify(weights));
  }

  definition(hash: string): { def: WorkflowDefinition; weights: Record<string, number> } {
    const row = this.sql.exec<{ json: string; weights: string }>(`SELECT json, weights FROM definitions WHERE hash = ?`, hash).one();
    return { def: JSON.parse(row.json) as WorkflowDefinition, weights: JSON.parse(row.weights) as Record<string, number> };
  }

  insertInstance(row: Omit<LiveInstance, "seq">): void {
    const cols = Object.keys(row);
    this.sql.exec(
      `INSERT INTO instances (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
      ...cols.map((c) => row[c as keyof typeof row]),
    );
  }

  instance(id: string): LiveInstance | undefined {
    return this.sql.exec<LiveInstance & Record<string, SqlStorageValue>>(`SELECT * FROM instances WHERE id = ?`, id).toArray()[0];
  }

  setInstanceStatus(id: string, status: InstanceStatus, at: number): LiveInstance {
    const column = status === "running" ? "started_at" : status === "waiting" ? null : "finished_at";
    if (column) this.sql.exec(`UPDATE instances SET status = ?, ${column} = ? WHERE id = ?`, status, at, id);
    else this.sql.exec(`UPDATE instances SET status = ? WHERE id = ?`, status, id);
    return this.instance(id)!;
  }

  countRunning(env: string): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM instances WHERE env = ? AND status = 'running'`, env).one().n;
  }

  /** The next waiting instance in (priority, arrival) order. */
  nextWaiting(env: string): LiveInstance | undefined {
    return this.sql
      .exec<LiveInstance & Record<string, SqlStorageValue>>(
        `SELECT * FROM instances WHERE env = ? AND status = 'waiting' ORDER BY priority DESC, seq LIMIT 1`,
        env,
      )
      .toArray()[0];
  }

  insertNodeRun(row: NodeRunRow): void {
    const cols = Object.keys(row);
    this.sql.exec(
      `INSERT INTO node_runs (${cols.join(", ")}, current) VALUES (${cols.map(() => "?").join(", ")}, 1)`,
      ...cols.map((c) => row[c as keyof NodeRunRow]),
    );
  }

  nodeRun(id: string): (NodeRunRow & { current: number }) | undefined {
    return this.sql.exec<NodeRunRow & { current: number } & Record<string, SqlStorageValue>>(`SELECT * FROM node_runs WHERE id = ?`, id).toArray()[0];
  }

  /** The current attempt of every node of an instance. */
  currentRuns(instanceId: string): NodeRunRow[] {
    return this.sql
      .exec<NodeRunRow & Record<string, SqlStorageValue>>(`SELECT * FROM node_runs WHERE instance_id = ? AND current = 1`, instanceId)
      .toArray();
  }

  updateNodeRun(id: string, changes: Partial<Omit<NodeRunRow, "id">> & { status: NodeStatus }): NodeRunRow {
    const cols = Object.keys(changes);
    this.sql.exec(
      `UPDATE node_runs SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE id = ?`,
      ...cols.map((c) => changes[c as keyof typeof changes] ?? null),
      id,
    );
    const { current: _, ...row } = this.nodeRun(id)!;
    return row;
  }
}
