// Moving instances forward: admission, readiness over the per-instance state, retries and stops.
import { Dag } from "../dag.ts";
import type { NodeDefinition, WorkflowDefinition } from "../definition.ts";
import { watchesFinish } from "../alerts.ts";
import { exitDeadline, nextOwnAttemptAt } from "../attempts.ts";
import { conflict } from "../errors.ts";
import { prepareNodeRun } from "../node-run.ts";
import { dagShape, type InstanceStatus } from "../progress.ts";
import { nextToAdmit } from "./admission.ts";
import type { InstanceChanges, NodeRunChanges, SchedulerHost } from "./host.ts";
import { indexDag, type IndexedDag } from "./instance-plan.ts";
import { InstanceState } from "./instance-state.ts";
import { pendingRun, type HttpJob, type InstanceRecord, type NodeRunRecord } from "./records.ts";

/** How often an http request without an outcome is checked on: one lost to an eviction is made again. */
export const HTTP_WATCH_MS = 30_000;
/** Node runs whose instances' state stays in memory at most; the least recently used instance goes first. */
export const MAX_CACHED_RUNS = 50_000;

export interface SchedulerTimings {
  /** Grace beyond a node's timeout before the coordinator stops waiting for its runner's report (two lease periods). */
  timeoutGraceMs: number;
  /** How long a finished instance's live state stays (LIVE_WINDOW_MINUTES); D1 keeps the history, and a rerun after it loads it back. */
  liveWindowMs: number;
  /** Bound on the node runs kept in memory (default MAX_CACHED_RUNS). */
  maxCachedRuns?: number;
}

interface ParsedDefinition {
  def: WorkflowDefinition;
  weights: Record<string, number>;
  dag: Dag;
  indexed: IndexedDag;
  nodes: ReadonlyMap<string, NodeDefinition>;
}

/**
 * What every event handler of the Scheduler (scheduler.ts) builds on: admission, moving an instance
 * forward until it waits, retries, stops, and the in-memory state of the instances it touched.
 */
export class Progression {
  protected readonly host: SchedulerHost;
  protected readonly timings: SchedulerTimings;
  /** Parsed immutable definitions by hash, with their DAGs: safe to keep in memory. */
  protected readonly definitions = new Map<string, ParsedDefinition>();
  /** Per-instance state, loaded from the host on first touch after a wake; in order of last use. */
  private readonly states = new Map<string, InstanceState>();
  private cachedRuns = 0;
  /** Instances whose state the current transaction used or changed: dropped if it rolls back. */
  private readonly inTransaction = new Set<string>();
  /** Environments whose admission loop is running (see admitWaiting). */
  private readonly admitting = new Set<string>();

  constructor(host: SchedulerHost, timings: SchedulerTimings) {
    this.host = host;
    this.timings = timings;
  }

  /** The transaction rolled back: what it changed in memory goes, to be loaded again from storage. */
  discardUncommitted(): void {
    for (const id of this.inTransaction) this.dropState(id);
    this.inTransaction.clear();
  }

  /** The transaction committed: its changes in memory are now storage's too. */
  committed(): void {
    this.inTransaction.clear();
  }

  /**
   * The pool's word that stopped attempts' processes are gone (their runners confirmed the kill, or
   * their leases ran out): their instances give up the places they held in maxParallel.
   */
  processGone(attemptIds: readonly string[]): void {
    const envs = new Set<string>();
    for (const id of attemptIds) {
      const run = this.host.nodeRun(id);
      if (!run?.exiting) continue;
      this.updateRun(id, { exiting: 0 });
      this.touch(run.instance_id);
      envs.add(this.host.instance(run.instance_id)!.env);
    }
    for (const env of envs) this.admitWaiting(env);
  }

  protected touch(instanceId: string): void {
    this.host.emit({ kind: "touched", instanceId });
  }

  protected live(instanceId: string): InstanceRecord {
    const instance = this.host.instance(instanceId);
    if (!instance) throw conflict(`instance ${instanceId} is no longer live here; only its history remains`);
    return instance;
  }

  protected stateOf(instance: InstanceRecord): InstanceState {
    this.inTransaction.add(instance.id);
    let state = this.states.get(instance.id);
    if (state) {
      this.states.delete(instance.id); // to the back: most recently used
    } else {
      state = new InstanceState(this.definitionOf(instance).indexed, instance, this.host.currentRuns(instance.id));
      this.cachedRuns += state.size;
      const budget = this.timings.maxCachedRuns ?? MAX_CACHED_RUNS;
      for (const [id] of this.states) {
        if (this.cachedRuns <= budget) break;
        this.dropState(id);
      }
    }
    this.states.set(instance.id, state);
    return state;
  }

