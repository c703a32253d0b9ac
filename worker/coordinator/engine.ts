// The coordinator's state machine over its store: admission, progression, retries, terminate, rerun.
import { Dag } from "../core/dag.ts";
import type { WorkflowDefinition } from "../core/definition.ts";
import { exitDeadline, lostAttempt, nextOwnAttemptAt } from "../core/attempts.ts";
import { nodesToRerun, STOPPABLE, type RerunMode } from "../core/lifecycle.ts";
import { prepareNodeRun } from "../core/node-run.ts";
import { dagShape, FINISHED_INSTANCE, FINISHED_NODE, planProgress, type DagShape, type InstanceStatus, type NodeStatus } from "../core/progress.ts";
import type { Completion } from "../core/runner-protocol.ts";
import { conflict } from "../core/errors.ts";
import { insertLog, upsertInstance, upsertNodeRun, type Statement } from "../db/mirror.ts";
import { instanceView, type InstanceView } from "../db/views.ts";
import type { Outbox } from "./outbox.ts";
import { mirrorRow, pendingRun } from "./rows.ts";
import type { CoordinatorStore, LiveInstance, LiveNodeRun } from "./store.ts";
import type { HttpJob, Started, StartInstance } from "./types.ts";

export type { HttpJob, Started, StartInstance } from "./types.ts";


/** How often an http request without an outcome is checked on: one lost to an eviction is made again. */
const HTTP_WATCH_MS = 30_000;

/** The response text kept as the node's log and outputs.body. */
const HTTP_LOG_BYTES = 64 * 1024;
const HTTP_OUTPUT_BODY_CHARS = 16 * 1024;

export class Engine {
  /** Requests to make once the current transaction commits; a lost one is caught by its timeout timer. */
  private httpJobs: HttpJob[] = [];
  /** Environments whose admission loop is running (see admitWaiting). */
  private readonly admitting = new Set<string>();
  /** Instances changed by the current transaction, for live subscribers. */
  private touched = new Set<string>();
  private readonly store: CoordinatorStore;
  private readonly outbox: Outbox;
  private readonly clock: () => number;
  /** Grace beyond a node's timeout before the coordinator stops waiting for its runner's report. */
  private readonly timeoutGraceMs: number;
  /** How long a finished instance's live state stays (a rerun needs it); D1 keeps the history. */
  private readonly retentionMs: number;
  /** Whether this object has the attempt's http request in flight (set by the Durable Object). */
  httpInFlight: (attemptId: string) => boolean = () => false;
  /** Parsed immutable definitions by hash, with their DAGs: safe to keep in memory. */

  private readonly definitions = new Map<string, { def: WorkflowDefinition; weights: Record<string, number>; dag: Dag; shape: DagShape }>();

  constructor(store: CoordinatorStore, outbox: Outbox, timeoutGraceMs: number, retentionMs: number, clock: () => number = Date.now) {
    this.retentionMs = retentionMs;
    this.store = store;
    this.outbox = outbox;
    this.timeoutGraceMs = timeoutGraceMs;
    this.clock = clock;
  }

  /** A batch in arrival order: every instance is recorded first, then admission runs once per environment. */
  startMany(inputs: StartInstance[], defHashes: string[]): Started[] {
    const early = inputs.map((input, i) => this.insertStart(input, defHashes[i]!));
    for (const env of new Set(inputs.map((i) => i.env))) this.admitWaiting(env);
    return inputs.map((input, i) => early[i] ?? { id: input.instanceId, status: this.store.instance(input.instanceId)!.status as InstanceStatus });
  }

