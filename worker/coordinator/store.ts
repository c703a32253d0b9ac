// The coordinator's SQLite tables: definitions, instances, node runs, timers and dedup keys of one workflow.
import type { WorkflowDefinition } from "../core/definition.ts";
import type { InstanceChanges, NodeRunChanges } from "../core/scheduler/host.ts";
import type { HttpJob, InstanceRecord, NodeRunRecord, TimerKind } from "../core/scheduler/records.ts";
import { applySchema } from "../db/durable-schema.ts";
import { FINISHED_INSTANCE, type InstanceStatus } from "../core/progress.ts";

export type LiveInstance = InstanceRecord;
export type LiveNodeRun = NodeRunRecord;

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
  // A finished node's timers go with it, not when they come due.
  `CREATE INDEX timers_ref ON timers (ref)`,
  // A dedup key outlives its instance's live state: it keeps the status the instance left with.
  `ALTER TABLE dedup ADD COLUMN status TEXT`,
  `CREATE INDEX dedup_instance ON dedup (instance_id)`,
  // Concurrency keys (DESIGN §2.9): the value the key resolved to, its limit, and why an instance was skipped.
  `ALTER TABLE instances ADD COLUMN concurrency_key TEXT`,
  `ALTER TABLE instances ADD COLUMN concurrency_limit INTEGER`,
  `ALTER TABLE instances ADD COLUMN reason TEXT`,
  // 1 for a waiting instance that heads its line: every keyless one, and per key value the first of its line
  // (see keepLineHead). Admission reads only heads, so a long line behind a full key costs it nothing.
  `ALTER TABLE instances ADD COLUMN line_head INTEGER NOT NULL DEFAULT 1`,
  `CREATE INDEX instances_key_line ON instances (concurrency_key, env, status, priority DESC, seq)`,
  // line_head is an equality column of these two, so the planner picks them over instances_by_status and
  // instances_key_line (a partial index it passes over); admission then walks heads only.
  `CREATE INDEX instances_line_heads ON instances (env, status, line_head, priority DESC, seq)`,
  `CREATE INDEX instances_key_heads ON instances (concurrency_key, env, status, line_head)`,
];

/**
 * Plain reads and writes over the workflow's tables, each one indexed lookup or scan: the scheduler
 * (core/scheduler/) decides, this only stores.
 */