  /** Forgets an instance's state (it finished, was terminated or rerun, or others were used since): loaded again when next needed. */
  protected dropState(instanceId: string): void {
    const state = this.states.get(instanceId);
    if (!state) return;
    this.cachedRuns -= state.size;
    this.states.delete(instanceId);
  }

  /** Writes a node run change and keeps the instance's state in step with it. */
  protected updateRun(id: string, changes: NodeRunChanges): NodeRunRecord {
    const run = this.host.updateNodeRun(id, changes);
    this.noteRun(run);
    return run;
  }

  protected insertRun(run: NodeRunRecord): void {
    this.host.insertNodeRun(run);
    this.noteRun(run);
  }

  private noteRun(run: NodeRunRecord): void {
    const state = this.states.get(run.instance_id);
    if (!state) return;
    this.inTransaction.add(run.instance_id);
    state.record(run);
  }

  /** `reason`: why it finished as it did (skipped, or replaced); cleared by every other change. */
  protected setInstanceStatus(id: string, status: InstanceStatus, at: number, reason: string | null = null): InstanceRecord {
    // Back in line (a rerun), it has not started this run: a start kept from the last would span the time it waited.
    const changes: InstanceChanges =
      status === "running" ? { status, started_at: at, finished_at: null } : status === "waiting" ? { status, started_at: null, finished_at: null } : { status, finished_at: at };
    const instance = this.host.updateInstance(id, { ...changes, reason });
    // Whatever it no longer waits for, its waiting timeout has nothing left to watch.
    if (status !== "waiting") this.host.dropTimers("waiting", id);
    this.host.emit({ kind: "instance-changed", instance });
    return instance;
  }

  protected mirrorRun(run: NodeRunRecord): void {
    this.host.emit({ kind: "node-run-changed", run });
  }

  protected log(attemptId: string, text: string): void {
    this.host.emit({ kind: "log", attemptId, text });
  }

  /** A failed attempt's next one under the node's own retry policy, after its delay; nothing when none are left. */
  protected scheduleRetry(run: NodeRunRecord, now: number): void {
    const node = this.nodeOf(run);
    const at = nextOwnAttemptAt(node.retry, run.attempt, run.lost, now);
    if (at === null) return;
    this.updateRun(run.id, { current: 0 });
    const fresh = pendingRun(run.instance_id, run.node_name, run.node_type, run.attempt + 1, at > now ? at : null, run.lost);
    this.insertRun(fresh);
    if (at > now) this.host.addTimer("retry", fresh.id, at);
    this.mirrorRun(fresh);
  }

  /**
   * Starts waiting instances while the workflow's maxParallel and ordering keys allow (DESIGN §2.5).
   * An instance that finishes at once (noop nodes) asks again from inside `advance`; the loop already
   * running takes that turn instead of nesting one admission inside another.
   */
  protected admitWaiting(env: string): void {
    if (this.admitting.has(env)) return;
    this.admitting.add(env);
    try {
      for (let next = nextToAdmit(this.host, env); next; next = nextToAdmit(this.host, env)) {
        this.setInstanceStatus(next.id, "running", this.host.now());
        this.advance(next.id);
      }
    } finally {
      this.admitting.delete(env);
    }
  }

