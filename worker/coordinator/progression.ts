// The coordinator's progression over its store: admission, moving an instance forward, retries and stops.
import { Dag } from "../core/dag.ts";
import type { WorkflowDefinition } from "../core/definition.ts";
import { exitDeadline, nextOwnAttemptAt } from "../core/attempts.ts";
import { prepareNodeRun } from "../core/node-run.ts";
import { dagShape, planProgress, type DagShape, type NodeStatus } from "../core/progress.ts";
import { conflict } from "../core/errors.ts";
import { insertLog, upsertInstance, upsertNodeRun, type Statement } from "../db/mirror.ts";
import type { Outbox } from "./outbox.ts";
import { mirrorRow, pendingRun } from "./rows.ts";
import type { CoordinatorStore, LiveInstance, LiveNodeRun } from "./store.ts";
import type { HttpJob } from "./types.ts";

/** How often an http request without an outcome is checked on: one lost to an eviction is made again. */
export const HTTP_WATCH_MS = 30_000;

/**
 * What every event handler of the Engine (engine.ts) builds on: the live state's fields, admission
 * by maxParallel and ordering keys, moving an instance forward until it waits, retries, stops.
 */
export class Progression {
  /** Requests to make once the current transaction commits; a lost one is caught by its timeout timer. */
  protected httpJobs: HttpJob[] = [];
  /** Environments whose admission loop is running (see admitWaiting). */
  protected readonly admitting = new Set<string>();
  /** Instances changed by the current transaction, for live subscribers. */
  protected touched = new Set<string>();
  protected readonly store: CoordinatorStore;
  protected readonly outbox: Outbox;
  protected readonly clock: () => number;
  /** Grace beyond a node's timeout before the coordinator stops waiting for its runner's report. */
  protected readonly timeoutGraceMs: number;
  /** How long a finished instance's live state stays (a rerun needs it); D1 keeps the history. */
  protected readonly retentionMs: number;
  /** Whether this object has the attempt's http request in flight (set by the Durable Object). */
  httpInFlight: (attemptId: string) => boolean = () => false;
  /** Parsed immutable definitions by hash, with their DAGs: safe to keep in memory. */
  protected readonly definitions = new Map<string, { def: WorkflowDefinition; weights: Record<string, number>; dag: Dag; shape: DagShape }>();

  constructor(store: CoordinatorStore, outbox: Outbox, timeoutGraceMs: number, retentionMs: number, clock: () => number = Date.now) {
    this.retentionMs = retentionMs;
    this.store = store;
    this.outbox = outbox;
    this.timeoutGraceMs = timeoutGraceMs;
    this.clock = clock;
  }

  /**
   * The pool's word that stopped attempts' processes are gone (their runners confirmed the kill, or
   * their leases ran out): their instances give up the places they held in maxParallel.
   */
  processGone(attemptIds: readonly string[]): void {
    const envs = new Set<string>();
    for (const run of this.store.setExiting(attemptIds, false)) {
      this.touched.add(run.instance_id);
      envs.add(this.store.instance(run.instance_id)!.env);
    }
    for (const env of envs) this.admitWaiting(env);
  }

  protected live(instanceId: string): LiveInstance {
    const instance = this.store.instance(instanceId);
    if (!instance) throw conflict(`instance ${instanceId} is past its retention period; only its history remains`);
    return instance;
  }

