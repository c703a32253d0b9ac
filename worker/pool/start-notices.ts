// The pool's start notices: gathered for a moment and sent one call per workflow, or carried by the attempt's result.
import type { StartNotice } from "../core/scheduler/records.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import { injectFault } from "../faults.ts";

/**
 * How long a lease's start notice waits. A node that finishes sooner has its start carried by its result
 * (one hop per node); a longer one shows `running` this much after its lease, and the notices of every
 * lease granted meanwhile go to their coordinator together.
 */
export const START_NOTICE_DELAY_MS = 50;

/**
 * Best effort, as the node's `running` status is: a notice lost with an evicted pool is healed by the
 * result (which starts the node if it is still queued), or by the overdue check should the runner hang.
 */
export class StartNotices {
  private readonly pending = new Map<string, { workflowId: string; notice: StartNotice }>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly ctx: DurableObjectState;
  private readonly env: Env;

  constructor(ctx: DurableObjectState, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }

  add(workflowId: string, notice: StartNotice): void {
    this.pending.set(notice.attemptId, { workflowId, notice });
    if (this.timer !== null) return;
    // waitUntil keeps this object up until the notices are out.
    this.ctx.waitUntil(
      new Promise<void>((resolve) => {
        this.timer = setTimeout(() => {
          this.timer = null;
          void this.send().finally(resolve);
        }, START_NOTICE_DELAY_MS);
      }),
    );
  }

  /** The attempt's notice if it has not gone out: its result carries it instead. */
  take(attemptId: string): StartNotice | undefined {
    const entry = this.pending.get(attemptId);
    this.pending.delete(attemptId);
    return entry?.notice;
  }

  private async send(): Promise<void> {
    const byWorkflow = new Map<string, StartNotice[]>();
    for (const { workflowId, notice } of this.pending.values()) byWorkflow.set(workflowId, [...(byWorkflow.get(workflowId) ?? []), notice]);
    this.pending.clear();
    await Promise.allSettled(
      [...byWorkflow].map(async ([workflowId, notices]) => {
        injectFault(this.env, "pool.startNotice"); // test/faults: the notices are lost
        await coordinatorFor(this.env, workflowId).nodesStarted(notices);
      }),
    );
  }
}
