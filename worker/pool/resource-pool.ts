// ResourcePool Durable Object: one per resource group; ready node runs in priority order, runner leases.
import { DurableObject } from "cloudflare:workers";
import type { Completion, QueuedTask, RunnerTask } from "../core/runner-protocol.ts";
import { MAX_LOG_BYTES_PER_RUN } from "../core/runner-protocol.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import { applySchema } from "../db/durable-schema.ts";

interface Waiter {
  runnerId: string;
  slots: number;
  resolve: (tasks: RunnerTask[]) => void;
}

interface TaskRow extends Record<string, SqlStorageValue> {
  attempt_id: string;
  workflow_id: string;
  payload: string;
  state: string;
  runner_id: string | null;
  log_bytes: number;
  instance_id: string;
  node_name: string;
  attempt: number;
}

const LOST_RETRY_MS = 5_000;

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
];

export class ResourcePool extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Runners long-polling for work; in memory only: a lost waiter just makes its runner poll again. */
  private waiters: Waiter[] = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    applySchema(this.sql, SCHEMA);
  }

  private get leaseMs(): number {
    return Number(this.env.LEASE_SECONDS || "30") * 1000;
  }

  /** Idempotent per attempt id: a coordinator may send the same task again after a crash. */
  async enqueue(tasks: QueuedTask[]): Promise<void> {
    for (const t of tasks) {
      this.sql.exec(
        `INSERT OR IGNORE INTO tasks (attempt_id, workflow_id, instance_id, node_name, attempt, priority, weight, payload, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ready')`,
        t.task.attemptId,
        t.task.workflowId,
        t.task.instanceId,
        t.task.nodeName,
        t.task.attempt,
        t.priority,
        t.weight,
        JSON.stringify(t.task),
      );
    }
    this.serveWaiters();
  }

  async claim(runnerId: string, name: string, slots: number, waitMs: number): Promise<RunnerTask[]> {
    this.touchRunner(runnerId, name, null);
    const now = this.lease(runnerId, slots);
    if (now.length > 0 || waitMs === 0) return now;
    return new Promise<RunnerTask[]>((resolve) => {
      const waiter: Waiter = { runnerId, slots, resolve };
      this.waiters.push(waiter);
      setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve([]);
      }, waitMs);
    });
  }

  /** Extends the leases the runner still holds; answers which of its attempts it must kill. */
  async heartbeat(runnerId: string, name: string, slots: number, attempts: string[]): Promise<string[]> {
    this.touchRunner(runnerId, name, slots);
    const expires = Date.now() + this.leaseMs;
    const cancel: string[] = [];
    for (const attemptId of attempts) {
      const row = this.task(attemptId);
      if (row && row.state === "leased" && row.runner_id === runnerId) {
        this.sql.exec(`UPDATE tasks SET lease_expires_at = ?, acked = 1 WHERE attempt_id = ?`, expires, attemptId);
      } else {
        cancel.push(attemptId);
        if (row?.state === "cancelling") this.sql.exec(`DELETE FROM tasks WHERE attempt_id = ?`, attemptId);
      }
    }
    return cancel;
  }

  /** Accepts a log chunk of a live lease; answers how much of it to keep (the per-run cap). */
  async acceptLog(
    attemptId: string,
    runnerId: string,
    bytes: number,
  ): Promise<{ leased: false } | { leased: true; keep: number; truncatedNow: boolean; workflowId: string; instanceId: string; nodeName: string; attempt: number }> {
    const row = this.task(attemptId);
    if (!this.holds(row, runnerId)) return { leased: false };
    const room = Math.max(0, MAX_LOG_BYTES_PER_RUN - row.log_bytes);
    const keep = Math.min(room, bytes);
    this.sql.exec(
      `UPDATE tasks SET log_bytes = log_bytes + ?, lease_expires_at = ?, acked = 1 WHERE attempt_id = ?`,
      bytes,
      Date.now() + this.leaseMs,
      attemptId,
    );
    return {
      leased: true,
      keep,
      truncatedNow: room > 0 && keep < bytes,
      workflowId: row.workflow_id,
      instanceId: row.instance_id,
      nodeName: row.node_name,
      attempt: row.attempt,
    };
  }

  /** A runner's result: refused unless its lease is live (fencing by attempt id). */
  async complete(attemptId: string, runnerId: string, completion: Completion): Promise<{ accepted: boolean }> {
    const row = this.task(attemptId);
    if (!this.holds(row, runnerId)) return { accepted: false };
    await coordinatorFor(this.env, row.workflow_id).nodeFinished(attemptId, completion);
    this.sql.exec(`DELETE FROM tasks WHERE attempt_id = ?`, attemptId);
    return { accepted: true };
  }

  /** Terminate: queued attempts disappear; running ones are killed at their runner's next heartbeat. */
  async cancel(attemptIds: string[]): Promise<void> {
    for (const attemptId of attemptIds) {
      this.sql.exec(`DELETE FROM tasks WHERE attempt_id = ? AND state = 'ready'`, attemptId);
      this.sql.exec(`UPDATE tasks SET state = 'cancelling' WHERE attempt_id = ? AND state = 'leased'`, attemptId);
    }
  }

  async runners(): Promise<{ id: string; name: string; slots: number; lastSeen: number; running: number }[]> {
    return this.sql
      .exec<{ id: string; name: string; slots: number; last_seen: number; running: number }>(
        `SELECT r.id, r.name, r.slots, r.last_seen,
           (SELECT COUNT(*) FROM tasks t WHERE t.runner_id = r.id AND t.state = 'leased') AS running
         FROM runners r ORDER BY r.name`,
      )
      .toArray()
      .map((r) => ({ id: r.id, name: r.name, slots: r.slots, lastSeen: r.last_seen, running: r.running }));
  }

  /** Expired leases become lost attempts, reported to their coordinator (which retries or fails). */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const reoffered = this.sql.exec(
      `UPDATE tasks SET state = 'ready', runner_id = NULL, lease_expires_at = NULL WHERE state = 'leased' AND acked = 0 AND lease_expires_at <= ?`,
      now,
    ).rowsWritten;
    this.sql.exec(`UPDATE tasks SET state = 'lost' WHERE state IN ('leased', 'cancelling') AND lease_expires_at <= ?`, now);
    const lost = this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE state = 'lost'`).toArray();
    let failed = false;
    for (const row of lost) {
      try {
        await coordinatorFor(this.env, row.workflow_id).nodeLost(row.attempt_id, "the runner stopped heartbeating; its lease expired");
        this.sql.exec(`DELETE FROM tasks WHERE attempt_id = ?`, row.attempt_id);
      } catch (err) {
        console.error("pool: reporting a lost attempt failed; retrying", row.attempt_id, err);
        failed = true;
      }
    }
    if (reoffered > 0) this.serveWaiters();
    await this.armAlarm(failed ? now + LOST_RETRY_MS : null);
  }

  private lease(runnerId: string, slots: number): RunnerTask[] {
    const expires = Date.now() + this.leaseMs;
    const rows = this.sql
      .exec<TaskRow>(`SELECT * FROM tasks WHERE state = 'ready' ORDER BY priority DESC, weight DESC, seq LIMIT ?`, slots)
      .toArray();
    const tasks: RunnerTask[] = [];
    for (const row of rows) {
      this.sql.exec(
        `UPDATE tasks SET state = 'leased', runner_id = ?, lease_expires_at = ? WHERE attempt_id = ?`,
        runnerId,
        expires,
        row.attempt_id,
      );
      tasks.push({ ...(JSON.parse(row.payload) as Omit<RunnerTask, "leaseSeconds">), leaseSeconds: this.leaseMs / 1000 });
    }
    if (tasks.length > 0) {
      void this.armAlarm(null);
      const startedAt = Date.now();
      // Best effort: the node shows `running`; a lost notice is healed by the completion itself.
      this.ctx.waitUntil(
        Promise.allSettled(
          tasks.map((t) => coordinatorFor(this.env, t.workflowId).nodeStarted(t.attemptId, runnerId, startedAt)),
        ),
      );
    }
    return tasks;
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0) {
      const waiter = this.waiters[0]!;
      const tasks = this.lease(waiter.runnerId, waiter.slots);
      if (tasks.length === 0) return;
      this.waiters.shift();
      waiter.resolve(tasks);
    }
  }

  private async armAlarm(at: number | null): Promise<void> {
    const next = this.sql
      .exec<{ t: number | null }>(`SELECT MIN(lease_expires_at) AS t FROM tasks WHERE state IN ('leased', 'cancelling')`)
      .one().t;
    const due = [at, next].filter((t): t is number => t !== null);
    if (due.length === 0) return;
    const when = Math.min(...due);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > when) await this.ctx.storage.setAlarm(when);
  }

  /** Fencing: only the runner that holds a live lease on the attempt may report for it. */
  private holds(row: TaskRow | undefined, runnerId: string): row is TaskRow {
    return row !== undefined && row.state === "leased" && row.runner_id === runnerId;
  }

  private task(attemptId: string): TaskRow | undefined {
    return this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE attempt_id = ?`, attemptId).toArray()[0];
  }

  private touchRunner(runnerId: string, name: string, slots: number | null): void {
    this.sql.exec(
      `INSERT INTO runners (id, name, slots, last_seen) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, last_seen = excluded.last_seen,
         slots = CASE WHEN ? IS NULL THEN runners.slots ELSE excluded.slots END`,
      runnerId,
      name,
      slots ?? 0,
      Date.now(),
      slots,
    );
  }
}
