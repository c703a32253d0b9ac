// The shapes the Sluice HTTP API (DESIGN §4, §5) sends and accepts, as the console reads them.
import type { CodeDiff, DefinitionComparison } from "../../../worker/core/versions.ts";

export type Env = "dev" | "prod";
export type Priority = 1 | 3 | 5 | 7 | 8;
export type InstanceStatus = "waiting" | "running" | "succeeded" | "failed" | "terminated";
export type NodeStatus = "pending" | "queued" | "running" | "succeeded" | "failed" | "skipped" | "terminated";
export type TriggerType = "manual" | "api" | "r2" | "queue" | "webhook";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface WorkflowSummary {
  id: string;
  name: string;
  description: string;
  /** `null` until the draft is published for the first time. */
  publishedVersion: number | null;
  createdAt: string;
  updatedAt: string;
}

/** A workflow's newest instance, as the workflow list gives it. */
export interface LastRun {
  id: string;
  status: InstanceStatus;
  env: Env;
  createdAt: string;
}

/** A row of `GET /workflows`: the summary with the trigger that starts it and its last run. */
export interface WorkflowListItem extends WorkflowSummary {
  /** The published version's trigger; the draft's while the workflow was never published. */
  triggerId: string | null;
  lastRun: LastRun | null;
}

export interface RetryPolicy {
  count: number;
  delaySeconds: number;
  backoff?: "fixed" | "exponential";
}

export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface BranchCondition {
  /** A CEL expression, or `default` (at most once). */
  when: string;
  to: string;
}

export interface NodeDefinition {
  name: string;
  type: string;
  description?: string;
  code: string;
  params: Record<string, string>;
  priority?: Priority;
  timeoutSeconds: number;
  retry?: RetryPolicy;
  http?: HttpRequest;
  conditions?: BranchCondition[];
}

export interface SchedulingPolicy {
  priority?: Priority;
  weighting?: "none" | "downward";
  maxParallel?: number | null;
  triggerId?: string | null;
  timezone?: string;
  resourceGroup?: string;
}

export interface Edge {
  from: string;
  to: string;
}

/** What only the editor reads: each node's top-left corner on the canvas. */
export interface WorkflowUi {
  positions: Record<string, { x: number; y: number }>;
}

export interface WorkflowDefinition {
  name: string;
  description: string;
  params: Record<string, string>;
  policy: SchedulingPolicy;
  nodes: NodeDefinition[];
  edges: Edge[];
  ui?: WorkflowUi;
}

export interface Workflow extends WorkflowSummary {
  definition: WorkflowDefinition;
}

export interface VersionSummary {
  version: number;
  message: string;
  createdAt: string;
}

export interface WorkflowVersion extends VersionSummary {
  definition: WorkflowDefinition;
  weights: Record<string, number>;
}

// The compare endpoint's body is the core's own type, so the console cannot drift from the server.
export type { FieldChange } from "../../../worker/core/versions.ts";
export type DiffHunk = CodeDiff["hunks"][number];
export type Comparison = DefinitionComparison & { from: number; to: number };

export interface RunRequest {
  env: Env;
  /** `yyyymmdd`; the server uses the time of the run when it is absent. */
  runDate?: string;
  triggerMessage?: unknown;
  priority?: Priority;
  params?: Record<string, string>;
}

export interface InstanceSummary {
  id: string;
  workflowId: string;
  workflowName: string;
  /** The version that ran; `null` for a dev run of the draft. */
  version: number | null;
  env: Env;
  status: InstanceStatus;
  priority: number;
  runDate: string | null;
  triggerType?: TriggerType | string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface NodeRun {
  name: string;
  type: string;
  status: NodeStatus;
  attempt: number;
  queuedAt?: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  error: string | null;
  outputs?: Record<string, string>;
}

export interface Instance extends InstanceSummary {
  nodes: NodeRun[];
  triggerMessage?: unknown;
  params?: Record<string, string>;
  /** Why a waiting instance waits (which limit, its place in line); `null` otherwise. */
  waitReason?: string | null;
}

export interface InstanceFilter {
  workflowId?: string;
  status?: InstanceStatus;
  env?: Env;
}

export type TriggerKind = "r2" | "queue" | "webhook";

export interface TriggerConfig {
  /** r2 */
  bucket?: string;
  events?: string[];
  keyPattern?: string;
  /** queue */
  queue?: string;
  key?: string | null;
}

/** What a trigger is saved as (PUT and POST bodies); the server fills the defaults. */
export interface TriggerInput {
  name: string;
  description?: string;
  type: TriggerKind;
  config: TriggerConfig;
  /** A CEL condition on the trigger message, e.g. `data.object.size > 0`. */
  filter?: string | null;
  dedup?: { key: string | null; windowSeconds: number };
  ordering?: { key: string } | null;
  enabled?: boolean;
}

export interface Trigger extends TriggerInput {
  id: string;
  description: string;
  filter: string | null;
  dedup: { key: string | null; windowSeconds: number };
  ordering: { key: string } | null;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  /** Webhook triggers: where senders POST signed requests. */
  hookUrl?: string;
  /** Webhook triggers: the signing secret, only in the answer that created (or rotated) it. */
  secret?: string;
  /** GET /triggers/{id}: the workflows that select it. */
  workflows?: { id: string; name: string; publishedVersion: number | null; draft: boolean; published: boolean }[];
}

export type EventOutcome = "started" | "duplicate" | "filtered" | "key_mismatch" | "unpublished" | "disabled" | "no_workflow" | "error" | "not_granted";

export interface TriggerEvent {
  id: string;
  receivedAt: string;
  lastReceivedAt: string;
  deliveries: number;
  source: string;
  sourceId: string | null;
  outcome: EventOutcome;
  detail: string;
  dedupKey: string | null;
  instanceIds: string[];
  message: unknown;
  messageTruncated: boolean;
}

export interface TriggerTestResult {
  triggerMessage: unknown;
  matches: boolean;
  outcome: "would_start" | Exclude<EventOutcome, "started" | "duplicate">;
  detail: string;
  dedupKey: string | null;
  orderingKey: string | null;
  workflows: {
    id: string;
    name: string;
    version: number | null;
    wouldStart: boolean;
    references: { node: string; ref: string; value?: string; error?: string; note?: string }[];
  }[];
}

export interface Runner {
  id: string;
  name: string;
  slots: number;
  lastSeen: string;
  /** How many node runs it executes now. */
  running: number;
  connected?: boolean;
}

/** GET /stats: what each Durable Object of the workspace holds (admins only). */
export interface CoordinatorStats {
  workflowId: string;
  name: string;
  databaseSize: number;
  liveInstances: number;
  nodeRuns: number;
  timers: number;
  outboxRows: number;
  definitions: number;
  dedupKeys: number;
}

export interface PoolStats {
  resourceGroup: string;
  databaseSize: number;
  ready: number;
  leased: number;
  runners: number;
  finished: number;
}

export interface Stats {
  coordinators: CoordinatorStats[];
  pools: PoolStats[];
  d1: { size: number | null };
  truncated: boolean;
}

export interface ErrorDetail {
  path?: string;
  message: string;
}