export class CoordinatorStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    applySchema(sql, SCHEMA);
  }

  /** False when the definition was stored already. */
  saveDefinition(hash: string, def: WorkflowDefinition, weights: Record<string, number>): boolean {
    const cursor = this.sql.exec(`INSERT OR IGNORE INTO definitions (hash, json, weights) VALUES (?, ?, ?)`, hash, JSON.stringify(def), JSON.stringify(weights));
    return cursor.rowsWritten > 0;
  }

  definition(hash: string): { def: WorkflowDefinition; weights: Record<string, number> } {
    const row = this.sql.exec<{ json: string; weights: string }>(`SELECT json, weights FROM definitions WHERE hash = ?`, hash).one();
    return { def: JSON.parse(row.json) as WorkflowDefinition, weights: JSON.parse(row.weights) as Record<string, number> };
  }

  insertInstance(row: Omit<LiveInstance, "seq">): LiveInstance {
    const inserted = this.insert<LiveInstance>("instances", row);
    return this.keepLineHead(inserted);
  }

  instance(id: string): LiveInstance | undefined {
    return this.sql.exec<Row<LiveInstance>>(`SELECT * FROM instances WHERE id = ?`, id).toArray()[0];
  }

  updateInstance(id: string, changes: InstanceChanges): LiveInstance {
    const updated = this.update<LiveInstance>("instances", id, changes);
    return changes.status === undefined ? updated : this.keepLineHead(updated);
  }

  /**
   * An instance with a concurrency key joined or left waiting: its key's line may have a new head. Three
   * indexed statements, whatever the line's length. Returns the row as it now is.
   */
  private keepLineHead(row: LiveInstance): LiveInstance {
    const key = row.concurrency_key;
    if (key === null) return row;
    const head = this.sql
      .exec<{ id: string }>(`SELECT id FROM instances WHERE concurrency_key = ? AND env = ? AND status = 'waiting' ORDER BY priority DESC, seq LIMIT 1`, key, row.env)
      .toArray()[0]?.id ?? null;
    this.sql.exec(
      `UPDATE instances SET line_head = 0 WHERE concurrency_key = ? AND env = ? AND status = 'waiting' AND line_head = 1 AND id IS NOT ?`,
      key,
      row.env,
      head,
    );
    if (head !== null) this.sql.exec(`UPDATE instances SET line_head = 1 WHERE id = ? AND line_head = 0`, head);
    return this.instance(row.id)!;
  }

  /** Every live instance's id and status (a workflow being deleted terminates and forgets them). */
  instanceStatuses(): { id: string; status: LiveInstance["status"] }[] {
    return this.sql.exec<{ id: string; status: string }>(`SELECT id, status FROM instances`).toArray();
  }

  countRunning(env: string): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM instances WHERE env = ? AND status = 'running'`, env).one().n;
  }

  /**
   * Waiting line heads in (priority, arrival) order through their index, in pages that grow: the
   * first one usually starts, and the reader stops there; never all in memory.
   */
  waitingLineHeads(env: string): Generator<LiveInstance> {
    return this.pages(`SELECT * FROM instances WHERE env = ? AND status = 'waiting' AND line_head = 1 ORDER BY priority DESC, seq LIMIT ? OFFSET ?`, env);
  }

  /** A key value's waiting line in (priority, arrival) order, in pages that grow. */
  waitingWithConcurrencyKey(env: string, key: string): Generator<LiveInstance> {
    return this.pages(`SELECT * FROM instances WHERE concurrency_key = ? AND env = ? AND status = 'waiting' ORDER BY priority DESC, seq LIMIT ? OFFSET ?`, key, env);
  }

  private *pages(query: string, ...binds: SqlStorageValue[]): Generator<LiveInstance> {
    for (let offset = 0, page = 4; ; offset += page, page = Math.min(page * 2, 256)) {
      const rows = this.sql.exec<Row<LiveInstance>>(query, ...binds, page, offset).toArray();
      yield* rows;
      if (rows.length < page) return;
    }
  }

  countWaitingAhead(env: string, priority: number, seq: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM instances WHERE env = ? AND status = 'waiting' AND (priority > ? OR (priority = ? AND seq < ?))`,
        env,
        priority,
        priority,
        seq,
      )
      .one().n;
  }

  firstWithOrderingKey(env: string, key: string, status: "waiting" | "running"): LiveInstance | undefined {
    return this.sql
      .exec<Row<LiveInstance>>(`SELECT * FROM instances WHERE ordering_key = ? AND env = ? AND status = ? ORDER BY seq LIMIT 1`, key, env, status)
      .toArray()[0];
  }

  keyPlacesHeld(env: string, key: string): { running: number; exiting: number } {
    const running = this.sql
      .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM instances WHERE concurrency_key = ? AND env = ? AND status = 'running'`, key, env)
      .one().n;
    // Exiting attempts are few (a partial index holds them): their instances are looked up, not the key's history.
    const exiting = this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(DISTINCT i.id) AS n FROM node_runs r JOIN instances i ON i.id = r.instance_id
         WHERE r.exiting = 1 AND i.concurrency_key = ? AND i.env = ? AND i.status != 'running'`,
        key,
        env,
      )
      .one().n;
    return { running, exiting };
  }

  countWaitingAheadWithKey(env: string, key: string, priority: number, seq: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM instances WHERE concurrency_key = ? AND env = ? AND status = 'waiting' AND (priority > ? OR (priority = ? AND seq < ?))`,
        key,
        env,
        priority,
        priority,
        seq,
      )
      .one().n;
  }

  firstWithConcurrencyKey(env: string, key: string | null, status: "waiting" | "running"): LiveInstance | undefined {
    return this.sql
      .exec<Row<LiveInstance>>(`SELECT * FROM instances WHERE concurrency_key IS ? AND env = ? AND status = ? ORDER BY seq LIMIT 1`, key, env, status)
      .toArray()[0];
  }

  oldestRunning(env: string): LiveInstance | undefined {
    return this.sql.exec<Row<LiveInstance>>(`SELECT * FROM instances WHERE env = ? AND status = 'running' ORDER BY seq LIMIT 1`, env).toArray()[0];
  }

  instancesWithExitingRuns(): string[] {
    return this.sql.exec<{ id: string }>(`SELECT DISTINCT instance_id AS id FROM node_runs WHERE exiting = 1`).toArray().map((r) => r.id);
  }

  insertNodeRun(run: LiveNodeRun): void {
    this.insert("node_runs", run);
  }

  nodeRun(id: string): LiveNodeRun | undefined {
    return this.sql.exec<Row<LiveNodeRun>>(`SELECT * FROM node_runs WHERE id = ?`, id).toArray()[0];
  }

  /** The current attempt of every node of an instance. */
  currentRuns(instanceId: string): LiveNodeRun[] {
    return this.sql.exec<Row<LiveNodeRun>>(`SELECT * FROM node_runs WHERE instance_id = ? AND current = 1`, instanceId).toArray();
  }

  updateNodeRun(id: string, changes: NodeRunChanges): LiveNodeRun {
    return this.update<LiveNodeRun>("node_runs", id, changes);
  }

  saveHttpJob(job: HttpJob): void {
    this.sql.exec(`INSERT OR REPLACE INTO http_jobs (attempt_id, body) VALUES (?, ?)`, job.attemptId, JSON.stringify(job));
  }

  httpJob(attemptId: string): HttpJob | undefined {
    const row = this.sql.exec<{ body: string }>(`SELECT body FROM http_jobs WHERE attempt_id = ?`, attemptId).toArray()[0];
    return row ? (JSON.parse(row.body) as HttpJob) : undefined;
  }

  dropHttpJob(attemptId: string): void {
    this.sql.exec(`DELETE FROM http_jobs WHERE attempt_id = ?`, attemptId);
  }

  /** Forgets a finished instance's live state (its runs' timers and http jobs too); D1 keeps (and later purges) its history. */
  purgeInstance(id: string): void {
    const instance = this.instance(id);
    if (!instance || !FINISHED_INSTANCE.has(instance.status as InstanceStatus)) return;
    this.sql.exec(`UPDATE dedup SET status = ? WHERE instance_id = ?`, instance.status, id);
    for (const { id: runId } of this.sql.exec<{ id: string }>(`SELECT id FROM node_runs WHERE instance_id = ?`, id).toArray()) {
      this.sql.exec(`DELETE FROM timers WHERE ref = ?`, runId);
      this.sql.exec(`DELETE FROM http_jobs WHERE attempt_id = ?`, runId);
    }
    this.sql.exec(`DELETE FROM node_runs WHERE instance_id = ?`, id);
    this.sql.exec(`DELETE FROM instances WHERE id = ?`, id);
  }

  /** Forgets the definitions no live instance uses; returns their hashes. */
  forgetUnusedDefinitions(): string[] {
    return this.sql
      .exec<{ hash: string }>(`DELETE FROM definitions WHERE hash NOT IN (SELECT DISTINCT def_hash FROM instances) RETURNING hash`)
      .toArray()
      .map((r) => r.hash);
  }

  hasExitingRuns(instanceId: string): boolean {
    return this.sql.exec(`SELECT 1 FROM node_runs WHERE exiting = 1 AND instance_id = ? LIMIT 1`, instanceId).toArray().length > 0;
  }

  /** Row counts for the stats endpoint. */
  counts(): { liveInstances: number; nodeRuns: number; timers: number; definitions: number; dedupKeys: number } {
    const n = (table: string) => this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n;
    return { liveInstances: n("instances"), nodeRuns: n("node_runs"), timers: n("timers"), definitions: n("definitions"), dedupKeys: n("dedup") };
  }

  addTimer(kind: TimerKind, ref: string, dueAt: number): void {
    this.sql.exec(`INSERT INTO timers (due_at, kind, ref) VALUES (?, ?, ?)`, dueAt, kind, ref);
  }

  addTimerOnce(kind: TimerKind, ref: string, dueAt: number): void {
    const set = this.sql.exec<{ t: number | null }>(`SELECT MIN(due_at) AS t FROM timers WHERE ref = ? AND kind = ?`, ref, kind).one().t;
    if (set !== null && set <= dueAt) return;
    this.dropTimers(kind, ref);
    this.addTimer(kind, ref, dueAt);
  }

  dropTimers(kind: TimerKind, ref: string): void {
    this.sql.exec(`DELETE FROM timers WHERE ref = ? AND kind = ?`, ref, kind);
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

  dedupEntry(key: string): { instanceId: string; expiresAt: number; status: string | null } | undefined {
    const row = this.sql
      .exec<{ instance_id: string; expires_at: number; status: string | null }>(`SELECT instance_id, expires_at, status FROM dedup WHERE key = ?`, key)
      .toArray()[0];
    return row && { instanceId: row.instance_id, expiresAt: row.expires_at, status: row.status };
  }

  /** Up to `limit` expired keys, the oldest first. */
  forgetExpiredDedup(now: number, limit: number): void {
    this.sql.exec(`DELETE FROM dedup WHERE key IN (SELECT key FROM dedup WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, now, limit);
  }

  earliestDedupExpiry(): number | null {
    return this.sql.exec<{ t: number | null }>(`SELECT MIN(expires_at) AS t FROM dedup`).one().t;
  }

  rememberDedup(key: string, instanceId: string, expiresAt: number): void {
    this.sql.exec(`INSERT OR REPLACE INTO dedup (key, instance_id, expires_at, status) VALUES (?, ?, ?, NULL)`, key, instanceId, expiresAt);
  }

  private insert<T>(table: string, row: object): T {
    const cols = Object.keys(row);
    return this.sql
      .exec<Row<T>>(
        `INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")}) RETURNING *`,
        ...cols.map((c) => (row as Record<string, SqlStorageValue>)[c] ?? null),
      )
      .one();
  }

  /** Changes the given columns and returns the row as changed (one statement: `RETURNING`, no re-read). */
  private update<T>(table: string, id: string, changes: object): T {
    const cols = Object.keys(changes);
    return this.sql
      .exec<Row<T>>(
        `UPDATE ${table} SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE id = ? RETURNING *`,
        ...cols.map((c) => (changes as Record<string, SqlStorageValue>)[c] ?? null),
        id,
      )
      .one();
  }
}
