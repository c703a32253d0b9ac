// One instance's state kept in memory between transitions: its current attempts, its incremental plan, its parsed inputs.
import type { NodeStatus } from "../progress.ts";
import { InstancePlan, type IndexedDag } from "./instance-plan.ts";
import type { InstanceRecord, NodeRunRecord } from "./records.ts";

/** What node parameters resolve against, parsed once per instance instead of once per node. */
export interface ParsedInputs {
  workflowParams: Record<string, string>;
  triggerMessage: unknown;
  /** Outputs of the nodes whose current attempt succeeded. */
  nodeOutputs: Record<string, Record<string, string>>;
}

/**
 * A cache of what SQLite holds for one instance, loaded on first touch after a wake. The scheduler
 * records every node run it writes here in the same transaction, and drops the whole state when a
 * transaction rolls back, so it never holds what SQLite does not.
 */
export class InstanceState {
  readonly plan: InstancePlan;
  readonly inputs: ParsedInputs;
  private readonly runs = new Map<string, NodeRunRecord>();

  constructor(dag: IndexedDag, instance: Pick<InstanceRecord, "params" | "trigger_message">, current: readonly NodeRunRecord[]) {
    const status: Record<string, NodeStatus> = {};
    const chosen: Record<string, string[]> = {};
    this.inputs = {
      workflowParams: JSON.parse(instance.params) as Record<string, string>,
      triggerMessage: JSON.parse(instance.trigger_message) as unknown,
      nodeOutputs: {},
    };
    for (const run of current) {
      this.runs.set(run.node_name, run);
      status[run.node_name] = run.status as NodeStatus;
      if (run.chosen !== null) chosen[run.node_name] = JSON.parse(run.chosen) as string[];
      this.noteOutputs(run);
    }
    this.plan = new InstancePlan(dag, status, chosen);
  }

  /** How many nodes it holds (the cache's bound counts these). */
  get size(): number {
    return this.runs.size;
  }

  /** The node's current attempt. */
  run(name: string): NodeRunRecord {
    return this.runs.get(name)!;
  }

  /** Takes in a node run as written: a new current attempt, or a change to one (retired attempts are history). */
  record(run: NodeRunRecord): void {
    if (run.current !== 1) return;
    this.runs.set(run.node_name, run);
    this.plan.set(run.node_name, run.status as NodeStatus, run.chosen === null ? null : (JSON.parse(run.chosen) as string[]));
    this.noteOutputs(run);
  }

  private noteOutputs(run: NodeRunRecord): void {
    if (run.status === "succeeded" && run.outputs) this.inputs.nodeOutputs[run.node_name] = JSON.parse(run.outputs) as Record<string, string>;
    else delete this.inputs.nodeOutputs[run.node_name];
  }
}