  /** Moves an instance forward until it waits on runners or timers, or ends. */
  protected advance(instanceId: string): void {
    this.touch(instanceId);
    const instance = this.host.instance(instanceId)!;
    if (instance.status !== "running") return;
    const { def, weights, nodes } = this.definitionOf(instance);
    const state = this.stateOf(instance);
    for (;;) {
      const now = this.host.now();
      const plan = state.plan.plan();
      for (const { name, reason } of plan.skipped) this.mirrorRun(this.updateRun(state.run(name).id, { status: "skipped", finished_at: now, error: reason }));
      let changed = plan.skipped.length > 0;
      for (const name of plan.ready) {
        const run = state.run(name);
        if (run.not_before !== null && run.not_before > now) continue; // a delayed retry: its timer brings it back
        const node = nodes.get(name)!;
        const outcome = prepareNodeRun({ instance, def, node, parsed: state.inputs, attemptId: run.id, attempt: run.attempt, weight: weights[name] ?? 0 });
        if (outcome.kind === "done") {
          changed = true;
          const chosen = outcome.chosen ? { chosen: JSON.stringify(outcome.chosen) } : {};
          this.mirrorRun(this.updateRun(run.id, { status: outcome.status, started_at: now, finished_at: now, error: outcome.error, ...chosen }));
          for (const line of outcome.log) this.log(run.id, line);
          if (outcome.status === "failed") this.scheduleRetry(run, now);
        } else if (outcome.kind === "http") {
          this.mirrorRun(this.updateRun(run.id, { status: "running", queued_at: now, started_at: now, runner_id: "worker" }));
          this.host.addTimer("timeout", run.id, now + outcome.timeoutSeconds * 1000 + this.timings.timeoutGraceMs);
          const job: HttpJob = { attemptId: run.id, request: outcome.request, timeoutSeconds: outcome.timeoutSeconds };
          this.host.saveHttpJob(job);
          this.host.addTimer("http", run.id, now + HTTP_WATCH_MS);
          this.host.emit({ kind: "http", job });
        } else {
          this.mirrorRun(this.updateRun(run.id, { status: "queued", queued_at: now }));
          // policy.resourceGroup resolves inside the workflow's workspace (DESIGN §1).
          const workspaceId = instance.workspace_id;
          this.host.emit({ kind: "dispatch", workspaceId, resourceGroup: def.policy.resourceGroup, tasks: [{ ...outcome.queued, workspaceId }] });
        }
      }
      if (plan.finished) {
        this.finish(instanceId, plan.finished, now);
        this.admitWaiting(instance.env);
        return;
      }
      if (!changed) return;
    }
  }

  /**
   * Ends an instance (every final state passes here, once); its live state stays for the live window
   * (core/live-window.ts). `reason`: why a skipped instance never ran, or who replaced a terminated one.
   */
  protected finish(instanceId: string, status: Exclude<InstanceStatus, "waiting" | "running">, now: number, reason: string | null = null): void {
    const instance = this.setInstanceStatus(instanceId, status, now, reason);
    // Alerts (core/alerts.ts): the coordinator decides which fire, and delivers them once this commits.
    if (watchesFinish(this.definitionOf(instance).def.policy.alerts ?? [], instance.env)) this.host.emit({ kind: "alert", instance, status });
    this.host.addTimer("purge", instanceId, now + this.timings.liveWindowMs);
    this.dropState(instanceId);
  }

  /**
   * Stops attempts: they leave the pool or are killed by their runners, and until the pool says their
   * processes are gone (or two lease periods pass) they hold their instance's place in maxParallel.
   */
  protected stop(instance: InstanceRecord, attemptIds: string[], now: number): void {
    for (const id of attemptIds) {
      if (this.host.nodeRun(id)?.exiting === 0) this.updateRun(id, { exiting: 1 });
      this.host.addTimer("exit", id, exitDeadline(now, this.timings.timeoutGraceMs / 2));
    }
    this.cancelInPool(instance, attemptIds);
  }

  /** Queued attempts leave the pool; leased ones are killed by their runners at the next heartbeat. */
  protected cancelInPool(instance: InstanceRecord, attemptIds: string[]): void {
    const resourceGroup = this.definitionOf(instance).def.policy.resourceGroup;
    this.host.emit({ kind: "cancel", workspaceId: instance.workspace_id, resourceGroup, attemptIds });
  }

  protected nodeOf(run: NodeRunRecord): NodeDefinition {
    return this.definitionOf(this.host.instance(run.instance_id)!).nodes.get(run.node_name)!;
  }

  /** A definition is immutable under its hash, so it is read, parsed and shaped once per object lifetime. */
  protected definitionOf(instance: Pick<InstanceRecord, "def_hash">): ParsedDefinition {
    let cached = this.definitions.get(instance.def_hash);
    if (!cached) {
      const { def, weights } = this.host.definition(instance.def_hash);
      const dag = new Dag(def.nodes.map((n) => n.name), def.edges);
      const indexed = indexDag(dagShape(def.nodes, def.edges, dag.topologicalOrder()));
      cached = { def, weights, dag, indexed, nodes: new Map(def.nodes.map((n) => [n.name, n])) };
      this.definitions.set(instance.def_hash, cached);
    }
    return cached;
  }
}
