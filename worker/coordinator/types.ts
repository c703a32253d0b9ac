// What the coordinator is asked to do and answers: starts, their answers, and http jobs.
import type { Priority, WorkflowDefinition } from "../core/definition.ts";
import type { InstanceStatus } from "../core/progress.ts";
import type { TriggerType } from "../core/runs.ts";

export interface StartInstance {
  instanceId: string;
  workspaceId: string;
  workflowId: string;
  workflowName: string;
  version: number | null;
  env: "dev" | "prod";
  definition: WorkflowDefinition;
  weights: Record<string, number>;
  priorityOverride: Priority | null;
  runDate: string | null;
  receivedAt: number;
  cyctime: number;
  triggerType: TriggerType;
  triggerMessage: unknown;
  params: Record<string, string>;
  /** Built-in idempotency (DESIGN §2.7): a second start with the same key inside the window starts nothing. */
  dedup?: { key: string; windowSeconds: number } | null;
  /** Instances that share an ordering key run one at a time, in arrival order (DESIGN §2.5). */
  orderingKey?: string | null;
}

export interface Started {
  id: string;
  status: InstanceStatus;
  /** Set when the dedup key was seen inside its window: `id` is the instance the first delivery started. */
  duplicate?: boolean;
}


/** An http node's request, made by the Durable Object after the transaction that started it. */
export interface HttpJob {
  attemptId: string;
  request: { method: string; url: string; headers: Record<string, string>; body?: string };
  timeoutSeconds: number;
}
