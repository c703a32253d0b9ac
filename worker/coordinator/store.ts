// The coordinator's SQLite tables: definitions, instances, node runs, timers and dedup keys of one workflow.
import type { WorkflowDefinition } from "../core/definition.ts";
import type { InstanceStatus, NodeStatus } from "../core/progress.ts";
import { applySchema } from "../db/durable-schema.ts";
import type { InstanceRow, NodeRunRow } from "../db/mirror.ts";

export interface LiveInstance extends InstanceRow {
  seq: number;
  def_hash: string;
  priority_override: number | null;
  max_parallel: number | null;
  ordering_key: string | null;
  cyctime: number;
}

export interface LiveNodeRun extends NodeRunRow {
  current: number;
  /** A retry waits for its delay: not dispatched before this time. */
  not_before: number | null;
  chosen: string | null;
  /** Earlier attempts of this node lost to the machine (infrastructure retries used). */
  lost: number;
  /** 1 while a stopped attempt's process may still live. */
  exiting: number;
}

export type TimerKind = "retry" | "timeout" | "purge" | "exit" | "http";

type Row<T> = T & Record<string, SqlStorageValue>;

const SCHEMA = [
  `CREATE TABLE definitions (hash TEXT PRIMARY KEY, json TEXT NOT NULL, weights TEXT NOT NULL)`,
  `CREATE TABLE instances (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     workspace_id TEXT NOT NULL, workflow_id TEXT NOT NULL, workflow_name TEXT NOT NULL,
     version INTEGER, env TEXT NOT NULL, status TEXT NOT NULL,
     priority INTEGER NOT NULL, priority_override INTEGER, max_parallel INTEGER, ordering_key TEXT,
     run_date TEXT, trigger_type TEXT NOT NULL, trigger_message TEXT NOT NULL, params TEXT NOT NULL,
     def_hash TEXT NOT NULL, cyctime INTEGER NOT NULL,
     created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER)`,
  // Waiting instances are admitted in (priority, arrival) order through this index, never all in memory.
  `CREATE INDEX instances_by_status ON instances (env, status, priority DESC, seq)`,
  `CREATE INDEX instances_by_ordering_key ON instances (ordering_key, env, status, seq)`,
  `CREATE TABLE node_runs (
     id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, node_name TEXT NOT NULL, node_type TEXT NOT NULL,
     attempt INTEGER NOT NULL, current INTEGER NOT NULL, status TEXT NOT NULL, runner_id TEXT, not_before INTEGER,
     queued_at INTEGER, started_at INTEGER, finished_at INTEGER, exit_code INTEGER, error TEXT, outputs TEXT)`,
  `CREATE INDEX node_runs_current ON node_runs (instance_id, current)`,
  // Every timer of the workflow in one due-table; the single DO alarm is armed to its earliest row.
  `CREATE TABLE timers (id INTEGER PRIMARY KEY AUTOINCREMENT, due_at INTEGER NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL)`,
  `CREATE INDEX timers_due ON timers (due_at)`,
  `CREATE TABLE dedup (key TEXT PRIMARY KEY, instance_id TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
  `CREATE INDEX dedup_expiry ON dedup (expires_at)`,
  // A succeeded branch node's choice: the downstream nodes it lets run, JSON array.
  `ALTER TABLE node_runs ADD COLUMN chosen TEXT`,
  // Attempts of this node lost to the machine before this one (infrastructure retries, DESIGN §2.6).
  `ALTER TABLE node_runs ADD COLUMN lost INTEGER NOT NULL DEFAULT 0`,
  // A stopped attempt whose process may still live: its instance keeps its place in maxParallel (DESIGN §2.5).
  `ALTER TABLE node_runs ADD COLUMN exiting INTEGER NOT NULL DEFAULT 0`,
  `CREATE INDEX node_runs_exiting ON node_runs (exiting) WHERE exiting = 1`,
  // http nodes' requests until their outcome is recorded: one cut off by an eviction is made again.
  `CREATE TABLE http_jobs (attempt_id TEXT PRIMARY KEY, body TEXT NOT NULL)`,
];

export class CoordinatorStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    applySchema(sql, SCHEMA);
  }

  saveDefinition(hash: string, def: WorkflowDefinition, weights: Record<string, number>): void {
    this.sql.exec(`INSERT OR IGNORE INTO definitions (hash, json, weights) VALUES (?, ?, ?)`, hash, JSON.stringify(def), JSON.stringify(weights));
  }

  definition(hash: string): { def: WorkflowDefinition; weights: Record<string, number> } {
    const row = this.sql.exec<{ json: string; weights: string }>(`SELECT json, weights FROM definitions WHERE hash = ?`, hash).one();
    return { def: JSON.parse(row.json) as WorkflowDefinition, weights: JSON.parse(row.weights) as Record<string, number> };
  }

  insertInstance(row: Omit<LiveInstance, "seq">): void {
    this.insert("instances", row);
  }

  instance(id: string): LiveInstance | undefined {
    return this.sql.exec<Row<LiveInstance>>(`SELECT * FROM instances WHERE id = ?`, id).toArray()[0];
  }

  /** Changes the status and returns the row as changed (one statement: `RETURNING`, no re-read). */
  setInstanceStatus(id: string, status: InstanceStatus, at: number): LiveInstance {
    const changed =
      status === "running"
        ? this.sql.exec<Row<LiveInstance>>(`UPDATE instances SET status = ?, started_at = ?, finished_at = NULL WHERE id = ? RETURNING *`, status, at, id)
        : status === "waiting"
          ? this.sql.exec<Row<LiveInstance>>(`UPDATE instances SET status = ?, finished_at = NULL WHERE id = ? RETURNING *`, status, id)
          : this.sql.exec<Row<LiveInstance>>(`UPDATE instances SET status = ?, finished_at = ? WHERE id = ? RETURNING *`, status, at, id);
    return changed.one();
  }

  /** Every live instance's id and status (a workflow being deleted terminates and forgets them). */
  instanceStatuses(): { id: string; status: InstanceStatus }[] {
    return this.sql.exec<{ id: string; status: InstanceStatus }>(`SELECT id, status FROM instances`).toArray();
  }

  /** Instances holding a place in maxParallel: running, or not running with a stopped process still exiting (core/attempts.ts). */
  countRunning(env: string): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM instances WHERE env = ? AND status = 'running'`, env).one().n + this.countExiting(env);
  }

  /** Instances not running whose place is held by a stopped process still exiting. */
  countExiting(env: string): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(DISTINCT n.instance_id) AS n FROM node_runs n JOIN instances i ON i.id = n.instance_id
         WHERE n.exiting = 1 AND i.env = ? AND i.status != 'running'`,
        env,
      )
      .one().n;
  }


  /** Marks stopped attempts as exiting (true) or their processes as gone (false); returns the rows that changed. */
  setExiting(runIds: readonly string[], exiting: boolean): LiveNodeRun[] {
    const changed: LiveNodeRun[] = [];
    for (const id of runIds) {
      changed.push(...this.sql.exec<Row<LiveNodeRun>>(`UPDATE node_runs SET exiting = ? WHERE id = ? AND exiting = ? RETURNING *`, exiting ? 1 : 0, id, exiting ? 0 : 1).toArray());
    }
    return changed;
  }

  /**
   * The next waiting instance in (priority, arrival) order whose ordering key is free: no instance
   * with that key is running, and none with that key arrived earlier and still waits.
   */
  nextWaiting(env: string): LiveInstance | undefined {
    return this.sql
      .exec<Row<LiveInstance>>(
        `SELECT * FROM instances i WHERE i.env = ? AND i.status = 'waiting' AND (i.ordering_key IS NULL OR (
           NOT EXISTS (SELECT 1 FROM instances r WHERE r.ordering_key = i.ordering_key AND r.env = i.env AND r.status = 'running')
           AND NOT EXISTS (SELECT 1 FROM instances e WHERE e.ordering_key = i.ordering_key AND e.env = i.env AND e.status = 'waiting' AND e.seq < i.seq)))
         ORDER BY i.priority DESC, i.seq LIMIT 1`,
        env,
      )
      .toArray()[0];
  }

  waitingAhead(instance: LiveInstance): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM instances WHERE env = ? AND status = 'waiting' AND (priority > ? OR (priority = ? AND seq < ?))`,
        instance.env,
        instance.priority,
        instance.priority,
        instance.seq,
      )
      .one().n;
  }

  /** `lost`: attempts of this node lost to the machine before this one. */
  insertNodeRun(row: NodeRunRow, notBefore: number | null = null, lost = 0): void {
    this.insert("node_runs", { ...row, current: 1, not_before: notBefore, chosen: null, lost, exiting: 0 });
  }

  setChosen(runId: string, chosen: string[]): void {
    this.sql.exec(`UPDATE node_runs SET chosen = ? WHERE id = ?`, JSON.stringify(chosen), runId);
  }

  nodeRun(id: string): LiveNodeRun | undefined {
    return this.sql.exec<Row<LiveNodeRun>>(`SELECT * FROM node_runs WHERE id = ?`, id).toArray()[0];
  }

  /** The current attempt of every node of an instance. */
  currentRuns(instanceId: string): LiveNodeRun[] {
    return this.sql.exec<Row<LiveNodeRun>>(`SELECT * FROM node_runs WHERE instance_id = ? AND current = 1`, instanceId).toArray();
  }

  /** Retires the current attempt of a node so a new one can take its place. */
  retire(runId: string): void {
    this.sql.exec(`UPDATE node_runs SET current = 0 WHERE id = ?`, runId);
  }

  updateNodeRun(id: string, changes: Partial<Omit<NodeRunRow, "id">> & { status: NodeStatus }): NodeRunRow {
    const cols = Object.keys(changes);
    const changed = this.sql
      .exec<Row<LiveNodeRun>>(
        `UPDATE node_runs SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE id = ? RETURNING *`,
        ...cols.map((c) => changes[c as keyof typeof changes] ?? null),
        id,
      )
      .one();
    const { current: _c, not_before: _n, chosen: _ch, lost: _l, exiting: _e, ...row } = changed;
    return row;
  }

  saveHttpJob(attemptId: string, job: object): void {
    this.sql.exec(`INSERT OR REPLACE INTO http_jobs (attempt_id, body) VALUES (?, ?)`, attemptId, JSON.stringify(job));
  }

  httpJob<T>(attemptId: string): T | undefined {
    const row = this.sql.exec<{ body: string }>(`SELECT body FROM http_jobs WHERE attempt_id = ?`, attemptId).toArray()[0];
    return row ? (JSON.parse(row.body) as T) : undefined;
  }

  dropHttpJob(attemptId: string): void {
    this.sql.exec(`DELETE FROM http_jobs WHERE attempt_id = ?`, attemptId);
  }

  /** Forgets a finished instance's live state; D1 keeps (and later purges) its history. */

  purgeInstance(id: string): void {
    this.sql.exec(`DELETE FROM node_runs WHERE instance_id = ?`, id);

    this.sql.exec(`DELETE FROM instances WHERE id = ? AND status IN ('succeeded', 'failed', 'terminated')`, id);
  }

  addTimer(kind: TimerKind, ref: string, dueAt: number): void {
    this.sql.exec(`INSERT INTO timers (due_at, kind, ref) VALUES (?, ?, ?)`, dueAt, kind, ref);
  }

  /** Takes (removes and returns) the timers due by `now`. */
  takeDueTimers(now: number, limit = 500): { kind: TimerKind; ref: string }[] {
    const rows = this.sql.exec<{ id: number; kind: TimerKind; ref: string }>(`SELECT id, kind, ref FROM timers WHERE due_at <= ? ORDER BY due_at LIMIT ?`, now, limit).toArray();
    for (const r of rows) this.sql.exec(`DELETE FROM timers WHERE id = ?`, r.id);
    return rows;
  }

  nextTimerAt(): number | null {
    return this.sql.exec<{ t: number | null }>(`SELECT MIN(due_at) AS t FROM timers`).one().t;
  }

  /** The instance a dedup key already started inside its window, if any. */
  dedupHit(key: string, now: number): string | null {
    // Amortized clean-up: a few expired keys go with every lookup.
    this.sql.exec(`DELETE FROM dedup WHERE key IN (SELECT key FROM dedup WHERE expires_at <= ? LIMIT 20)`, now);
    const row = this.sql.exec<{ instance_id: string; expires_at: number }>(`SELECT instance_id, expires_at FROM dedup WHERE key = ?`, key).toArray()[0];
    return row && row.expires_at > now ? row.instance_id : null;
  }

  rememberDedup(key: string, instanceId: string, expiresAt: number): void {
    this.sql.exec(`INSERT OR REPLACE INTO dedup (key, instance_id, expires_at) VALUES (?, ?, ?)`, key, instanceId, expiresAt);
  }

  private insert(table: string, row: object): void {
    const cols = Object.keys(row);
    this.sql.exec(
      `INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
      ...cols.map((c) => (row as Record<string, SqlStorageValue>)[c] ?? null),
    );
  }
}
