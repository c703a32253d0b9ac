// ResourcePool Durable Object: one per resource group of a workspace; ready node runs in priority order with fair share, runner leases.
import { DurableObject } from "cloudflare:workers";
import { newId } from "../core/ids.ts";
import { LeaseBook, type Grant, type LeaseRefusal, type PoolTask } from "../core/leases.ts";
import type { Completion, QueuedTask, RunnerTask } from "../core/runner-protocol.ts";
import { MAX_LOG_BYTES_PER_RUN } from "../core/runner-protocol.ts";
import { forgetRunnersSeenBefore } from "../core/runner-roster.ts";
import { DEFAULT_WORKSPACE } from "../core/tenancy.ts";
import { singleFlight } from "../core/single-flight.ts";
import { isWatched } from "../core/watch.ts";
import { coordinatorFor, poolFor } from "../coordinator/stub.ts";
import { injectFault } from "../faults.ts";
import { StartNotices } from "./start-notices.ts";
import { TaskStore, type RunnerRow } from "./task-store.ts";

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
export type Refusal = { refused: LeaseRefusal };

export interface PoolStats {
  databaseSize: number;
  ready: number;
  leased: number;
  runners: number;
  finished: number;
}
export type LogVerdict =
  | Refusal
  | { refused: null; keep: number; truncatedNow: boolean; watched: boolean; workflowId: string; instanceId: string; nodeName: string; attempt: number };
/** An accepted result, with the runner's next tasks leased in the same call. */
export type ResultAnswer = Refusal | { refused: null; tasks: RunnerTask[] };

/** Legacy tasks resolved per claim: a bounded D1 read. */
const LEGACY_BATCH = 50;

/** When a report to a coordinator failed, how soon the alarm tries again. */
const REPORT_RETRY_MS = 5_000;
/** What a node that ran past its timeout without a report fails with (the coordinator's own backstop says the same). */
const TIMED_OUT: Completion = { exitCode: null, signal: null, outputs: {}, error: "timed out: the runner did not report before the node's timeout" };

