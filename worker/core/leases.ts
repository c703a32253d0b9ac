// Lease decisions of a resource group (DESIGN §2.4–§2.6, §2.9): who gets a free slot, lease ids, renewal, expiry, fencing, slots held until a process is gone.
import { fairReadyOrder, type FairShareHost } from "./fair-share.ts";

/**
 * `ready` waits for a slot; `leased` is held by a runner under a lease id; `cancelling` was leased when
 * the coordinator stopped it (terminate, timeout): its runner is told to kill it and it keeps its slot
 * until the runner reports it gone or its lease runs out; `lost` outlived its lease and waits to be
 * reported lost; `gone` is a stopped attempt whose process is gone, waiting to be reported so.
 */
export type TaskState = "ready" | "leased" | "cancelling" | "lost" | "gone";

/** Why a runner's report is refused: the sentinel refusals of the runner protocol, in one place. */
export type LeaseRefusal = "not_registered" | "unknown_attempt" | "lease_lost";

/** One attempt as the pool keeps it (its payload stays with the host). */
export interface PoolTask {
  attemptId: string;
  workflowId: string;
  instanceId: string;
  nodeName: string;
  attempt: number;
  workspaceId: string;
  priority: number;
  weight: number;
  /** Its workflow's `policy.share`: how many slots it gets per round at its level (DESIGN §2.9). */
  share: number;
  /** Arrival order in the pool. */
  seq: number;
  state: TaskState;
  runnerId: string | null;
  leaseId: string | null;
  /** leased/cancelling: when the lease runs out; lost/gone: when the report to the coordinator is due. */
  leaseExpiresAt: number | null;
  /** leased: past this the node is overdue (its timeout plus grace from the grant) and failed as timed out. */
  deadlineAt: number | null;
  /** Whether the runner has confirmed the lease (heartbeat, log or result). */
  acked: boolean;
  logBytes: number;
  timeoutSeconds: number;
}

export interface LeaseHost extends FairShareHost {
  now(): number;
  /** A fresh random lease id, never issued before. */
  newLeaseId(): string;
  task(attemptId: string): PoolTask | undefined;
  /** Whether the attempt was ever here: queued, leased, or finished and still remembered. */
  known(attemptId: string): boolean;
  /** Every attempt of one node in the pool. */
  attemptsOfNode(instanceId: string, nodeName: string): PoolTask[];
  /** Every attempt leased to the runner that is still in the pool. */
  attemptsOfRunner(runnerId: string): PoolTask[];
  /** The runner's slots as it registered or last heartbeated them. */
  runnerSlots(runnerId: string): number;
  /** Leases (leased or cancelling) that ran out by `now`. */
  expiredLeases(now: number): PoolTask[];
  /** Leased tasks past their deadline. */
  overdue(now: number): PoolTask[];
  /** Lost and gone tasks whose report is due. */
  reportsDue(now: number): PoolTask[];
  save(task: PoolTask): void;
  /** The attempt leaves the pool for good; its id is remembered so a repeated dispatch never brings it back. */
  finish(attemptId: string): void;
}

export interface LeaseTimings {
  leaseMs: number;
  /** How long past its timeout a leased node may run before the pool fails it: the coordinator's grace. */
  graceMs: number;
  /** When a report to the coordinator failed, how soon it is tried again. */
  reportRetryMs: number;
}

export interface Grant {
  task: PoolTask;
  leaseId: string;
}

export type Fenced = { task: PoolTask } | { refused: LeaseRefusal };

/**
 * A result: a live lease's, for the coordinator; or refused. A stopped attempt's report is refused as a
 * result too (the coordinator has decided), but says its process is gone: `gone` then.
 */
export type ResultVerdict = { refused: LeaseRefusal; gone?: PoolTask } | { refused: null; task: PoolTask };

/**
 * The order of a group's ready work without fair share (DESIGN §2.4): effective priority, then weight,
 * highest first, then the oldest. Across levels slots still go strictly so; within a level they are shared
 * among workflows (core/fair-share.ts), and each workflow's own tasks keep this order.
 */
export function readyOrder(a: PoolTask, b: PoolTask): number {
  return b.priority - a.priority || b.weight - a.weight || a.seq - b.seq;
}

/** An attempt whose process may be alive: it holds a slot of its runner and blocks other attempts of its node. */
export const holdsProcess = (task: PoolTask): boolean => task.state === "leased" || task.state === "cancelling";

