// Flow control beyond admission (DESIGN §2.9): overlap policies at arrival, waiting timeouts, skipped and replaced instances.
import { STOPPABLE } from "../lifecycle.ts";
import type { NodeStatus } from "../progress.ts";
import { blockerOf, describeBlocker, type Blocker } from "./admission.ts";
import { Progression } from "./progression.ts";
import type { InstanceRecord } from "./records.ts";

/** Why an instance was skipped because its waiting timeout passed. */
export const waitedTooLong = (seconds: number) => `skipped: waited longer than ${seconds} s (policy.waitingTimeoutSeconds)`;
/** Why an instance was skipped or terminated for a newer arrival. */
export const replacedBy = (newer: string, overlap: "latest" | "replace") => `replaced by a newer arrival ${newer} (overlap: ${overlap})`;

export class FlowControl extends Progression {
  /**
   * An instance arrived or was rerun, and admission did not start it: its waiting timeout starts, if its
   * policy sets one (admission, a skip or a terminate drops it: Progression.setInstanceStatus).
   */
  protected startedWaiting(instanceId: string): void {
    const instance = this.host.instance(instanceId);
    if (instance?.status !== "waiting") return;
    const seconds = this.definitionOf(instance).def.policy.waitingTimeoutSeconds;
    if (seconds !== null) this.host.addTimer("waiting", instance.id, this.host.now() + seconds * 1000);
  }

  /**
   * New arrivals, in arrival order, after admission ran: one still waiting because its concurrency key or
   * maxParallel is full does what its policy.overlap says. `queue` waits; an ordering key always queues.
   */
  protected applyOverlap(arrivals: readonly string[]): void {
    for (const id of arrivals) {
      const instance = this.host.instance(id);
      if (instance?.status !== "waiting") continue;
      const overlap = this.definitionOf(instance).def.policy.overlap;
      if (overlap === "queue") continue;
      const blocker = blockerOf(this.host, instance);
      if (!blocker || blocker.kind === "ordering") continue;
      if (overlap === "skip") this.skip(id, `skipped: ${describeBlocker(blocker)} (overlap: skip)`);
      else if (overlap === "latest") this.skipOlderWaiting(instance, blocker);
      else this.replaceOldestRunning(instance, blocker);
    }
  }

  /** `latest`: at most one waits per key value (keyless ones share one line): older waiting ones are skipped. */
  private skipOlderWaiting(newer: InstanceRecord, blocker: Blocker): void {
    const key = blocker.kind === "key" ? blocker.key : newer.concurrency_key;
    for (;;) {
      const older = this.host.firstWithConcurrencyKey(newer.env, key, "waiting");
      if (!older || older.seq >= newer.seq) return;
      this.skip(older.id, `skipped: ${replacedBy(newer.id, "latest")}`);
    }
  }

  /**
   * `replace`: the oldest running instance of the full line (the key's, or the environment's for maxParallel)
   * is terminated as a user's terminate would; the newcomer starts once its place is free (a stopped
   * process holds it until it is gone), first in line behind anything of higher priority.
   */
  private replaceOldestRunning(newer: InstanceRecord, blocker: Blocker): void {
    const victim = blocker.kind === "key" ? this.host.firstWithConcurrencyKey(newer.env, blocker.key, "running") : this.host.oldestRunning(newer.env);
    if (!victim) return; // every place is held by processes still exiting: the newcomer waits for them
    const reason = replacedBy(newer.id, "replace");
    this.stopInstance(victim, `terminated: ${reason}`, reason);
  }

  /** A waiting instance's timeout passed: it is skipped (one admitted or finished meanwhile is left alone). */
  protected waitingTimedOut(instanceId: string): void {
    const instance = this.host.instance(instanceId);
    if (instance?.status !== "waiting") return;
    const seconds = this.definitionOf(instance).def.policy.waitingTimeoutSeconds ?? 0;
    this.skip(instanceId, waitedTooLong(seconds));
  }

  /**
   * A waiting instance ends `skipped` without running: its pending node runs are skipped with the reason,
   * and it finishes like any other (live window, purge, D1 mirror). Those behind it may move up.
   */
  protected skip(instanceId: string, reason: string): void {
    const now = this.host.now();
    this.touch(instanceId);
    for (const run of this.host.currentRuns(instanceId)) {
      if (run.status === "pending") this.mirrorRun(this.updateRun(run.id, { status: "skipped", finished_at: now, error: reason }));
    }
    const env = this.host.instance(instanceId)!.env;
    this.finish(instanceId, "skipped", now, reason);
    this.admitWaiting(env);
  }

  /** Stops an instance: queued work is dropped, running processes are killed by their runners (they hold its places until gone). */
  protected stopInstance(instance: InstanceRecord, error: string, reason: string | null): void {
    const now = this.host.now();
    this.touch(instance.id);
    const cancel: string[] = [];
    for (const run of this.host.currentRuns(instance.id)) {
      if (!STOPPABLE.has(run.status as NodeStatus)) continue;
      if (run.status !== "pending") cancel.push(run.id);
      this.mirrorRun(this.updateRun(run.id, { status: "terminated", finished_at: now, error }));
    }
    this.finish(instance.id, "terminated", now, reason);
    if (cancel.length > 0) this.stop(instance, cancel, now);
    this.admitWaiting(instance.env);
  }
}
