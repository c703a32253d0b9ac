// ResourcePool Durable Object: one per resource group of a workspace; ready node runs in priority order, runner leases.
import { DurableObject } from "cloudflare:workers";
import { newId } from "../core/ids.ts";
import type { Completion, QueuedTask, RunnerTask } from "../core/runner-protocol.ts";
import { MAX_LOG_BYTES_PER_RUN } from "../core/runner-protocol.ts";
import { DEFAULT_WORKSPACE } from "../core/tenancy.ts";
import { coordinatorFor, poolFor } from "../coordinator/stub.ts";
import { injectFault } from "../faults.ts";
import { TaskStore, type RunnerRow, type TaskRow } from "./task-store.ts";

interface Waiter {
  runnerId: string;
  workspaceId: string;
  slots: number;
  resolve: (tasks: RunnerTask[]) => void;
}

/** Who calls on the runner protocol: the token's key, workspace and group (from the Worker), and the runner id it sent. */
export interface RunnerCaller {
  keyId: string;
  workspaceId: string;
  group: string;
  runnerId: string;
}

/** Why a runner's report is refused, or what the pool needs to store an accepted log chunk. */
export type Refusal = { refused: "not_registered" | "unknown_attempt" | "lease_lost" };
export type LogVerdict = Refusal | { refused: null; keep: number; truncatedNow: boolean; workflowId: string; instanceId: string; nodeName: string; attempt: number };

