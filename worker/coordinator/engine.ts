// The coordinator's state machine over its store: the events it answers (starts, reports, terminate, rerun, timers).
import { lostAttempt } from "../core/attempts.ts";
import { nodesToRerun, STOPPABLE, type RerunMode } from "../core/lifecycle.ts";
import { FINISHED_INSTANCE, FINISHED_NODE, type InstanceStatus, type NodeStatus } from "../core/progress.ts";
import type { Completion } from "../core/runner-protocol.ts";
import { conflict } from "../core/errors.ts";
import { insertLog, upsertInstance, upsertNodeRun, type Statement } from "../db/mirror.ts";
import { instanceView, type InstanceView } from "../db/views.ts";
import { HTTP_WATCH_MS, Progression } from "./progression.ts";
import { mirrorRow, pendingRun } from "./rows.ts";
import type { HttpJob, Started, StartInstance } from "./types.ts";

export type { HttpJob, Started, StartInstance } from "./types.ts";

/** The response text kept as the node's log and outputs.body. */
const HTTP_LOG_BYTES = 64 * 1024;
const HTTP_OUTPUT_BODY_CHARS = 16 * 1024;

export class Engine extends Progression {
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

}
