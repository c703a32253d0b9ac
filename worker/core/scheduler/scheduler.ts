// The scheduler of one workflow: the events it answers (starts, reports, terminate, rerun, timers) over its host.
import { lostAttempt } from "../attempts.ts";
import { conflict } from "../errors.ts";
import { nodesToRerun, nothingToTerminate, rerunRequest, type RerunMode } from "../lifecycle.ts";
import { FINISHED_INSTANCE, FINISHED_NODE, type InstanceStatus, type NodeStatus } from "../progress.ts";
import type { Completion } from "../runner-protocol.ts";
import { forgetVerdict, nextDedupSweepAt } from "../live-window.ts";
import { waitReason } from "./admission.ts";
import { FlowControl } from "./flow-control.ts";
import { HTTP_WATCH_MS } from "./progression.ts";
import type { WorkflowDefinition } from "../definition.ts";
import { pendingRun, type InstanceRecord, type NodeRunRecord, type Started, type StartInstance, type StartNotice } from "./records.ts";

/** Expired dedup keys forgotten on a start's path (a few: the sweep timer takes the rest). */
const DEDUP_SWEPT_PER_START = 20;
/** Expired dedup keys forgotten per sweep; more left make the next sweep due at once. */
const DEDUP_SWEPT_PER_TIMER = 1_000;

/** The response text kept as the node's log and outputs.body. */
const HTTP_LOG_BYTES = 64 * 1024;
const HTTP_OUTPUT_BODY_CHARS = 16 * 1024;

export class Scheduler extends FlowControl {
  /**
   * A batch in arrival order: every instance is recorded first, then admission runs once per environment,
   * then the arrivals left waiting follow their overlap policy.
   */
  startMany(inputs: StartInstance[], defHashes: string[]): Started[] {
    const early = inputs.map((input, i) => this.insertStart(input, defHashes[i]!));
    for (const env of new Set(inputs.map((i) => i.env))) this.admitWaiting(env);
    const arrivals = inputs.filter((_, i) => early[i] === null).map((input) => input.instanceId);
    this.applyOverlap(arrivals);
    for (const id of arrivals) this.startedWaiting(id);
    return inputs.map((input, i) => early[i] ?? { id: input.instanceId, status: this.host.instance(input.instanceId)!.status as InstanceStatus });
  }