  /** Records a new waiting instance; or, for one already started (same id or dedup key), the answer. */
  private insertStart(input: StartInstance, defHash: string): Started | null {
    const now = this.clock();
    const existing = this.store.instance(input.instanceId);
    if (existing) return { id: existing.id, status: existing.status as InstanceStatus };
    if (input.dedup) {
      const first = this.store.dedupHit(input.dedup.key, now);
      // Dedup windows never outlast retention, but a purged instance must not break the answer.
      if (first) return { id: first, status: (this.store.instance(first)?.status ?? "succeeded") as InstanceStatus, duplicate: true };
      this.store.rememberDedup(input.dedup.key, input.instanceId, now + input.dedup.windowSeconds * 1000);
    }
    // A definition parsed here before is stored already (a batch of starts saves it once).
    if (!this.definitions.has(defHash)) this.store.saveDefinition(defHash, input.definition, input.weights);
    this.store.insertInstance({
      id: input.instanceId,
      workspace_id: input.workspaceId,
      workflow_id: input.workflowId,
      workflow_name: input.workflowName,
      version: input.version,
      env: input.env,
      status: "waiting",
      priority: input.priorityOverride ?? input.definition.policy.priority,
      priority_override: input.priorityOverride,
      max_parallel: input.definition.policy.maxParallel,
      ordering_key: input.orderingKey ?? null,
      run_date: input.runDate,
      trigger_type: input.triggerType,
      trigger_message: JSON.stringify(input.triggerMessage ?? {}),
      params: JSON.stringify(input.params),
      def_hash: defHash,
      cyctime: input.cyctime,
      created_at: input.receivedAt,
      started_at: null,
      finished_at: null,
    });
    this.touched.add(input.instanceId);
    const statements = [upsertInstance(mirrorRow(this.store.instance(input.instanceId)!))];
    for (const node of input.definition.nodes) {
      const run = pendingRun(input.instanceId, node.name, node.type, 1);
      this.store.insertNodeRun(run);
      statements.push(upsertNodeRun(run));
    }
    this.outbox.add({ kind: "d1", statements });
    return null;
  }

  nodeStarted(attemptId: string, runnerId: string, at: number): void {
    const run = this.store.nodeRun(attemptId);
    if (!run || run.current !== 1 || run.status !== "queued") return;
    this.touched.add(run.instance_id);
    const updated = this.store.updateNodeRun(attemptId, { status: "running", runner_id: runnerId, started_at: at });
    const { def } = this.definitionOf(run.instance_id);
    const node = def.nodes.find((n) => n.name === run.node_name)!;
    // A backstop for a runner that never reports: the runner enforces the timeout itself.
    this.store.addTimer("timeout", attemptId, at + node.timeoutSeconds * 1000 + this.timeoutGraceMs);
    this.mirror([upsertNodeRun(updated)]);
  }

