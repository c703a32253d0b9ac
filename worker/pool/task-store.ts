// The pool's SQLite tables: ready and leased tasks in priority order, fair-share passes, connected runners, and finished attempt ids.
import type { LevelPasses } from "../core/fair-share.ts";
import type { LeaseHost, PoolTask, TaskState } from "../core/leases.ts";
import type { QueuedTask } from "../core/runner-protocol.ts";
import { applySchema } from "../db/durable-schema.ts";

/** A task row with its payload (what the runner gets). */
export interface TaskRow extends Record<string, SqlStorageValue> {
  attempt_id: string;
  payload: string;
  state: string;
  priority: number;
  weight: number;
  instance_id: string;
  workspace_id: string;
  share: number;
}

/**
 * How long a finished attempt id is remembered. A coordinator that dies between a successful pool
 * call and deleting its outbox row repeats the call from its alarm seconds later; a day covers any
 * outage of that coordinator the pool itself outlives, and bounds the table by a day of attempts.
 */
export const FINISHED_MEMORY_MS = 24 * 3600 * 1000;
/** Expired ids removed with each new one: the table shrinks faster than it grows once a day has passed. */
const PURGE_PER_INSERT = 20;

const SCHEMA = [
  `CREATE TABLE tasks (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     attempt_id TEXT NOT NULL UNIQUE,
     workflow_id TEXT NOT NULL,
     priority INTEGER NOT NULL,
     weight INTEGER NOT NULL,
     payload TEXT NOT NULL,
     state TEXT NOT NULL,
     runner_id TEXT,
     lease_expires_at INTEGER,
     log_bytes INTEGER NOT NULL DEFAULT 0)`,
  // Strict priority across every workflow of the group: highest (priority, weight), then oldest.
  `CREATE INDEX tasks_ready ON tasks (state, priority DESC, weight DESC, seq)`,
  `CREATE INDEX tasks_lease ON tasks (state, lease_expires_at)`,
  `CREATE TABLE runners (id TEXT PRIMARY KEY, name TEXT NOT NULL, slots INTEGER NOT NULL, last_seen INTEGER NOT NULL)`,
  // Whether the runner has confirmed the task (heartbeat, log or result): an unconfirmed lease that
  // expires went to a runner that never got it (e.g. its long-poll died with it) and is offered again.
  `ALTER TABLE tasks ADD COLUMN acked INTEGER NOT NULL DEFAULT 0`,
  // Where a log chunk belongs, for live followers of the instance.
  `ALTER TABLE tasks ADD COLUMN instance_id TEXT NOT NULL DEFAULT ''`,
  `ALTER TABLE tasks ADD COLUMN node_name TEXT NOT NULL DEFAULT ''`,
  `ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0`,
  // Attempts that left the pool (completed, lost, cancelled): a repeated enqueue never brings one back.
  `CREATE TABLE finished (attempt_id TEXT PRIMARY KEY, until INTEGER NOT NULL)`,
  `CREATE INDEX finished_until ON finished (until)`,
  // The other attempts of a node, so a new one waits while an old one may still be running.
  `CREATE INDEX tasks_node ON tasks (instance_id, node_name)`,
  // When a leased task is overdue: its node's timeout plus grace after the lease (see overdue()).
  `ALTER TABLE tasks ADD COLUMN deadline_at INTEGER`,
  // The instance's workspace: leased only to that workspace's runners. '' marks a task queued before pools were
  // per workspace; the pool resolves it through D1 before leasing (ResourcePool.adoptLegacyTasks).
  `ALTER TABLE tasks ADD COLUMN workspace_id TEXT NOT NULL DEFAULT ''`,
  // Runner ids are issued by the pool at registration and bound to the token that registered; ids runners chose
  // for themselves before that are dropped (such a runner registers again).
  `ALTER TABLE runners ADD COLUMN key_id TEXT`,
  `DELETE FROM runners WHERE key_id IS NULL`,
  // Every lease has its own random id (DESIGN §2.6): heartbeats, logs and results must carry it.
  `ALTER TABLE tasks ADD COLUMN lease_id TEXT`,
  `CREATE INDEX tasks_runner ON tasks (runner_id, state)`,
  // Instances someone follows live, until when (core/watch.ts): only their log chunks go on to the coordinator.
  `CREATE TABLE watches (instance_id TEXT PRIMARY KEY, until INTEGER NOT NULL)`,
  // Fair share within a priority level (core/fair-share.ts): the workflow's policy.share; tasks queued before it have 1.
  `ALTER TABLE tasks ADD COLUMN share INTEGER NOT NULL DEFAULT 1`,
  // Each read of a grant is a seek: the top level, the workflows ready at it, one workflow's next tasks.
  `CREATE INDEX tasks_fair ON tasks (state, workspace_id, priority, workflow_id, weight DESC, seq)`,
  // Slots are no longer handed out in one order across workflows (tasks_fair serves every read it served).
  `DROP INDEX tasks_ready`,
  // Stride state per level: the pass of the workflow served last, and the passes of workflows ahead of it.
  `CREATE TABLE fair_levels (workspace_id TEXT NOT NULL, priority INTEGER NOT NULL, clock INTEGER NOT NULL, PRIMARY KEY (workspace_id, priority))`,
  `CREATE TABLE fair_passes (workspace_id TEXT NOT NULL, priority INTEGER NOT NULL, workflow_id TEXT NOT NULL, pass INTEGER NOT NULL,
     PRIMARY KEY (workspace_id, priority, workflow_id))`,
  `CREATE INDEX fair_passes_behind ON fair_passes (workspace_id, priority, pass)`,
];