  protected scheduleRetry(run: LiveNodeRun, now: number): void {
    const { def } = this.definitionOf(run.instance_id);
    const node = def.nodes.find((n) => n.name === run.node_name)!;
    const at = nextOwnAttemptAt(node.retry, run.attempt, run.lost, now);
    if (at === null) return;
    this.store.retire(run.id);
    const fresh = pendingRun(run.instance_id, run.node_name, run.node_type, run.attempt + 1);
    this.store.insertNodeRun(fresh, at > now ? at : null, run.lost);
    if (at > now) this.store.addTimer("retry", fresh.id, at);
    this.mirror([upsertNodeRun(fresh)]);
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
      this.admitLoop(env);
    } finally {
      this.admitting.delete(env);
    }
  }

  protected admitLoop(env: string): void {
    for (;;) {
      const next = this.store.nextWaiting(env);
      if (!next) return;
      if (next.max_parallel !== null && this.store.countRunning(env) >= next.max_parallel) return;
      const running = this.store.setInstanceStatus(next.id, "running", this.clock());
      this.mirror([upsertInstance(mirrorRow(running))]);
      this.advance(next.id);
    }
  }

  /** Moves an instance forward until it waits on runners or timers, or ends. */
  protected advance(instanceId: string): void {
    this.touched.add(instanceId);
    const instance = this.store.instance(instanceId)!;
    if (instance.status !== "running") return;
    const { def, weights, shape } = this.definitionOf(instanceId);
    for (;;) {
      const now = this.clock();
      const runs = this.store.currentRuns(instanceId);
      const byName = new Map(runs.map((r) => [r.node_name, r]));
      const chosen = Object.fromEntries(runs.filter((r) => r.chosen !== null).map((r) => [r.node_name, JSON.parse(r.chosen!) as string[]]));
      const plan = planProgress(shape, Object.fromEntries(runs.map((r) => [r.node_name, r.status as NodeStatus])), chosen);
      const statements = plan.skipped.map(({ name, reason }) =>
        upsertNodeRun(this.store.updateNodeRun(byName.get(name)!.id, { status: "skipped", finished_at: now, error: reason })),
      );
      let changed = plan.skipped.length > 0;
      for (const name of plan.ready) {
        const run = byName.get(name)!;
        if (run.not_before !== null && run.not_before > now) continue; // a delayed retry: its timer brings it back
        const node = def.nodes.find((n) => n.name === name)!;
        const outcome = prepareNodeRun({ instance, def, node, runs, attemptId: run.id, attempt: run.attempt, weight: weights[name] ?? 0 });
        if (outcome.kind === "done") {
          changed = true;
          if (outcome.chosen) this.store.setChosen(run.id, outcome.chosen);
          statements.push(upsertNodeRun(this.store.updateNodeRun(run.id, { status: outcome.status, started_at: now, finished_at: now, error: outcome.error })));
          for (const line of outcome.log) statements.push(insertLog(run.id, line));
          if (outcome.status === "failed") this.scheduleRetry(run, now);
        } else if (outcome.kind === "http") {
          statements.push(upsertNodeRun(this.store.updateNodeRun(run.id, { status: "running", queued_at: now, started_at: now, runner_id: "worker" })));
          this.store.addTimer("timeout", run.id, now + outcome.timeoutSeconds * 1000 + this.timeoutGraceMs);
          const job: HttpJob = { attemptId: run.id, request: outcome.request, timeoutSeconds: outcome.timeoutSeconds };
          this.store.saveHttpJob(run.id, job);
          this.store.addTimer("http", run.id, now + HTTP_WATCH_MS);
          this.httpJobs.push(job);
        } else {
          statements.push(upsertNodeRun(this.store.updateNodeRun(run.id, { status: "queued", queued_at: now })));
          this.mirror(statements.splice(0));
          // policy.resourceGroup resolves inside the workflow's workspace (DESIGN §1).
          const workspaceId = instance.workspace_id;
          this.outbox.add({ kind: "dispatch", workspaceId, resourceGroup: def.policy.resourceGroup, tasks: [{ ...outcome.queued, workspaceId }] });
        }
      }
      this.mirror(statements);
      if (plan.finished) {
        const done = this.store.setInstanceStatus(instanceId, plan.finished, now);
        this.store.addTimer("purge", instanceId, now + this.retentionMs);
        this.mirror([upsertInstance(mirrorRow(done))]);
        this.admitWaiting(instance.env);
        return;
      }
      if (!changed) return;
    }
  }

  /**
   * Stops attempts: they leave the pool or are killed by their runners, and until the pool says their
   * processes are gone (or two lease periods pass) they hold their instance's place in maxParallel.
   */
  protected stop(instanceId: string, attemptIds: string[], now: number): void {
    this.store.setExiting(attemptIds, true);
    for (const id of attemptIds) this.store.addTimer("exit", id, exitDeadline(now, this.timeoutGraceMs / 2));
    this.cancelInPool(instanceId, attemptIds);
  }

  /** Queued attempts leave the pool; leased ones are killed by their runners at the next heartbeat. */
  protected cancelInPool(instanceId: string, attemptIds: string[]): void {

    const workspaceId = this.store.instance(instanceId)!.workspace_id;
    this.outbox.add({ kind: "cancel", workspaceId, resourceGroup: this.definitionOf(instanceId).def.policy.resourceGroup, attemptIds });
  }

  /** A definition is immutable under its hash, so it is read, parsed and shaped once per object lifetime. */
  protected definitionOf(instanceId: string) {
    const hash = this.store.instance(instanceId)!.def_hash;
    let cached = this.definitions.get(hash);
    if (!cached) {
      const { def, weights } = this.store.definition(hash);
      const dag = new Dag(def.nodes.map((n) => n.name), def.edges);
      cached = { def, weights, dag, shape: dagShape(def.nodes, def.edges, dag.topologicalOrder()) };
      this.definitions.set(hash, cached);
    }
    return cached;
  }

  protected mirror(statements: Statement[]): void {
    if (statements.length > 0) this.outbox.add({ kind: "d1", statements });
  }
}
