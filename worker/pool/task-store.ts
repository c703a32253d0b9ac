// The pool's SQLite tables: ready and leased tasks in priority order, connected runners, and finished attempt ids.
import type { QueuedTask } from "../core/runner-protocol.ts";
import { applySchema } from "../db/durable-schema.ts";

export interface TaskRow extends Record<string, SqlStorageValue> {
  attempt_id: string;
  workflow_id: string;
  payload: string;
  state: TaskState;
  runner_id: string | null;
  lease_expires_at: number | null;
  deadline_at: number | null;
  acked: number;
  log_bytes: number;
  instance_id: string;
  node_name: string;
  attempt: number;
  workspace_id: string;
}

/**
 * `ready` waits for a runner; `leased` is held by one; `cancelling` was leased when its instance was
 * terminated (its runner is told to kill it at the next heartbeat); `lost` outlived its lease and
 * waits to be reported to its coordinator.
 */
export type TaskState = "ready" | "leased" | "cancelling" | "lost";

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
];

export interface RunnerRow {
  id: string;
  name: string;
  slots: number;
  lastSeen: number;
  running: number;
}

export class TaskStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    applySchema(sql, SCHEMA);
  }

  /** Adds tasks that are neither in the pool nor finished; a repeated call changes nothing. */
  enqueue(tasks: QueuedTask[]): void {
    for (const t of tasks) {
      this.sql.exec(
        `INSERT OR IGNORE INTO tasks (attempt_id, workflow_id, instance_id, node_name, attempt, priority, weight, payload, state, workspace_id)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, 'ready', ? WHERE NOT EXISTS (SELECT 1 FROM finished WHERE attempt_id = ?)`,
        t.task.attemptId,
        t.task.workflowId,
        t.task.instanceId,
        t.task.nodeName,
        t.task.attempt,
        t.priority,
        t.weight,
        JSON.stringify(t.task),
        t.workspaceId ?? "",
        t.task.attemptId,
      );
    }
  }

  /**
   * Leases up to `slots` ready tasks in strict priority order. A task waits while another attempt of
   * its node is still leased or being cancelled: after a timeout or a terminate and rerun, the old
   * process may live until its runner's next heartbeat, and a node never runs twice at once. Only tasks of
   * the runner's workspace are leased (DESIGN §1), whatever pool they reached.
   */
  lease(runnerId: string, workspaceId: string, slots: number, expires: number, graceMs: number): TaskRow[] {
    const rows = this.sql
      .exec<TaskRow>(
        `SELECT * FROM tasks t WHERE t.state = 'ready' AND t.workspace_id = ? AND NOT EXISTS (
           SELECT 1 FROM tasks o WHERE o.instance_id = t.instance_id AND o.node_name = t.node_name AND t.instance_id <> ''
             AND o.attempt_id <> t.attempt_id AND o.state IN ('leased', 'cancelling'))
         ORDER BY t.priority DESC, t.weight DESC, t.seq LIMIT ?`,
        workspaceId,
        slots,
      )
      .toArray();
    const deadlineBase = Date.now() + graceMs;
    for (const row of rows) {
      this.sql.exec(
        `UPDATE tasks SET state = 'leased', runner_id = ?, lease_expires_at = ?,
           deadline_at = ? + COALESCE(json_extract(payload, '$.timeoutSeconds'), 3600) * 1000 WHERE attempt_id = ?`,
        runnerId,
        expires,
        deadlineBase,
        row.attempt_id,
      );
    }
    return rows;
  }

  task(attemptId: string): TaskRow | undefined {
    return this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE attempt_id = ?`, attemptId).toArray()[0];
  }

  /** The runner holds the task: its lease runs until `expires` and it is no longer offered again when that passes. */
  confirm(attemptId: string, expires: number | null, logBytes = 0): void {
    this.sql.exec(
      `UPDATE tasks SET acked = 1, log_bytes = log_bytes + ?, lease_expires_at = COALESCE(?, lease_expires_at) WHERE attempt_id = ?`,
      logBytes,
      expires,
      attemptId,
    );
  }

  /** The attempt left the pool for good: its row goes and its id is remembered (see FINISHED_MEMORY_MS). */
  forget(attemptId: string, now: number): void {
    this.sql.exec(`DELETE FROM tasks WHERE attempt_id = ?`, attemptId);
    this.sql.exec(`INSERT OR IGNORE INTO finished (attempt_id, until) VALUES (?, ?)`, attemptId, now + FINISHED_MEMORY_MS);
    this.sql.exec(`DELETE FROM finished WHERE attempt_id IN (SELECT attempt_id FROM finished WHERE until <= ? LIMIT ?)`, now, PURGE_PER_INSERT);
  }

  /** Terminate: a queued attempt is forgotten now, a leased one waits for its runner to be told. */
  cancel(attemptIds: string[], now: number): void {
    for (const attemptId of attemptIds) {
      this.sql.exec(`UPDATE tasks SET state = 'cancelling' WHERE attempt_id = ? AND state = 'leased'`, attemptId);
      // Also remembers attempts not (or no longer) here, so a dispatch repeated later cannot bring one back.
      if (this.task(attemptId)?.state !== "cancelling") this.forget(attemptId, now);
    }
  }

  /**
   * Leases that ran out: one never confirmed is offered again (its runner never got it), the others
   * become lost. Answers how many were offered again.
   */
  expireLeases(now: number): number {
    const reoffered = this.sql.exec(
      `UPDATE tasks SET state = 'ready', runner_id = NULL, lease_expires_at = NULL WHERE state = 'leased' AND acked = 0 AND lease_expires_at <= ?`,
      now,
    ).rowsWritten;
    this.sql.exec(`UPDATE tasks SET state = 'lost' WHERE state IN ('leased', 'cancelling') AND lease_expires_at <= ?`, now);
    return reoffered;
  }

  /**
   * Leased tasks past their node's timeout and grace: the runner keeps heartbeating but never
   * reports (it hangs). Found here, not only by the coordinator, whose timer waits on a best-effort
   * start notice that may have been lost.
   */
  overdue(now: number): TaskRow[] {
    return this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE state = 'leased' AND deadline_at <= ?`, now).toArray();
  }

  /** The coordinator knows the overdue attempt failed: its runner is told to kill it at the next heartbeat. */
  stopOverdue(attemptId: string): void {
    this.sql.exec(`UPDATE tasks SET state = 'cancelling' WHERE attempt_id = ? AND state = 'leased'`, attemptId);
  }

  /** Reporting an overdue attempt failed: the alarm tries again at `at`. */
  reportOverdueAgainAt(attemptId: string, at: number): void {
    this.sql.exec(`UPDATE tasks SET deadline_at = ? WHERE attempt_id = ?`, at, attemptId);
  }

  /** Lost attempts due to be reported to their coordinators. */
  lostDue(now: number): TaskRow[] {
    return this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE state = 'lost' AND lease_expires_at <= ?`, now).toArray();
  }

  /** Reporting a lost attempt failed: the alarm tries again at `at`. */
  reportLostAgainAt(attemptId: string, at: number): void {
    this.sql.exec(`UPDATE tasks SET lease_expires_at = ? WHERE attempt_id = ?`, at, attemptId);
  }

  /** When the alarm must next run: the earliest lease to expire, lost attempt to report, or task to become overdue. */
  nextDue(): number | null {
    return this.sql
      .exec<{ t: number | null }>(
        `SELECT MIN(t) AS t FROM (
           SELECT MIN(lease_expires_at) AS t FROM tasks WHERE state IN ('leased', 'cancelling', 'lost')
           UNION ALL SELECT MIN(deadline_at) FROM tasks WHERE state = 'leased')`,
      )
      .one().t;
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
    return this.task(attemptId) !== undefined || this.sql.exec(`SELECT 1 FROM finished WHERE attempt_id = ?`, attemptId).toArray().length > 0;
  }

  runners(): RunnerRow[] {
    return this.sql
      .exec<{ id: string; name: string; slots: number; last_seen: number; running: number }>(
        `SELECT r.id, r.name, r.slots, r.last_seen,
           (SELECT COUNT(*) FROM tasks t WHERE t.runner_id = r.id AND t.state = 'leased') AS running
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
