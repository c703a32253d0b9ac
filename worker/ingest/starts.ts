// Batch admission for the queue consumer: the starts of one message batch go to each coordinator as one call.
import { coordinatorFor } from "../coordinator/stub.ts";
import type { Started, StartInstance } from "../coordinator/workflow-coordinator.ts";

interface Waiting {
  input: StartInstance;
  resolve(started: Started): void;
  reject(err: unknown): void;
}

/**
 * Collects starts per workflow in the order they are added, then asks each workflow's coordinator
 * once (`startMany`, one transaction, one D1 mirror batch). Order within a workflow is the order of
 * `add`, which is the batch's delivery order that ordering keys keep.
 */
export class StartBatch {
  private readonly env: Env;
  private readonly byWorkflow = new Map<string, Waiting[]>();

  constructor(env: Env) {
    this.env = env;
  }

  add(input: StartInstance): Promise<Started> {
    return new Promise<Started>((resolve, reject) => {
      const list = this.byWorkflow.get(input.workflowId) ?? [];
      list.push({ input, resolve, reject });
      this.byWorkflow.set(input.workflowId, list);
    });
  }

  /** Sends every collected start; each promise from `add` settles with its own answer or failure. */
  async flush(): Promise<void> {
    const groups = [...this.byWorkflow];
    this.byWorkflow.clear();
    await Promise.all(groups.map(([workflowId, waiting]) => this.startGroup(workflowId, waiting)));
  }

  private async startGroup(workflowId: string, waiting: Waiting[]): Promise<void> {
    const coordinator = coordinatorFor(this.env, workflowId);
    try {
      const answers = await coordinator.startMany(waiting.map((w) => w.input));
      waiting.forEach((w, i) => w.resolve(answers[i]!));
      return;
    } catch (err) {
      if (waiting.length === 1) {
        waiting[0]!.reject(err);
        return;
      }
      console.error(`sluice: a batch of ${waiting.length} starts for ${workflowId} failed; starting them one by one`, err);
    }
    // One start the coordinator cannot take must not fail its neighbours: each alone, still in order.
    for (const w of waiting) {
      try {
        w.resolve(await coordinator.start(w.input));
      } catch (err) {
        w.reject(err);
      }
    }
  }
}
