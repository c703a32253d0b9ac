// Turning a ready node into work: inline completion (noop, unresolved reference) or a runner task.
import type { NodeDefinition, Priority, WorkflowDefinition } from "./definition.ts";
import { prepareNodeCode } from "./params/index.ts";
import type { NodeStatus } from "./progress.ts";
import { effectivePriority } from "./runs.ts";
import type { QueuedTask } from "./runner-protocol.ts";

export interface ReadyNode {
  instance: {
    id: string;
    workflow_id: string;
    env: string;
    trigger_message: string;
    params: string;
    cyctime: number;
    priority_override: number | null;
  };
  def: WorkflowDefinition;
  node: NodeDefinition;
  /** Current attempts of the instance's nodes, for upstream outputs. */
  runs: readonly { node_name: string; status: string; outputs: string | null }[];
  attemptId: string;
  attempt: number;
  weight: number;
}

export type NodeRunOutcome =
  | { kind: "done"; status: Extract<NodeStatus, "succeeded" | "failed">; error: string | null; log: string[] }
  | { kind: "queued"; queued: QueuedTask };

export function prepareNodeRun(ready: ReadyNode): NodeRunOutcome {
  const { instance, def, node } = ready;
  if (node.type === "noop") return { kind: "done", status: "succeeded", error: null, log: [] };

  const nodeOutputs: Record<string, Record<string, string>> = {};
  for (const r of ready.runs) {
    if (r.status === "succeeded" && r.outputs) nodeOutputs[r.node_name] = JSON.parse(r.outputs) as Record<string, string>;
  }
  const prepared = prepareNodeCode(node.type as "shell" | "python", node.code, {
    workflowParams: JSON.parse(instance.params) as Record<string, string>,
    nodeParams: node.params,
    triggerMessage: JSON.parse(instance.trigger_message) as unknown,
    nodeOutputs,
    clock: { cyctime: new Date(instance.cyctime), timezone: def.policy.timezone },
  });
  if (!prepared.ok) {
    // The node fails before it executes; its log says which reference could not be resolved.
    return { kind: "done", status: "failed", error: prepared.message, log: [`[sluice] ${prepared.message}\n`] };
  }
  return {
    kind: "queued",
    queued: {
      priority: effectivePriority(instance.priority_override as Priority | null, node, def),
      weight: ready.weight,
      task: {
        attemptId: ready.attemptId,
        instanceId: instance.id,
        workflowId: instance.workflow_id,
        nodeName: node.name,
        attempt: ready.attempt,
        type: node.type as "shell" | "python",
        script: prepared.script,
        prelude: prepared.prelude,
        env: {
          SLUICE_INSTANCE_ID: instance.id,
          SLUICE_WORKFLOW_ID: instance.workflow_id,
          SLUICE_NODE: node.name,
          SLUICE_ATTEMPT: String(ready.attempt),
          SLUICE_ENV: instance.env,
        },
        timeoutSeconds: node.timeoutSeconds,
      },
    },
  };
}