/** Passes that fell behind a level's clock, removed with each save: they say nothing (see core/fair-share.ts). */
const PASS_PURGE = 20;

/** The columns core/leases.ts decides on (the payload stays here). */
const TASK_COLUMNS = `attempt_id, workflow_id, instance_id, node_name, attempt, workspace_id, priority, weight, share, seq, state, runner_id, lease_id,
  lease_expires_at, deadline_at, acked, log_bytes, COALESCE(json_extract(payload, '$.timeoutSeconds'), 3600) AS timeout_seconds`;

interface PoolTaskRow extends Record<string, SqlStorageValue> {
  attempt_id: string;
  workflow_id: string;
  instance_id: string;
  node_name: string;
  attempt: number;
  workspace_id: string;
  priority: number;
  weight: number;
  share: number;
  seq: number;
  state: string;
  runner_id: string | null;
  lease_id: string | null;
  lease_expires_at: number | null;
  deadline_at: number | null;
  acked: number;
  log_bytes: number;
  timeout_seconds: number;
}

const toTask = (r: PoolTaskRow): PoolTask => ({
  attemptId: r.attempt_id,
  workflowId: r.workflow_id,
  instanceId: r.instance_id,
  nodeName: r.node_name,
  attempt: r.attempt,
  workspaceId: r.workspace_id,
  priority: Number(r.priority),
  weight: Number(r.weight),
  share: Number(r.share),
  seq: r.seq,
  state: r.state as TaskState,
  runnerId: r.runner_id,
  leaseId: r.lease_id,
  leaseExpiresAt: r.lease_expires_at,
  deadlineAt: r.deadline_at,
  acked: r.acked === 1,
  logBytes: r.log_bytes,
  timeoutSeconds: Number(r.timeout_seconds),
});

export interface RunnerRow {
  id: string;
  name: string;
  slots: number;
  lastSeen: number;
  running: number;
}

