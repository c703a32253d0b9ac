// Batch admission for trigger deliveries: the starts of one message batch go to each coordinator as one call.
import { unwrap } from "../core/errors.ts";
import type { RunSpec } from "../core/run-starts.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import type { Started } from "../coordinator/workflow-coordinator.ts";

/** A prod start of a workflow's published version: the coordinator holds (or loads) the definition. */
export interface PublishedStart {
  workspaceId: string;
  workflowId: string;
  version: number;
  run: RunSpec;
}

interface Waiting {
  start: PublishedStart;
  resolve(started: Started): void;
  reject(err: unknown): void;
}

/**
 * Collects starts per (workflow, version) in the order they are added, then asks each workflow's
 * coordinator once (`startMany`, one transaction, one D1 mirror batch). Order within a workflow is the
 * order of `add`, which is the batch's delivery order that ordering keys keep.
 */
export class StartBatch {
  private readonly env: Env;
  private readonly groups = new Map<string, Waiting[]>();

  constructor(env: Env) {
    this.env = env;
  }

  add(start: PublishedStart): Promise<Started> {
    return new Promise<Started>((resolve, reject) => {
      const key = `${start.workflowId}@${start.version}`;
      const list = this.groups.get(key) ?? [];
      list.push({ start, resolve, reject });
      this.groups.set(key, list);
    });
  }

  /** Sends every collected start; each promise from `add` settles with its own answer or failure. */
  async flush(): Promise<void> {
    const groups = [...this.groups.values()];
    this.groups.clear();
    await Promise.all(groups.map((waiting) => this.startGroup(waiting)));
  }

  private async startGroup(waiting: Waiting[]): Promise<void> {
    const { workspaceId, workflowId, version } = waiting[0]!.start;
    const coordinator = coordinatorFor(this.env, workflowId);
    const send = async (group: Waiting[]) =>
      unwrap(await coordinator.startMany({ workspaceId, workflowId, publishedVersion: version, draftRevision: null, runs: group.map((w) => w.start.run) }));
    try {
      const answers = await send(waiting);
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
        w.resolve((await send([w]))[0]!);
      } catch (err) {
        w.reject(err);
      }
    }
  }
}