/** Legacy tasks resolved per claim: a bounded D1 read. */
const LEGACY_BATCH = 50;

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

  /** Issues a runner id bound to the registering token; every later call of the runner must carry it. */
  async register(keyId: string, name: string, slots: number): Promise<string> {
    const runnerId = newId("rnr");
    this.store.registerRunner(runnerId, keyId, name, slots, Date.now());
    return runnerId;
  }

  async claim(caller: RunnerCaller, name: string, slots: number, waitMs: number): Promise<{ registered: boolean; tasks: RunnerTask[] }> {
    const { runnerId, workspaceId } = caller;
    if (!this.store.registered(runnerId, caller.keyId)) return { registered: false, tasks: [] };
    this.store.touchRunner(runnerId, name, null, Date.now());
    await this.adoptLegacyTasks(caller);
    const tasks = await this.waitForTasks(runnerId, workspaceId, slots, waitMs);
    return { registered: true, tasks };
  }

  private waitForTasks(runnerId: string, workspaceId: string, slots: number, waitMs: number): Promise<RunnerTask[]> | RunnerTask[] {
    const now = this.lease(runnerId, workspaceId, slots);
    if (now.length > 0 || waitMs === 0) return now;
    return new Promise<RunnerTask[]>((resolve) => {
      const waiter: Waiter = { runnerId, workspaceId, slots, resolve };
      this.waiters.push(waiter);
      setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve([]);
      }, waitMs);
    });
  }

  /** Extends the leases the runner still holds; answers which of its attempts it must kill (null: not registered). */
  async heartbeat(caller: RunnerCaller, name: string, slots: number, attempts: string[]): Promise<string[] | null> {
    const { runnerId } = caller;
    if (!this.store.registered(runnerId, caller.keyId)) return null;
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
  async acceptLog(attemptId: string, caller: RunnerCaller, bytes: number): Promise<LogVerdict> {
    const row = this.store.task(attemptId);
    const refusal = this.refusal(attemptId, row, caller);
    if (refusal || !this.holds(row, caller.runnerId)) return refusal ?? { refused: "lease_lost" };
    const room = Math.max(0, MAX_LOG_BYTES_PER_RUN - row.log_bytes);
    const keep = Math.min(room, bytes);
    this.store.confirm(attemptId, Date.now() + this.leaseMs, bytes);
    return {
      refused: null,
      keep,
      truncatedNow: room > 0 && keep < bytes,
      workflowId: row.workflow_id,
      instanceId: row.instance_id,
      nodeName: row.node_name,
      attempt: row.attempt,
    };
  }

  /** A runner's result: refused unless its lease is live (fencing by attempt id). */
  async complete(attemptId: string, caller: RunnerCaller, completion: Completion): Promise<Refusal | { refused: null }> {
    const row = this.store.task(attemptId);
    const refusal = this.refusal(attemptId, row, caller);
    if (refusal || !this.holds(row, caller.runnerId)) return refusal ?? { refused: "lease_lost" };
    // A result confirms the lease: should this object die once the coordinator has the result, the
    // expired lease is reported lost (a no-op there) instead of offered to another runner.
    this.store.confirm(attemptId, null);
    await coordinatorFor(this.env, row.workflow_id).nodeFinished(attemptId, completion);
    injectFault(this.env, "pool.afterComplete"); // test/faults: dies after the coordinator took the result
    this.store.forget(attemptId, Date.now());
    return { refused: null };
  }

  /** Terminate: queued attempts disappear; running ones are killed at their runner's next heartbeat. */
  async cancel(attemptIds: string[]): Promise<void> {
    this.store.cancel(attemptIds, Date.now());
  }

  async runners(): Promise<RunnerRow[]> {
    return this.store.runners();
  }

  /**
   * Tasks queued before resource groups belonged to workspaces sit in the pool of the bare group name, which
   * is now the default workspace's (core/tenancy.ts poolName). Each one's workspace is read from D1; a task of
   * another workspace moves to that workspace's pool of the same group, where its runners claim it. A task
   * whose instance is not in D1 (yet) stays unleased and is looked up again at the next claim.
   */
  private async adoptLegacyTasks(caller: RunnerCaller): Promise<void> {
    if (caller.workspaceId !== DEFAULT_WORKSPACE) return; // only the bare-named pools are old
    const legacy = this.store.legacyReady(LEGACY_BATCH);
    if (legacy.length === 0) return;
    const ids = [...new Set(legacy.map((r) => r.instance_id))];
    const { results } = await this.env.DB.prepare(`SELECT id, workspace_id FROM instances WHERE id IN (${ids.map(() => "?").join(", ")})`)
      .bind(...ids)
      .all<{ id: string; workspace_id: string }>();
    const workspaceOf = new Map(results.map((r) => [r.id, r.workspace_id]));
    for (const row of legacy) {
      const workspaceId = workspaceOf.get(row.instance_id);
      if (workspaceId === undefined) continue;
      if (workspaceId === DEFAULT_WORKSPACE) {
        this.store.setWorkspace(row.attempt_id, workspaceId);
        continue;
      }
      const task = JSON.parse(row.payload) as QueuedTask["task"];
      await poolFor(this.env, workspaceId, caller.group).enqueue([{ task, priority: Number(row.priority), weight: Number(row.weight), workspaceId }]);
      this.store.forget(row.attempt_id, Date.now());
    }
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
  private lease(runnerId: string, workspaceId: string, slots: number): RunnerTask[] {
    const rows = this.store.lease(runnerId, workspaceId, slots, Date.now() + this.leaseMs, this.timeoutGraceMs);
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
      const tasks = this.lease(waiter.runnerId, waiter.workspaceId, waiter.slots);
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

  /**
   * A report is refused outright when its runner id was not issued to the calling token here, or when the
   * attempt was never in this pool (another workspace's or group's): those callers learn nothing about it.
   */
  private refusal(attemptId: string, row: TaskRow | undefined, caller: RunnerCaller): Refusal | null {
    if (!this.store.registered(caller.runnerId, caller.keyId)) return { refused: "not_registered" };
    if (row === undefined && !this.store.known(attemptId)) return { refused: "unknown_attempt" };
    return null;
  }

  /** Fencing: only the runner that holds a live lease on the attempt may report for it. */
  private holds(row: TaskRow | undefined, runnerId: string): row is TaskRow {
    return row !== undefined && row.state === "leased" && row.runner_id === runnerId;
  }
}
