// ResourcePool Durable Object: one per resource group; ready node runs in priority order, runner leases.
import { DurableObject } from "cloudflare:workers";
import type { Completion, QueuedTask, RunnerTask } from "../core/runner-protocol.ts";
import { MAX_LOG_BYTES_PER_RUN } from "../core/runner-protocol.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import { injectFault } from "../faults.ts";
import { TaskStore, type TaskRow } from "./task-store.ts";

interface Waiter {
  runnerId: string;
  slots: number;
  resolve: (tasks: RunnerTask[]) => void;
}

const LOST_RETRY_MS = 5_000;
/** What a node that ran past its timeout without a report fails with (the coordinator's own backstop says the same). */
const TIMED_OUT: Completion = { exitCode: null, signal: null, outputs: {}, error: "timed out: the runner did not report before the node's timeout" };

export class ResourcePool extends DurableObject<Env> {
  private readonly store: TaskStore;
  /** Runners long-polling for work; in memory only: a lost waiter just makes its runner poll again. */
  private waiters: Waiter[] = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new TaskStore(ctx.storage.sql);
  }

  private get leaseMs(): number {
    return Number(this.env.LEASE_SECONDS || "30") * 1000;
  }

  /** How long past a node's timeout its runner may take to report, as the coordinator waits: two leases. */
  private get timeoutGraceMs(): number {
    return 2 * this.leaseMs;
  }

  /** Idempotent per attempt id: a coordinator may send the same task again after a crash, even after it finished. */
  async enqueue(tasks: QueuedTask[]): Promise<void> {
    this.store.enqueue(tasks);
    this.serveWaiters();
  }

  async claim(runnerId: string, name: string, slots: number, waitMs: number): Promise<RunnerTask[]> {
    this.store.touchRunner(runnerId, name, null, Date.now());
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
    const now = Date.now();
    this.store.touchRunner(runnerId, name, slots, now);
    const cancel: string[] = [];
    let released = false;
    for (const attemptId of attempts) {
      const row = this.store.task(attemptId);
      if (row?.state === "leased" && row.runner_id === runnerId) {
        this.store.confirm(attemptId, now + this.leaseMs);
        continue;
      }
      cancel.push(attemptId);
      // Its runner is told to kill it now: the node's next attempt, if any, may start.
      if (row?.state === "cancelling" && row.runner_id === runnerId) {
        this.store.forget(attemptId, now);
        released = true;
      }
    }
    if (released) this.serveWaiters();
    return cancel;
  }

  /** Accepts a log chunk of a live lease; answers how much of it to keep (the per-run cap). */
  async acceptLog(
    attemptId: string,
    runnerId: string,
    bytes: number,
  ): Promise<{ leased: false } | { leased: true; keep: number; truncatedNow: boolean; workflowId: string; instanceId: string; nodeName: string; attempt: number }> {
    const row = this.store.task(attemptId);
    if (!this.holds(row, runnerId)) return { leased: false };
    const room = Math.max(0, MAX_LOG_BYTES_PER_RUN - row.log_bytes);
    const keep = Math.min(room, bytes);
    this.store.confirm(attemptId, Date.now() + this.leaseMs, bytes);
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
    const row = this.store.task(attemptId);
    if (!this.holds(row, runnerId)) return { accepted: false };
    // A result confirms the lease: should this object die once the coordinator has the result, the
    // expired lease is reported lost (a no-op there) instead of offered to another runner.
    this.store.confirm(attemptId, null);
    await coordinatorFor(this.env, row.workflow_id).nodeFinished(attemptId, completion);
    injectFault(this.env, "pool.afterComplete"); // test/faults: dies after the coordinator took the result
    this.store.forget(attemptId, Date.now());
    return { accepted: true };
  }

  /** Terminate: queued attempts disappear; running ones are killed at their runner's next heartbeat. */
  async cancel(attemptIds: string[]): Promise<void> {
    this.store.cancel(attemptIds, Date.now());
  }

  async runners(): Promise<{ id: string; name: string; slots: number; lastSeen: number; running: number }[]> {
    return this.store.runners();
  }

  /**
   * Expired leases become lost attempts and overdue ones (past their node's timeout and grace) fail
   * as timed out; both are reported to their coordinator, which retries or fails the node.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const reoffered = this.store.expireLeases(now);
    let released = false;
    for (const row of this.store.overdue(now)) {
      try {
        await coordinatorFor(this.env, row.workflow_id).nodeFinished(row.attempt_id, TIMED_OUT);
        this.store.stopOverdue(row.attempt_id);
      } catch (err) {
        console.error("pool: reporting an overdue attempt failed; retrying", row.attempt_id, err);
        this.store.reportOverdueAgainAt(row.attempt_id, Date.now() + LOST_RETRY_MS);
      }
    }
    for (const row of this.store.lostDue(now)) {
      try {
        await coordinatorFor(this.env, row.workflow_id).nodeLost(row.attempt_id, "the runner stopped heartbeating; its lease expired");
        this.store.forget(row.attempt_id, Date.now());
        released = true;
      } catch (err) {
        console.error("pool: reporting a lost attempt failed; retrying", row.attempt_id, err);
        this.store.reportLostAgainAt(row.attempt_id, Date.now() + LOST_RETRY_MS);
      }
    }
    if (reoffered > 0 || released) this.serveWaiters();
    await this.armAlarm();
  }

  /**
   * Leases ready tasks to a runner. The alarm that expires the leases is armed in the same
   * synchronous step as the leases themselves, so both commit together: an object that dies right
   * after still expires them (and offers unconfirmed ones again) when it comes back.
   */
  private lease(runnerId: string, slots: number): RunnerTask[] {
    const rows = this.store.lease(runnerId, slots, Date.now() + this.leaseMs, this.timeoutGraceMs);
    if (rows.length === 0) return [];
    void this.armAlarm();
    injectFault(this.env, "pool.afterLease"); // test/faults: dies before the runner gets its tasks
    const tasks = rows.map((row) => ({ ...(JSON.parse(row.payload) as Omit<RunnerTask, "leaseSeconds">), leaseSeconds: this.leaseMs / 1000 }));
    const startedAt = Date.now();
    // Best effort: the node shows `running`; a lost notice is healed by the completion itself, or by
    // the overdue check of the alarm should the runner hang.
    this.ctx.waitUntil(
      Promise.allSettled(
        tasks.map(async (t) => {
          injectFault(this.env, "pool.startNotice"); // test/faults: the notice is lost
          await coordinatorFor(this.env, t.workflowId).nodeStarted(t.attemptId, runnerId, startedAt);
        }),
      ),
    );
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

  /**
   * Arms the alarm for the earliest lease to expire or lost attempt to report (the due rows are in
   * the tasks table). Called without an await before it, so the alarm commits with the rows it serves.
   */
  private armAlarm(): Promise<void> {
    const due = this.store.nextDue();
    return due === null ? Promise.resolve() : this.ctx.storage.setAlarm(due);
  }

  /** Fencing: only the runner that holds a live lease on the attempt may report for it. */
  private holds(row: TaskRow | undefined, runnerId: string): row is TaskRow {
    return row !== undefined && row.state === "leased" && row.runner_id === runnerId;
  }
}