export class LeaseBook {
  private readonly host: LeaseHost;
  private readonly timings: LeaseTimings;

  constructor(host: LeaseHost, timings: LeaseTimings) {
    this.host = host;
    this.timings = timings;
  }

  /** Slots the runner may still fill: what it asks for, capped by its slots minus the processes it holds. */
  freeSlots(runnerId: string, asked: number): number {
    const held = this.host.attemptsOfRunner(runnerId).filter(holdsProcess).length;
    return Math.max(0, Math.min(asked, this.host.runnerSlots(runnerId) - held));
  }

  /**
   * Leases ready tasks of the runner's workspace to its free slots, each under a new random lease id: strict
   * priority across levels, fair share among the workflows of a level (core/fair-share.ts). A task waits
   * while another attempt of its node may still have a process: a node never runs twice at once.
   */
  grant(runnerId: string, workspaceId: string, asked: number): Grant[] {
    const free = this.freeSlots(runnerId, asked);
    const grants: Grant[] = [];
    if (free === 0) return grants;
    const now = this.host.now();
    // Each task the order yields is charged to its workflow's share, so it is taken; the loop stops when full.
    for (const task of fairReadyOrder(this.host, workspaceId, (t) => !this.nodeBusy(t, grants))) {
      const leaseId = this.host.newLeaseId();
      const leased: PoolTask = {
        ...task,
        state: "leased",
        runnerId,
        leaseId,
        leaseExpiresAt: now + this.timings.leaseMs,
        deadlineAt: now + this.timings.graceMs + task.timeoutSeconds * 1000,
        acked: false,
      };
      this.host.save(leased);
      grants.push({ task: leased, leaseId });
      if (grants.length >= free) break;
    }
    return grants;
  }

  /** Only the runner holding the attempt's current lease id may report for it. */
  fence(attemptId: string, runnerId: string, leaseId: string, states: TaskState[] = ["leased"]): Fenced {
    const task = this.host.task(attemptId);
    if (task === undefined && !this.host.known(attemptId)) return { refused: "unknown_attempt" };
    if (task === undefined || !states.includes(task.state) || task.runnerId !== runnerId || task.leaseId !== leaseId) return { refused: "lease_lost" };
    return { task };
  }

  /**
   * A heartbeat: renews each lease the runner still holds under its current id. Answers the attempts the
   * runner must kill: stopped ones, and any whose lease is stale, unknown or another runner's. A stopped
   * attempt is not renewed; it keeps its slot until reported gone or its lease runs out.
   */
  renew(runnerId: string, leases: { attemptId: string; leaseId: string }[]): string[] {
    const now = this.host.now();
    const cancel: string[] = [];
    for (const { attemptId, leaseId } of leases) {
      const fenced = this.fence(attemptId, runnerId, leaseId);
      if ("refused" in fenced) {
        cancel.push(attemptId);
        continue;
      }
      this.host.save({ ...fenced.task, acked: true, leaseExpiresAt: now + this.timings.leaseMs });
    }
    return cancel;
  }

  /** A log chunk of a live lease renews it; answers the task (for the per-run cap) or the refusal. */
  acceptLog(attemptId: string, runnerId: string, leaseId: string, bytes: number): Fenced {
    const fenced = this.fence(attemptId, runnerId, leaseId);
    if ("refused" in fenced) return fenced;
    const task = { ...fenced.task, acked: true, leaseExpiresAt: this.host.now() + this.timings.leaseMs, logBytes: fenced.task.logBytes + bytes };
    this.host.save(task);
    return { task: fenced.task };
  }

  /**
   * A result under the current lease. From a live lease it is the node's result: the lease is confirmed
   * (should the pool die before forgetting it, its expiry reports it lost, a no-op at the coordinator,
   * instead of offering it again) and the caller forwards it, then calls `forget`. From a stopped
   * attempt it is refused as a result, but a runner reports only once the process has exited: its slot
   * is free and the coordinator is told the process is gone.
   */
  acceptResult(attemptId: string, runnerId: string, leaseId: string): ResultVerdict {
    const fenced = this.fence(attemptId, runnerId, leaseId, ["leased", "cancelling"]);
    if ("refused" in fenced) return fenced;
    if (fenced.task.state === "cancelling") return { refused: "lease_lost", gone: this.processGone(fenced.task) };
    const task = { ...fenced.task, acked: true };
    this.host.save(task);
    return { refused: null, task };
  }