  /** Records a new waiting instance; or, for one already started (same id or dedup key), the answer. */
  private insertStart(input: StartInstance, defHash: string): Started | null {
    const now = this.host.now();
    const existing = this.host.instance(input.instanceId);
    if (existing) return { id: existing.id, status: existing.status as InstanceStatus };
    if (input.dedup) {
      this.host.forgetExpiredDedup(now, DEDUP_SWEPT_PER_START);
      const first = this.host.dedupEntry(input.dedup.key);
      // A dedup window outlasts the live window: an instance gone from live state answers with the status it left with.
      if (first && first.expiresAt > now) {
        const status = this.host.instance(first.instanceId)?.status ?? first.status ?? "succeeded";
        return { id: first.instanceId, status: status as InstanceStatus, duplicate: true };
      }
      const expiresAt = now + input.dedup.windowSeconds * 1000;
      this.host.rememberDedup(input.dedup.key, input.instanceId, expiresAt);
      // Keys nobody asks about again are swept by a timer; one sweep serves every key expiring by then.
      this.host.addTimerOnce("prune", "dedup", nextDedupSweepAt(expiresAt, now)!);
    }
    // A definition parsed here before is stored already (a batch of starts saves it once); a new one is mirrored
    // before the instance that names it.
    if (!this.definitions.has(defHash) && this.host.saveDefinition(defHash, input.definition, input.weights)) {
      const { workspaceId, workflowId, definition: def, weights } = input;
      this.host.emit({ kind: "definition-saved", hash: defHash, workspaceId, workflowId, def, weights });
    }
    const instance = this.host.insertInstance({
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
      concurrency_key: input.concurrencyKey && "value" in input.concurrencyKey ? input.concurrencyKey.value : null,
      concurrency_limit: input.definition.policy.concurrency?.limit ?? null,
      reason: null,
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
    this.touch(input.instanceId);
    this.host.emit({ kind: "instance-changed", instance });
    for (const node of input.definition.nodes) {
      const run = pendingRun(input.instanceId, node.name, node.type, 1);
      this.insertRun(run);
      this.mirrorRun(run);
    }
    // A key that cannot be resolved has no line to wait in: the instance is skipped, saying why.
    if (input.concurrencyKey && "error" in input.concurrencyKey) this.skip(instance.id, `skipped: ${input.concurrencyKey.error}`);
    return null;
  }

  /**
   * The pool leased the attempt to a runner at `at`. A lease the runner never confirmed is offered again
   * as the same attempt (core/leases.ts): the later start is the one that counts, so the node names its
   * runner and its timeout backstop runs from there.
   */
  nodeStarted(attemptId: string, runnerId: string, at: number): void {
    const run = this.host.nodeRun(attemptId);
    if (!run || run.current !== 1) return;
    const again = run.status === "running" && run.runner_id !== runnerId && at > (run.started_at ?? 0);
    if (run.status !== "queued" && !again) return;
    this.touch(run.instance_id);
    const updated = this.updateRun(attemptId, { status: "running", runner_id: runnerId, started_at: at });
    // A backstop for a runner that never reports: the runner enforces the timeout itself.
    this.host.addTimer("timeout", attemptId, this.timeoutDeadline(run, at));
    this.mirrorRun(updated);
  }

  /** Start notices of the pool, several at once. */
  nodesStarted(notices: readonly StartNotice[]): void {
    for (const notice of notices) this.nodeStarted(notice.attemptId, notice.runnerId, notice.at);
  }

  /**
   * A runner's result. Idempotent: a repeated or stale report changes nothing. `started` is the pool's
   * start notice when it had not gone out yet: the result carries it instead (one hop per node).
   */
  nodeFinished(attemptId: string, completion: Completion, started?: StartNotice): void {
    const run = this.host.nodeRun(attemptId);
    // The process reported, so it is gone: a stopped attempt no longer holds its instance's place.
    if (run?.exiting) this.processGone([attemptId]);
    if (!run || run.current !== 1 || FINISHED_NODE.has(run.status as NodeStatus)) return;
    if (started && run.status === "queued") this.updateRun(attemptId, { status: "running", runner_id: started.runnerId, started_at: started.at });
    const now = this.host.now();
    this.touch(run.instance_id);
    const ok = completion.exitCode === 0;
    const error = ok
      ? null
      : (completion.error ?? (completion.exitCode === null ? `killed by signal ${completion.signal ?? "unknown"}` : `exit code ${completion.exitCode}`));
    this.mirrorRun(
      this.updateRun(attemptId, {
        status: ok ? "succeeded" : "failed",
        started_at: run.started_at ?? (started?.at ?? now),
        finished_at: now,
        exit_code: completion.exitCode,
        error,
        outputs: JSON.stringify(completion.outputs),
      }),
    );
    // Its backstops have nothing left to watch.
    this.host.dropTimers("timeout", attemptId);
    this.host.dropTimers("http", attemptId);
    if (!ok) this.scheduleRetry(run, now);
    this.advance(run.instance_id);
  }

  /**
   * An attempt its runner lost (the lease expired, so by protocol the process was killed): another
   * attempt at once while infrastructure retries remain, not counted against the node's own retries.
   */
  nodeLost(attemptId: string, reason: string): void {
    const run = this.host.nodeRun(attemptId);
    if (!run || run.current !== 1 || FINISHED_NODE.has(run.status as NodeStatus)) return;
    const verdict = lostAttempt(reason, run.lost);
    this.log(attemptId, verdict.log);
    if (verdict.retry === "none") return this.nodeFinished(attemptId, { exitCode: null, signal: null, outputs: {}, error: verdict.error });
    const now = this.host.now();
    this.touch(run.instance_id);
    const lost = this.updateRun(attemptId, { status: "failed", started_at: run.started_at ?? now, finished_at: now, error: verdict.error, current: 0 });
    this.host.dropTimers("timeout", attemptId);
    const fresh = pendingRun(run.instance_id, run.node_name, run.node_type, run.attempt + 1, null, run.lost + 1);
    this.insertRun(fresh);
    this.mirrorRun(lost);
    this.mirrorRun(fresh);
    this.advance(run.instance_id);
  }

  /** Attempts whose dispatch the outbox gave up (their pool never took them): they fail with why. */
  dispatchFailed(undelivered: readonly { attemptIds: string[]; error: string }[]): void {
    for (const { attemptIds, error } of undelivered) {
      for (const attemptId of attemptIds) {
        if (this.host.nodeRun(attemptId)?.status !== "queued") continue;
        this.log(attemptId, `[sluice] ${error}\n`);
        this.nodeFinished(attemptId, { exitCode: null, signal: null, outputs: {}, error });
      }
    }
  }

  /** An http node's response (or why there is none): 2xx succeeds; the response text is its log and outputs. */
  httpFinished(attemptId: string, result: { status: number; body: string } | { error: string }): void {
    this.host.dropHttpJob(attemptId);
    const run = this.host.nodeRun(attemptId);
    if (!run || run.current !== 1 || run.status !== "running") return;
    if ("error" in result) {
      this.log(attemptId, `[sluice] ${result.error}\n`);
      this.nodeFinished(attemptId, { exitCode: null, signal: null, outputs: {}, error: result.error });
      return;
    }
    const ok = result.status >= 200 && result.status < 300;
    const truncated = result.body.length > HTTP_LOG_BYTES ? `${result.body.slice(0, HTTP_LOG_BYTES)}\n[sluice] response truncated\n` : result.body;
    this.log(attemptId, `[sluice] HTTP ${result.status}\n${truncated}`);
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
      throw nothingToTerminate(instanceId, instance.status);
    }
    this.stopInstance(instance, "terminated by a user", null);
    return { id: instanceId, status: "terminated" };
  }

  /**
   * Takes a finished instance back into live state from its history (rehydrate.ts), as it was when it
   * left: nothing is mirrored (D1 holds it already). A rerun follows; it then stays until its next finish
   * and live window. An instance still live is left as it is.
   */
  rehydrate(records: { instance: Omit<InstanceRecord, "seq">; runs: NodeRunRecord[] }, definition: { def: WorkflowDefinition; weights: Record<string, number> }): void {
    if (this.host.instance(records.instance.id)) return;
    if (!this.definitions.has(records.instance.def_hash)) this.host.saveDefinition(records.instance.def_hash, definition.def, definition.weights);
    this.host.insertInstance(records.instance);
    for (const run of records.runs) this.host.insertNodeRun(run);
    // Its window is over: should no rerun follow (refused), it leaves again at the next alarm.
    this.host.addTimer("purge", records.instance.id, this.host.now());
  }

  /**
   * Gives the chosen nodes a new attempt with the instance's version, parameters and message. The rerun
   * waits in line like an arrival and its waiting timeout applies, but its overlap policy does not: a
   * person asked for it, so it is neither skipped nor allowed to terminate another instance. A skipped
   * instance never ran: `failed` reruns all of it.
   */
  rerun(instanceId: string, mode: RerunMode, node?: string): Started {
    const request = rerunRequest(mode, node);
    const instance = this.live(instanceId);
    if (!FINISHED_INSTANCE.has(instance.status as InstanceStatus)) {
      throw conflict(`instance ${instanceId} is ${instance.status}; only a finished instance can be rerun`);
    }
    this.touch(instanceId);
    const { dag } = this.definitionOf(instance);
    const runs = this.host.currentRuns(instanceId);
    const statuses = Object.fromEntries(runs.map((r) => [r.node_name, r.status as NodeStatus]));
    const asked = instance.status === "skipped" && request.mode === "failed" ? { mode: "all" as const } : request;
    const chosen = nodesToRerun(asked, statuses, dag);
    if (chosen.length === 0) throw conflict(`instance ${instanceId} has no failed or terminated node to rerun`);
    // A rerun rewrites many nodes at once: the state is loaded afresh when the instance next moves.
    this.dropState(instanceId);
    for (const name of chosen) {
      const old = runs.find((r) => r.node_name === name)!;
      this.host.updateNodeRun(old.id, { current: 0 });
      const fresh = pendingRun(instanceId, name, old.node_type, old.attempt + 1);
      this.host.insertNodeRun(fresh);
      this.mirrorRun(fresh);
    }
    this.setInstanceStatus(instanceId, "waiting", this.host.now());
    this.admitWaiting(instance.env);
    this.startedWaiting(instanceId);
    return { id: instanceId, status: this.host.instance(instanceId)!.status as InstanceStatus };
  }

  /** Runs the timers that are due: delayed retries, timeout backstops, exits, http watches, purges and sweeps. */
  fireTimers(): void {
    const now = this.host.now();
    let purged = false;
    for (const timer of this.host.takeDueTimers(now)) {
      if (timer.kind === "purge") {
        purged = this.purge(timer.ref, now) || purged;
        continue;
      }
      if (timer.kind === "prune") {
        this.host.forgetExpiredDedup(now, DEDUP_SWEPT_PER_TIMER);
        const next = this.host.earliestDedupExpiry();
        if (next !== null) this.host.addTimerOnce("prune", "dedup", next <= now ? now : nextDedupSweepAt(next, now)!);
        continue;
      }
      if (timer.kind === "http") {
        this.watchHttpJob(timer.ref, now);
        continue;
      }
      if (timer.kind === "waiting") {
        this.waitingTimedOut(timer.ref);
        continue;
      }
      if (timer.kind === "exit") {
        this.processGone([timer.ref]); // two lease periods passed: by protocol its runner killed it
        continue;
      }
      const run = this.host.nodeRun(timer.ref);
      if (!run || run.current !== 1) continue;
      if (timer.kind === "retry") this.advance(run.instance_id);
      else if (timer.kind === "timeout" && run.status === "running") {
        // Set at an earlier start of the same attempt (a lease offered again): the latest start counts.
        const deadline = this.timeoutDeadline(run, run.started_at ?? 0);
        if (deadline > now) {
          this.host.addTimer("timeout", run.id, deadline);
          continue;
        }
        this.nodeFinished(run.id, { exitCode: null, signal: null, outputs: {}, error: "timed out: the runner did not report before the node's timeout" });
        this.stop(this.host.instance(run.instance_id)!, [run.id], now);
      }
    }
    if (purged) this.forgetUnusedDefinitions();
  }

  /**
   * A finished instance past its live window leaves live state once D1 holds its history (core/live-window.ts);
   * while the mirror is behind, its timer waits. True when it was forgotten.
   */
  private purge(instanceId: string, now: number): boolean {
    const facts = {
      instance: this.host.instance(instanceId),
      oldestUnmirroredAt: this.host.oldestUnmirroredAt(),
      exiting: this.host.hasExitingRuns(instanceId),
    };
    const verdict = forgetVerdict(facts, now, this.timings.liveWindowMs);
    if (verdict.kind === "later") this.host.addTimer("purge", instanceId, verdict.at);
    if (verdict.kind !== "forget") return false;
    this.dropState(instanceId);
    this.host.purgeInstance(instanceId);
    return true;
  }

  /** Definitions no live instance uses leave storage and memory; a later start of their version saves them again. */
  private forgetUnusedDefinitions(): void {
    for (const hash of this.host.forgetUnusedDefinitions()) this.definitions.delete(hash);
  }

  /**
   * An http request still without an outcome: made again if no request of it is in flight (this
   * object was evicted mid-request), and watched again either way while its node runs.
   */
  private watchHttpJob(attemptId: string, now: number): void {
    const job = this.host.httpJob(attemptId);
    if (!job) return;
    if (this.host.nodeRun(attemptId)?.status !== "running") return this.host.dropHttpJob(attemptId);
    if (!this.host.httpInFlight(attemptId)) {
      this.log(attemptId, "[sluice] the coordinator restarted during the request; making it again\n");
      this.host.emit({ kind: "http", job });
    }
    this.host.addTimer("http", attemptId, now + HTTP_WATCH_MS);
  }

  /** When the coordinator stops waiting for the report of a node run that started at `startedAt`. */
  private timeoutDeadline(run: NodeRunRecord, startedAt: number): number {
    return startedAt + this.nodeOf(run).timeoutSeconds * 1000 + this.timings.timeoutGraceMs;
  }

  nextTimerAt(): number | null {
    return this.host.nextTimerAt();
  }

  /** Why a waiting instance waits, for people reading the console. */
  waitReason(instanceId: string): string | null {
    const instance = this.host.instance(instanceId);
    return instance ? waitReason(this.host, instance) : null;
  }
}