  /** A runner's result. Idempotent: a repeated or stale report changes nothing. */
  nodeFinished(attemptId: string, completion: Completion): void {
    const run = this.store.nodeRun(attemptId);
    // The process reported, so it is gone: a stopped attempt no longer holds its instance's place.
    if (run?.exiting) this.processGone([attemptId]);
    if (!run || run.current !== 1 || FINISHED_NODE.has(run.status as NodeStatus)) return;
    const now = this.clock();
    this.touched.add(run.instance_id);
    const ok = completion.exitCode === 0;
    const error = ok

      ? null
      : (completion.error ?? (completion.exitCode === null ? `killed by signal ${completion.signal ?? "unknown"}` : `exit code ${completion.exitCode}`));
    const updated = this.store.updateNodeRun(attemptId, {
      status: ok ? "succeeded" : "failed",
      started_at: run.started_at ?? now,
      finished_at: now,
      exit_code: completion.exitCode,
      error,
      outputs: JSON.stringify(completion.outputs),
    });
    this.mirror([upsertNodeRun(updated)]);
    if (!ok) this.scheduleRetry(run, now);
    this.advance(run.instance_id);
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

  /**
   * An attempt its runner lost (the lease expired, so by protocol the process was killed): another
   * attempt at once while infrastructure retries remain, not counted against the node's own retries.
   */
  nodeLost(attemptId: string, reason: string): void {
    const run = this.store.nodeRun(attemptId);
    if (!run || run.current !== 1 || FINISHED_NODE.has(run.status as NodeStatus)) return;
    const verdict = lostAttempt(reason, run.lost);
    this.mirror([insertLog(attemptId, verdict.log)]);
    if (verdict.retry === "none") return this.nodeFinished(attemptId, { exitCode: null, signal: null, outputs: {}, error: verdict.error });
    const now = this.clock();
    this.touched.add(run.instance_id);
    const lost = this.store.updateNodeRun(attemptId, { status: "failed", started_at: run.started_at ?? now, finished_at: now, error: verdict.error });
    this.store.retire(attemptId);
    const fresh = pendingRun(run.instance_id, run.node_name, run.node_type, run.attempt + 1);
    this.store.insertNodeRun(fresh, null, run.lost + 1);
    this.mirror([upsertNodeRun(lost), upsertNodeRun(fresh)]);
    this.advance(run.instance_id);
  }

  /** Attempts whose dispatch the outbox gave up (their pool never took them): they fail with why. */
  dispatchFailed(undelivered: readonly { attemptIds: string[]; error: string }[]): void {
    for (const { attemptIds, error } of undelivered) {
      for (const attemptId of attemptIds) {
        if (this.store.nodeRun(attemptId)?.status !== "queued") continue;
        this.mirror([insertLog(attemptId, `[sluice] ${error}\n`)]);
        this.nodeFinished(attemptId, { exitCode: null, signal: null, outputs: {}, error });
      }
    }
  }

  /** Forgets what a transaction that rolled back gathered in memory: its http requests and live notices. */

  discardUncommitted(): void {
    this.httpJobs = [];
    this.touched.clear();
  }

  takeTouched(): string[] {
    const ids = [...this.touched];
    this.touched.clear();
    return ids;
  }

  /** The instance as the API shows it, from the coordinator's live state. */
  view(instanceId: string): InstanceView | null {
    const instance = this.store.instance(instanceId);
    return instance ? instanceView(mirrorRow(instance), this.store.currentRuns(instanceId), this.waitReason(instanceId)) : null;
  }

  takeHttpJobs(): HttpJob[] {
    return this.httpJobs.splice(0);
  }

  /** An http node's response (or why there is none): 2xx succeeds; the response text is its log and outputs. */
  httpFinished(attemptId: string, result: { status: number; body: string } | { error: string }): void {
    this.store.dropHttpJob(attemptId);
    const run = this.store.nodeRun(attemptId);
    if (!run || run.current !== 1 || run.status !== "running") return;
    if ("error" in result) {
      this.mirror([insertLog(attemptId, `[sluice] ${result.error}\n`)]);
      this.nodeFinished(attemptId, { exitCode: null, signal: null, outputs: {}, error: result.error });
      return;
    }
    const ok = result.status >= 200 && result.status < 300;
    const truncated = result.body.length > HTTP_LOG_BYTES ? `${result.body.slice(0, HTTP_LOG_BYTES)}\n[sluice] response truncated\n` : result.body;
    this.mirror([insertLog(attemptId, `[sluice] HTTP ${result.status}\n${truncated}`)]);
    this.nodeFinished(attemptId, {
      exitCode: ok ? 0 : 1,
      signal: null,
      outputs: { status: String(result.status), body: result.body.slice(0, HTTP_OUTPUT_BODY_CHARS) },
      error: ok ? null : `HTTP ${result.status}`,
    });
  }

  /** Stops an instance: queued work is dropped, running processes are killed by their runners. */
  terminate(instanceId: string): Started {
    const instance = this.live(instanceId);
    if (FINISHED_INSTANCE.has(instance.status as InstanceStatus)) {
      throw conflict(`instance ${instanceId} already ${instance.status}; nothing to terminate`);
    }
    const now = this.clock();
    this.touched.add(instanceId);
    const statements: Statement[] = [];
    const cancel: string[] = [];
    for (const run of this.store.currentRuns(instanceId)) {
      if (!STOPPABLE.has(run.status as NodeStatus)) continue;
      if (run.status !== "pending") cancel.push(run.id);
      statements.push(upsertNodeRun(this.store.updateNodeRun(run.id, { status: "terminated", finished_at: now, error: "terminated by a user" })));
    }
    const done = this.store.setInstanceStatus(instanceId, "terminated", now);
    this.store.addTimer("purge", instanceId, now + this.retentionMs);
    statements.push(upsertInstance(mirrorRow(done)));
    this.mirror(statements);
    if (cancel.length > 0) this.stop(instanceId, cancel, now);
    this.admitWaiting(instance.env);
    return { id: instanceId, status: "terminated" };
  }

  /** Gives the chosen nodes a new attempt with the instance's version, parameters and message. */
  rerun(instanceId: string, mode: RerunMode): Started {
    const instance = this.live(instanceId);
    if (!FINISHED_INSTANCE.has(instance.status as InstanceStatus)) {
      throw conflict(`instance ${instanceId} is ${instance.status}; only a finished instance can be rerun`);
    }
    this.touched.add(instanceId);
    const { dag } = this.definitionOf(instanceId);
    const runs = this.store.currentRuns(instanceId);
    const chosen = nodesToRerun(mode, Object.fromEntries(runs.map((r) => [r.node_name, r.status as NodeStatus])), (n) => dag.descendants(n));
    if (chosen.length === 0) throw conflict(`instance ${instanceId} has no failed or terminated node to rerun`);
    const statements: Statement[] = [];
    for (const name of chosen) {
      const old = runs.find((r) => r.node_name === name)!;
      this.store.retire(old.id);
      const fresh = pendingRun(instanceId, name, old.node_type, old.attempt + 1);
      this.store.insertNodeRun(fresh);
      statements.push(upsertNodeRun(fresh));
    }
    statements.push(upsertInstance(mirrorRow(this.store.setInstanceStatus(instanceId, "waiting", this.clock()))));
    this.mirror(statements);
    this.admitWaiting(instance.env);
    return { id: instanceId, status: this.store.instance(instanceId)!.status as InstanceStatus };
  }

  /** Runs the timers that are due: delayed retries and timeout backstops. */
  fireTimers(): void {
    const now = this.clock();
    for (const timer of this.store.takeDueTimers(now)) {
      if (timer.kind === "purge") {
        const instance = this.store.instance(timer.ref);
        // A rerun since the timer was set finished later: its own timer purges it.
        if (instance && FINISHED_INSTANCE.has(instance.status as InstanceStatus) && instance.finished_at! + this.retentionMs <= now) {
          this.store.purgeInstance(timer.ref);
        }
        continue;
      }
      if (timer.kind === "http") {
        this.watchHttpJob(timer.ref, now);
        continue;
      }
      if (timer.kind === "exit") {
        this.processGone([timer.ref]); // two lease periods passed: by protocol its runner killed it
        continue;
      }
      const run = this.store.nodeRun(timer.ref);
      if (!run || run.current !== 1) continue;
      if (timer.kind === "retry") this.advance(run.instance_id);
      else if (timer.kind === "timeout" && run.status === "running") {
        this.nodeFinished(run.id, { exitCode: null, signal: null, outputs: {}, error: "timed out: the runner did not report before the node's timeout" });
        this.stop(run.instance_id, [run.id], now);
      }
    }
  }

  /**
   * An http request still without an outcome: made again if no request of it is in flight (this
   * object was evicted mid-request), and watched again either way while its node runs.
   */
  private watchHttpJob(attemptId: string, now: number): void {
    const job = this.store.httpJob<HttpJob>(attemptId);
    if (!job) return;
    if (this.store.nodeRun(attemptId)?.status !== "running") return this.store.dropHttpJob(attemptId);
    if (!this.httpInFlight(attemptId)) {
      this.mirror([insertLog(attemptId, "[sluice] the coordinator restarted during the request; making it again\n")]);
      this.httpJobs.push(job);
    }
    this.store.addTimer("http", attemptId, now + HTTP_WATCH_MS);
  }

  nextTimerAt(): number | null {
    return this.store.nextTimerAt();
  }

  /** Why a waiting instance waits, for people reading the console. */
  waitReason(instanceId: string): string | null {
    const instance = this.store.instance(instanceId);
    if (!instance || instance.status !== "waiting") return null;
    const ahead = this.store.waitingAhead(instance);
    const running = this.store.countRunning(instance.env);
    if (instance.max_parallel !== null && running >= instance.max_parallel) {
      const exiting = this.store.countExiting(instance.env);
      const held = exiting > 0 ? `, ${exiting} of them stopped but with processes still exiting` : "";
      return `maxParallel ${instance.max_parallel} reached (${running} running${held}); ${ahead} waiting ahead of it`;
    }
    return instance.ordering_key !== null ? `another instance with ordering key '${instance.ordering_key}' runs or arrived first` : `${ahead} waiting ahead of it`;
  }

  private live(instanceId: string): LiveInstance {
    const instance = this.store.instance(instanceId);
    if (!instance) throw conflict(`instance ${instanceId} is past its retention period; only its history remains`);
    return instance;
  }

  private scheduleRetry(run: LiveNodeRun, now: number): void {
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
  private admitWaiting(env: string): void {
    if (this.admitting.has(env)) return;
    this.admitting.add(env);
    try {
      this.admitLoop(env);
    } finally {
      this.admitting.delete(env);
    }
  }

  private admitLoop(env: string): void {
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
  private advance(instanceId: string): void {
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
  private stop(instanceId: string, attemptIds: string[], now: number): void {
    this.store.setExiting(attemptIds, true);
    for (const id of attemptIds) this.store.addTimer("exit", id, exitDeadline(now, this.timeoutGraceMs / 2));
    this.cancelInPool(instanceId, attemptIds);
  }

  /** Queued attempts leave the pool; leased ones are killed by their runners at the next heartbeat. */
  private cancelInPool(instanceId: string, attemptIds: string[]): void {

    const workspaceId = this.store.instance(instanceId)!.workspace_id;
    this.outbox.add({ kind: "cancel", workspaceId, resourceGroup: this.definitionOf(instanceId).def.policy.resourceGroup, attemptIds });
  }

  /** A definition is immutable under its hash, so it is read, parsed and shaped once per object lifetime. */
  private definitionOf(instanceId: string) {
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

  private mirror(statements: Statement[]): void {
    if (statements.length > 0) this.outbox.add({ kind: "d1", statements });
  }
}
