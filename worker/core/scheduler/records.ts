// The scheduler's records: a live instance and node run as the coordinator keeps them, starts and their answers, http jobs.
import type { Priority, WorkflowDefinition } from "../definition.ts";
import type { InstanceStatus, NodeStatus } from "../progress.ts";
import type { TriggerType } from "../runs.ts";

/** An instance in the coordinator's live state; D1 mirrors every field but the scheduling ones at the end. */
export interface InstanceRecord {
  id: string;
  workspace_id: string;
  workflow_id: string;
  workflow_name: string;
  version: number | null;
  env: string;
  status: string;
  priority: number;
  run_date: string | null;
  trigger_type: string;
  trigger_message: string;
  params: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** Arrival order in this coordinator. */
  seq: number;
  def_hash: string;
  priority_override: number | null;
  max_parallel: number | null;
  ordering_key: string | null;
  cyctime: number;
  /** The value policy.concurrency.key resolved to at its start (DESIGN §2.9); null without a key. */
  concurrency_key: string | null;
  /** policy.concurrency.limit of the definition it runs. */
  concurrency_limit: number | null;
  /** Why it finished without running (skipped), or who replaced it (terminated by overlap: replace). */
  reason: string | null;
}

/** One attempt of a node; D1 mirrors every field but the scheduling ones at the end. */
export interface NodeRunRecord {
  id: string;
  instance_id: string;
  node_name: string;
  node_type: string;
  attempt: number;
  status: string;
  runner_id: string | null;
  queued_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  error: string | null;
  outputs: string | null;
  /** 1 for the node's current attempt, 0 for attempts a retry or rerun replaced. */
  current: number;
  /** A retry waits for its delay: not dispatched before this time. */
  not_before: number | null;
  /** A succeeded branch node's choice: the downstream nodes it lets run, JSON array. */
  chosen: string | null;
  /** Earlier attempts of this node lost to the machine (infrastructure retries used). */
  lost: number;
  /** 1 while a stopped attempt's process may still live. */
  exiting: number;
}

/** The pool leased an attempt to a runner at `at` (its start, as the node shows it). */
export interface StartNotice {
  attemptId: string;
  runnerId: string;
  at: number;
}

/**
 * `purge` forgets a finished instance past its live window; `prune` sweeps expired dedup keys (ref "dedup");
 * `waiting` skips an instance still waiting at policy.waitingTimeoutSeconds (ref: the instance).
 */
export type TimerKind = "retry" | "timeout" | "purge" | "exit" | "http" | "prune" | "waiting";

/** A node's next attempt, pending; its id is derived from instance, node and attempt number. */
export function pendingRun(instanceId: string, nodeName: string, nodeType: string, attempt: number, notBefore: number | null = null, lost = 0): NodeRunRecord {
  return {
    id: `${instanceId.replace(/^ins_/, "run_")}_${nodeName}_${attempt}`,
    instance_id: instanceId,
    node_name: nodeName,
    node_type: nodeType,
    attempt,
    status: "pending",
    runner_id: null,
    queued_at: null,
    started_at: null,
    finished_at: null,
    exit_code: null,
    error: null,
    outputs: null,
    current: 1,
    not_before: notBefore,
    chosen: null,
    lost,
    exiting: 0,
  };
}

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
  /** policy.concurrency.key as resolved for this run (core/concurrency-key.ts); an error skips the instance. */
  concurrencyKey?: { value: string } | { error: string } | null;
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

export type { InstanceStatus, NodeStatus };