export class ResourcePool extends DurableObject<Env> {
  private readonly store: TaskStore;
  private readonly leases: LeaseBook;
  /** Runners long-polling for work; in memory only: a lost waiter just makes its runner poll again. */
  private waiters: Waiter[] = [];
  /**
   * Reports to coordinators, one round at a time: every refused result, cancel and alarm asks for a round,
   * and rounds side by side would each send the same due reports (core/single-flight.ts).
   */
  private readonly sendReports = singleFlight(() => this.sendDueReports(), () => undefined);
  /** Start notices of fresh leases, not sent yet. */
  private readonly starts: StartNotices;


  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new TaskStore(ctx.storage.sql);
    this.starts = new StartNotices(ctx, env);
    const leaseMs = Number(env.LEASE_SECONDS || "30") * 1000;
    // How long past a node's timeout its runner may take to report, as the coordinator waits: two leases.
    this.leases = new LeaseBook(this.store, { leaseMs, graceMs: 2 * leaseMs, reportRetryMs: REPORT_RETRY_MS });
  }

  private get leaseMs(): number {
    return Number(this.env.LEASE_SECONDS || "30") * 1000;
  }

  /** Idempotent per attempt id: a coordinator may send the same task again after a crash, even after it finished. */
  async enqueue(tasks: QueuedTask[]): Promise<void> {
    this.store.enqueue(tasks);
    this.serveWaiters();
  }

  /** Issues a runner id bound to the registering token; every later call of the runner must carry it. */
  async register(keyId: string, name: string, slots: number): Promise<string> {
    const runnerId = newId("rnr");
    const now = Date.now();
    // Every restart of a runner registers anew: the ones gone long enough make room (core/runner-roster.ts).
    this.store.forgetRunners(forgetRunnersSeenBefore(now, this.leaseMs));
    this.store.registerRunner(runnerId, keyId, name, slots, now);
    return runnerId;
  }

  /** What this object holds: its SQLite size and row counts (the stats endpoint). */
  async stats(): Promise<PoolStats> {
    return { databaseSize: this.ctx.storage.sql.databaseSize, ...this.store.counts() };
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
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve([]);
      }, waitMs);
      // Served early, its timer goes with it: long polls must not pile up timers.
      const waiter: Waiter = { runnerId, workspaceId, slots, resolve: (tasks) => (clearTimeout(timer), resolve(tasks)) };
      this.waiters.push(waiter);
    });

  }

  /** Renews the leases the runner still holds under their ids; answers which of its attempts it must kill (null: not registered). */
  async heartbeat(caller: RunnerCaller, name: string, slots: number, leases: { attemptId: string; leaseId: string }[]): Promise<string[] | null> {
    const { runnerId } = caller;
    if (!this.store.registered(runnerId, caller.keyId)) return null;
    this.store.touchRunner(runnerId, name, slots, Date.now());
    return this.leases.renew(runnerId, leases);
  }

  /**
   * The instance's coordinator says someone follows it live until `until` (null: nobody does any more): its
   * log chunks are then sent on to the coordinator (see acceptLog).
   */
  async watch(instanceId: string, until: number | null): Promise<void> {
    this.store.setWatch(instanceId, until, Date.now());
  }

  /** Accepts a log chunk of a live lease; answers how much of it to keep (the per-run cap) and whether someone follows it live. */
  async acceptLog(attemptId: string, caller: RunnerCaller, leaseId: string, bytes: number): Promise<LogVerdict> {
    if (!this.store.registered(caller.runnerId, caller.keyId)) return { refused: "not_registered" };
    const fenced = this.leases.acceptLog(attemptId, caller.runnerId, leaseId, bytes);
    if ("refused" in fenced) return fenced;
    const task = fenced.task;
    const room = Math.max(0, MAX_LOG_BYTES_PER_RUN - task.logBytes);
    const keep = Math.min(room, bytes);
    const watched = isWatched(this.store.watchedUntil(task.instanceId), Date.now());
    return { refused: null, keep, truncatedNow: room > 0 && keep < bytes, watched, ...pick(task) };
  }

  /**
   * A runner's result, fenced by its lease id, answered with its next tasks (up to `freeSlots`) leased in
   * the same call. From an attempt the coordinator stopped it is refused, but confirms the process is gone.
   */
  async complete(attemptId: string, caller: RunnerCaller, leaseId: string, completion: Completion, freeSlots: number): Promise<ResultAnswer> {
    if (!this.store.registered(caller.runnerId, caller.keyId)) return { refused: "not_registered" };
    const verdict = this.leases.acceptResult(attemptId, caller.runnerId, leaseId);
    if (verdict.refused !== null) {
      if (verdict.gone) {
        void this.armAlarm(); // the report is due now; should this object die first, the alarm sends it
        this.ctx.waitUntil(this.sendReports());
        this.serveWaiters();
      }
      return { refused: verdict.refused };
    }
    await coordinatorFor(this.env, verdict.task.workflowId).nodeFinished(attemptId, completion, this.starts.take(attemptId));
    injectFault(this.env, "pool.afterComplete"); // test/faults: dies after the coordinator took the result
    this.leases.forget(attemptId);
    const tasks = freeSlots > 0 ? this.lease(caller.runnerId, caller.workspaceId, freeSlots) : [];
    this.serveWaiters();
    return { refused: null, tasks };
  }

  /** Terminate or timeout: queued attempts are gone now; running ones keep their slots until their runners kill them. */
  async cancel(attemptIds: string[]): Promise<void> {
    this.leases.cancel(attemptIds);
    void this.armAlarm();
    this.serveWaiters();
    this.ctx.waitUntil(this.sendReports());
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
      await poolFor(this.env, workspaceId, caller.group).enqueue([{ task, priority: Number(row.priority), weight: Number(row.weight), share: Number(row.share), workspaceId }]);
      this.store.finish(row.attempt_id);
    }
  }

  /**
   * Expired leases become lost attempts (or, unconfirmed, are offered again; or, stopped, gone), overdue
   * ones (past their node's timeout and grace) fail as timed out; the coordinators are told.
   */
  override async alarm(): Promise<void> {
    this.store.forgetRunners(forgetRunnersSeenBefore(Date.now(), this.leaseMs));
    const reoffered = this.leases.expire();
    for (const task of this.leases.overdue()) {
      try {
        await coordinatorFor(this.env, task.workflowId).nodeFinished(task.attemptId, TIMED_OUT);
        this.leases.stopOverdue(task.attemptId);
      } catch (err) {
        console.error("pool: reporting an overdue attempt failed; retrying", task.attemptId, err);
        this.leases.overdueReportFailed(task.attemptId);
      }
    }
    await this.sendReports();
    if (reoffered > 0) this.serveWaiters();
    await this.armAlarm();
  }

  /**
   * Tells coordinators what they wait for: lost attempts (nodeLost), then every process that is gone
   * (processGone), one call per workflow. A failed report is tried again by the alarm.
   */
  private async sendDueReports(): Promise<void> {
    const { lost } = this.leases.reportsDue();
    for (const task of lost) {
      try {
        await coordinatorFor(this.env, task.workflowId).nodeLost(task.attemptId, "the runner stopped heartbeating; its lease expired");
        this.leases.lostReported(task.attemptId);
      } catch (err) {
        console.error("pool: reporting a lost attempt failed; retrying", task.attemptId, err);
        this.leases.reportFailed([task.attemptId]);
      }
    }
    const byWorkflow = new Map<string, string[]>();
    for (const task of this.leases.reportsDue().gone) byWorkflow.set(task.workflowId, [...(byWorkflow.get(task.workflowId) ?? []), task.attemptId]);
    for (const [workflowId, attemptIds] of byWorkflow) {
      try {
        await coordinatorFor(this.env, workflowId).processGone(attemptIds);
        this.leases.goneReported(attemptIds);
      } catch (err) {
        console.error("pool: reporting gone processes failed; retrying", attemptIds, err);
        this.leases.reportFailed(attemptIds);
      }
    }
    if (lost.length > 0 || byWorkflow.size > 0) this.serveWaiters();
    await this.armAlarm();
  }

  /**
   * Leases ready tasks to a runner. The alarm that expires the leases is armed in the same
   * synchronous step as the leases themselves, so both commit together: an object that dies right
   * after still expires them (and offers unconfirmed ones again) when it comes back.
   */
  private lease(runnerId: string, workspaceId: string, slots: number): RunnerTask[] {
    const grants = this.leases.grant(runnerId, workspaceId, slots);
    if (grants.length === 0) return [];
    void this.armAlarm();
    injectFault(this.env, "pool.afterLease"); // test/faults: dies before the runner gets its tasks
    const tasks = grants.map((g) => this.runnerTask(g));
    const at = Date.now();
    for (const t of tasks) this.starts.add(t.workflowId, { attemptId: t.attemptId, runnerId, at });
    return tasks;
  }

  private runnerTask(grant: Grant): RunnerTask {
    const payload = JSON.parse(this.store.payload(grant.task.attemptId)) as QueuedTask["task"];
    return { ...payload, leaseSeconds: this.leaseMs / 1000, leaseId: grant.leaseId };
  }

  /** Oldest waiter first; one whose runner has no free slot (or whose workspace has no work) lets the next one try. */
  private serveWaiters(): void {
    for (const waiter of [...this.waiters]) {
      const tasks = this.lease(waiter.runnerId, waiter.workspaceId, waiter.slots);
      if (tasks.length === 0) continue;
      this.waiters = this.waiters.filter((w) => w !== waiter);
      waiter.resolve(tasks);
    }
  }

  /**
   * Arms the alarm for the earliest lease to expire, report to send or task to become overdue (the due
   * rows are in the tasks table). Called without an await before it, so the alarm commits with the rows it serves.
   */
  private armAlarm(): Promise<void> {
    const due = this.store.nextDue();
    return due === null ? Promise.resolve() : this.ctx.storage.setAlarm(due);
  }
}

/** Where a log chunk belongs, for live followers of the instance. */
function pick(task: PoolTask) {
  return { workflowId: task.workflowId, instanceId: task.instanceId, nodeName: task.nodeName, attempt: task.attempt };
}