  /** The coordinator has the attempt's result: it leaves the pool. */
  forget(attemptId: string): void {
    this.host.finish(attemptId);
  }

  /**
   * The coordinator stopped attempts (terminate, timeout backstop). A queued one never ran: it is gone
   * now. A leased one keeps its slot until its runner, told at its next heartbeat, reports it killed,
   * or its lease runs out. Ids not here are remembered, so a repeated dispatch cannot bring one back.
   */
  cancel(attemptIds: string[]): void {
    for (const attemptId of attemptIds) {
      const task = this.host.task(attemptId);
      if (task === undefined) this.host.finish(attemptId);
      else if (task.state === "ready") this.processGone(task);
      else if (task.state === "leased") this.host.save({ ...task, state: "cancelling" });
    }
  }

  /**
   * Leases that ran out. An unconfirmed one is offered again (its runner never got it, or by protocol
   * killed it when it could not renew). A confirmed one is lost: its runner killed it, and the
   * coordinator is told. A stopped one's process is gone by the same rule. Answers how many became ready.
   */
  expire(): number {
    const now = this.host.now();
    let reoffered = 0;
    for (const task of this.host.expiredLeases(now)) {
      if (task.state === "leased" && !task.acked) {
        this.host.save({ ...task, state: "ready", runnerId: null, leaseId: null, leaseExpiresAt: null, deadlineAt: null });
        reoffered++;
      } else if (task.state === "leased") {
        this.host.save({ ...task, state: "lost", leaseId: null, leaseExpiresAt: now });
      } else if (task.state === "cancelling") {
        this.processGone(task);
      }
    }
    return reoffered;
  }

  /** Leased tasks past their node's timeout and grace: the runner heartbeats but never reports (it hangs). */
  overdue(): PoolTask[] {
    return this.host.overdue(this.host.now());
  }

  /** The coordinator knows the overdue attempt failed: its runner is told to kill it, and it keeps its slot until then. */
  stopOverdue(attemptId: string): void {
    const task = this.host.task(attemptId);
    if (task?.state === "leased") this.host.save({ ...task, state: "cancelling" });
  }

  /** Reporting an overdue attempt failed: tried again shortly. */
  overdueReportFailed(attemptId: string): void {
    const task = this.host.task(attemptId);
    if (task?.state === "leased") this.host.save({ ...task, deadlineAt: this.host.now() + this.timings.reportRetryMs });
  }

  /** Lost attempts to report as lost, and gone ones to report as gone. */
  reportsDue(): { lost: PoolTask[]; gone: PoolTask[] } {
    const due = this.host.reportsDue(this.host.now());
    return { lost: due.filter((t) => t.state === "lost"), gone: due.filter((t) => t.state === "gone") };
  }

  /** The coordinator knows the attempt is lost; it still has to hear that its process is gone. */
  lostReported(attemptId: string): void {
    const task = this.host.task(attemptId);
    if (task?.state === "lost") this.processGone(task);
  }

  /** The coordinator knows these processes are gone: they leave the pool. */
  goneReported(attemptIds: string[]): void {
    for (const attemptId of attemptIds) if (this.host.task(attemptId)?.state === "gone") this.host.finish(attemptId);
  }

  /** A report to the coordinator failed: tried again shortly. */
  reportFailed(attemptIds: string[]): void {
    const at = this.host.now() + this.timings.reportRetryMs;
    for (const attemptId of attemptIds) {
      const task = this.host.task(attemptId);
      if (task?.state === "lost" || task?.state === "gone") this.host.save({ ...task, leaseExpiresAt: at });
    }
  }

  private processGone(task: PoolTask): PoolTask {
    const gone: PoolTask = { ...task, state: "gone", leaseId: null, leaseExpiresAt: this.host.now(), deadlineAt: null };
    this.host.save(gone);
    return gone;
  }

  private nodeBusy(task: PoolTask, grants: Grant[]): boolean {
    if (task.instanceId === "") return false; // legacy rows without their node
    const sameNode = (other: PoolTask) => other.instanceId === task.instanceId && other.nodeName === task.nodeName && other.attemptId !== task.attemptId;
    return grants.some((g) => sameNode(g.task)) || this.host.attemptsOfNode(task.instanceId, task.nodeName).some((o) => sameNode(o) && holdsProcess(o));
  }
}