/** The pool's host for core/leases.ts: its SQLite, the wall clock and random lease ids. */
export class TaskStore implements LeaseHost {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    applySchema(sql, SCHEMA);
  }

  /** Until when the instance is watched, as its coordinator last said (null: not watched). */
  watchedUntil(instanceId: string): number | null {
    return this.sql.exec<{ until: number }>(`SELECT until FROM watches WHERE instance_id = ?`, instanceId).toArray()[0]?.until ?? null;
  }

  /** Sets or ends an instance's watch; lapsed ones go with it. */
  setWatch(instanceId: string, until: number | null, now: number): void {
    this.sql.exec(`DELETE FROM watches WHERE until <= ? OR instance_id = ?`, now, instanceId);
    if (until !== null) this.sql.exec(`INSERT INTO watches (instance_id, until) VALUES (?, ?)`, instanceId, until);
  }

  /** Adds tasks that are neither in the pool nor finished; a repeated call changes nothing. */
  enqueue(tasks: QueuedTask[]): void {
    for (const t of tasks) {
      this.sql.exec(
        `INSERT OR IGNORE INTO tasks (attempt_id, workflow_id, instance_id, node_name, attempt, priority, weight, share, payload, state, workspace_id)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ready', ? WHERE NOT EXISTS (SELECT 1 FROM finished WHERE attempt_id = ?)`,
        t.task.attemptId,
        t.task.workflowId,
        t.task.instanceId,
        t.task.nodeName,
        t.task.attempt,
        t.priority,
        t.weight,
        t.share ?? 1,
        JSON.stringify(t.task),
        t.workspaceId ?? "",
        t.task.attemptId,
      );
    }
  }

  now(): number {
    return Date.now();
  }

  /** 122 random bits: a lease id is never guessed nor issued twice. */
  newLeaseId(): string {
    return `lse_${crypto.randomUUID().replaceAll("-", "")}`;
  }

  task(attemptId: string): PoolTask | undefined {
    return this.tasks(`WHERE attempt_id = ?`, attemptId)[0];
  }

  /** The payload the runner gets, for granted tasks. */
  payload(attemptId: string): string {
    return this.sql.exec<{ payload: string }>(`SELECT payload FROM tasks WHERE attempt_id = ?`, attemptId).one().payload;
  }

  topReadyLevel(workspaceId: string, below: number | null): number | null {
    return this.sql
      .exec<{ p: number | null }>(`SELECT MAX(priority) AS p FROM tasks WHERE state = 'ready' AND workspace_id = ? AND priority < ?`, workspaceId, below ?? Number.MAX_SAFE_INTEGER)
      .one().p;
  }

  /** Distinct workflows by skipping through tasks_fair, one seek per workflow, however long each one's line is. */
  readyWorkflows(workspaceId: string, priority: number): string[] {
    const next = `SELECT MIN(workflow_id) FROM tasks WHERE state = 'ready' AND workspace_id = ?1 AND priority = ?2`;
    return this.sql
      .exec<{ id: string }>(
        `WITH RECURSIVE w(id) AS (${next} UNION ALL SELECT (${next} AND workflow_id > w.id) FROM w WHERE w.id IS NOT NULL)
         SELECT id FROM w WHERE id IS NOT NULL`,
        workspaceId,
        priority,
      )
      .toArray()
      .map((r) => r.id);
  }

  readyOfWorkflow(workspaceId: string, priority: number, workflowId: string, after: PoolTask | null, limit: number): PoolTask[] {
    const line = `WHERE state = 'ready' AND workspace_id = ? AND priority = ? AND workflow_id = ?`;
    const order = `ORDER BY weight DESC, seq LIMIT ?`;
    if (after === null) return this.tasks(`${line} ${order}`, workspaceId, priority, workflowId, limit);
    return this.tasks(`${line} AND (weight < ? OR (weight = ? AND seq > ?)) ${order}`, workspaceId, priority, workflowId, after.weight, after.weight, after.seq, limit);
  }

  levelPasses(workspaceId: string, priority: number): LevelPasses {
    const clock = this.sql.exec<{ clock: number }>(`SELECT clock FROM fair_levels WHERE workspace_id = ? AND priority = ?`, workspaceId, priority).toArray()[0]?.clock ?? 0;
    const rows = this.sql.exec<{ workflow_id: string; pass: number }>(
      `SELECT workflow_id, pass FROM fair_passes WHERE workspace_id = ? AND priority = ? AND pass > ?`,
      workspaceId,
      priority,
      clock,
    );
    return { clock, passes: new Map([...rows].map((r) => [r.workflow_id, r.pass])) };
  }

  savePass(workspaceId: string, priority: number, clock: number, workflowId: string, pass: number): void {
    this.sql.exec(
      `INSERT INTO fair_levels (workspace_id, priority, clock) VALUES (?, ?, ?) ON CONFLICT (workspace_id, priority) DO UPDATE SET clock = excluded.clock`,
      workspaceId,
      priority,
      clock,
    );
    this.sql.exec(
      `INSERT INTO fair_passes (workspace_id, priority, workflow_id, pass) VALUES (?, ?, ?, ?)
       ON CONFLICT (workspace_id, priority, workflow_id) DO UPDATE SET pass = excluded.pass`,
      workspaceId,
      priority,
      workflowId,
      pass,
    );
    this.sql.exec(
      `DELETE FROM fair_passes WHERE rowid IN (SELECT rowid FROM fair_passes WHERE workspace_id = ? AND priority = ? AND pass <= ? LIMIT ?)`,
      workspaceId,
      priority,
      clock,
      PASS_PURGE,
    );
  }

  attemptsOfNode(instanceId: string, nodeName: string): PoolTask[] {
    return this.tasks(`WHERE instance_id = ? AND node_name = ?`, instanceId, nodeName);
  }

  attemptsOfRunner(runnerId: string): PoolTask[] {
    return this.tasks(`WHERE runner_id = ?`, runnerId);
  }

  runnerSlots(runnerId: string): number {
    return this.sql.exec<{ slots: number }>(`SELECT slots FROM runners WHERE id = ?`, runnerId).toArray()[0]?.slots ?? 0;
  }

  expiredLeases(now: number): PoolTask[] {
    return this.tasks(`WHERE state IN ('leased', 'cancelling') AND lease_expires_at <= ?`, now);
  }

  overdue(now: number): PoolTask[] {
    return this.tasks(`WHERE state = 'leased' AND deadline_at <= ?`, now);
  }

  reportsDue(now: number): PoolTask[] {
    return this.tasks(`WHERE state IN ('lost', 'gone') AND lease_expires_at <= ?`, now);
  }

  save(task: PoolTask): void {
    this.sql.exec(
      `UPDATE tasks SET state = ?, runner_id = ?, lease_id = ?, lease_expires_at = ?, deadline_at = ?, acked = ?, log_bytes = ? WHERE attempt_id = ?`,
      task.state,
      task.runnerId,
      task.leaseId,
      task.leaseExpiresAt,
      task.deadlineAt,
      task.acked ? 1 : 0,
      task.logBytes,
      task.attemptId,
    );
  }

  /** The attempt left the pool for good: its row goes and its id is remembered (see FINISHED_MEMORY_MS). */
  finish(attemptId: string, now = this.now()): void {
    this.sql.exec(`DELETE FROM tasks WHERE attempt_id = ?`, attemptId);
    this.sql.exec(`INSERT OR IGNORE INTO finished (attempt_id, until) VALUES (?, ?)`, attemptId, now + FINISHED_MEMORY_MS);
    this.sql.exec(`DELETE FROM finished WHERE attempt_id IN (SELECT attempt_id FROM finished WHERE until <= ? LIMIT ?)`, now, PURGE_PER_INSERT);
  }

  /** When the alarm must next run: the earliest lease to expire, report to send, or task to become overdue. */
  nextDue(): number | null {
    return this.sql
      .exec<{ t: number | null }>(
        `SELECT MIN(t) AS t FROM (
           SELECT MIN(lease_expires_at) AS t FROM tasks WHERE state IN ('leased', 'cancelling', 'lost', 'gone')
           UNION ALL SELECT MIN(deadline_at) FROM tasks WHERE state = 'leased')`,
      )
      .one().t;
  }

  private tasks(where: string, ...params: SqlStorageValue[]): PoolTask[] {
    return this.sql.exec<PoolTaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks ${where}`, ...params).toArray().map(toTask);
  }

  /** Ready tasks queued before pools were per workspace, whose workspace is not known yet. */
  legacyReady(limit: number): TaskRow[] {
    return this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE state = 'ready' AND workspace_id = '' LIMIT ?`, limit).toArray();
  }

  setWorkspace(attemptId: string, workspaceId: string): void {
    this.sql.exec(`UPDATE tasks SET workspace_id = ? WHERE attempt_id = ?`, workspaceId, attemptId);
  }

  /** Whether the attempt ever was in this pool (queued, leased, or finished within FINISHED_MEMORY_MS). */
  known(attemptId: string): boolean {
    return this.sql.exec(`SELECT 1 FROM tasks WHERE attempt_id = ?`, attemptId).toArray().length > 0 || this.sql.exec(`SELECT 1 FROM finished WHERE attempt_id = ?`, attemptId).toArray().length > 0;
  }

  runners(): RunnerRow[] {
    return this.sql
      .exec<{ id: string; name: string; slots: number; last_seen: number; running: number }>(
        `SELECT r.id, r.name, r.slots, r.last_seen,
           (SELECT COUNT(*) FROM tasks t WHERE t.runner_id = r.id AND t.state IN ('leased', 'cancelling')) AS running
         FROM runners r ORDER BY r.name`,
      )
      .toArray()
      .map((r) => ({ id: r.id, name: r.name, slots: r.slots, lastSeen: r.last_seen, running: r.running }));
  }

  /** A runner id issued now, bound to the token (key id) that registered. */
  registerRunner(runnerId: string, keyId: string, name: string, slots: number, now: number): void {
    this.sql.exec(`INSERT INTO runners (id, name, slots, last_seen, key_id) VALUES (?, ?, ?, ?, ?)`, runnerId, name, slots, now, keyId);
  }

  /** Whether this pool issued `runnerId` to the token `keyId`. */
  registered(runnerId: string, keyId: string): boolean {
    return this.sql.exec(`SELECT 1 FROM runners WHERE id = ? AND key_id = ?`, runnerId, keyId).toArray().length > 0;
  }

  /** Forgets runners last seen before `before` that hold no task (their leases ran out long ago). */
  forgetRunners(before: number): number {
    return this.sql.exec(
      `DELETE FROM runners WHERE last_seen < ? AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.runner_id = runners.id)`,
      before,
    ).rowsWritten;
  }

  /** Row counts for the stats endpoint. */
  counts(): { ready: number; leased: number; runners: number; finished: number } {
    const n = (sql: string) => this.sql.exec<{ n: number }>(sql).one().n;
    return {
      ready: n(`SELECT COUNT(*) AS n FROM tasks WHERE state = 'ready'`),
      leased: n(`SELECT COUNT(*) AS n FROM tasks WHERE state IN ('leased', 'cancelling')`),
      runners: n(`SELECT COUNT(*) AS n FROM runners`),
      finished: n(`SELECT COUNT(*) AS n FROM finished`),
    };
  }

  /** Last seen, and the slots a heartbeat reports (a claim leaves them). Registered runners only. */
  touchRunner(runnerId: string, name: string, slots: number | null, now: number): void {
    this.sql.exec(
      `UPDATE runners SET name = ?, last_seen = ?, slots = COALESCE(?, slots) WHERE id = ?`,
      name,
      now,
      slots,
      runnerId,
    );
  }
}
