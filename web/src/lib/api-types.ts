// The shapes the Sluice HTTP API (DESIGN §4, §5) sends and accepts, as the console reads them.
import type { CodeDiff, DefinitionComparison } from "../../../worker/core/versions.ts";

export type Env = "dev" | "prod";
export type Priority = 1 | 3 | 5 | 7 | 8;
/** `skipped`: it never ran, because of an overlap policy or its waiting timeout (DESIGN §2.9). */
export type InstanceStatus = "waiting" | "running" | "succeeded" | "failed" | "terminated" | "skipped";
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

/** What a new instance does when a limit (its concurrency key's or maxParallel) is full (DESIGN §2.9). */
export type OverlapPolicy = "queue" | "skip" | "replace" | "latest";
export type AlertEvent = "failed" | "terminated" | "skipped" | "slow" | "recovered";

/** An alert: a signed POST to `url` when an instance ends in one of `on` (DESIGN §2.10). */
export interface AlertRule {
  on: AlertEvent[];
  /** Required when `on` has `slow`: the instance has run longer than this. */
  slowAfterSeconds?: number;
  url: string;
  format?: "standard" | "slack";
}

export interface SchedulingPolicy {
  priority?: Priority;
  weighting?: "none" | "downward";
  maxParallel?: number | null;
  triggerId?: string | null;
  timezone?: string;
  resourceGroup?: string;
  /** At most `limit` instances per value of the `key` template run at once. */
  concurrency?: { key: string; limit: number } | null;
  overlap?: OverlapPolicy;
  /** A waiting instance becomes `skipped` after this long; null waits as long as it takes. */
  waitingTimeoutSeconds?: number | null;
  /** Its weight among workflows of the same priority in the resource group's round robin. */
  share?: number;
  alerts?: AlertRule[];
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
  /** A logged event of the workflow's trigger: its stored message becomes the trigger message. */
  fromEventId?: string;
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
  /** Why a skipped instance never ran. */
  reason?: string | null;
  /** The value of the workflow's concurrency key for this instance. */
  concurrencyKey?: string | null;
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
  /** Events gathered per key into one run (DESIGN §2.9); exclusive with `debounce`. */
  batch?: BatchSettings | null;
  debounce?: DebounceSettings | null;
  enabled?: boolean;
}

export interface BatchSettings {
  maxEvents: number;
  windowSeconds: number;
  /** A template over the trigger message; null: one batch for every event. */
  key: string | null;
}

export interface DebounceSettings {
  windowSeconds: number;
  maxWaitSeconds: number | null;
  key: string | null;
}

export interface Trigger extends TriggerInput {
  id: string;
  description: string;
  filter: string | null;
  dedup: { key: string | null; windowSeconds: number };
  ordering: { key: string } | null;
  enabled: boolean;
  /** A paused trigger keeps its events (outcome `paused`) until resume or discard. */
  paused?: boolean;
  pausedAt?: string | null;
  createdAt: string;
  updatedAt: string;
  /** Webhook triggers: where senders POST signed requests. */
  hookUrl?: string;
  /** Webhook triggers: the signing secret, only in the answer that created (or rotated) it. */
  secret?: string;
  /** GET /triggers/{id}: the workflows that select it. */
  workflows?: { id: string; name: string; publishedVersion: number | null; draft: boolean; published: boolean }[];
}

export type EventOutcome =
  | "started"
  | "duplicate"
  | "filtered"
  | "key_mismatch"
  | "unpublished"
  | "disabled"
  | "no_workflow"
  | "error"
  | "not_granted"
  | "batched"
  | "debounced"
  | "paused"
  | "discarded";

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
  /** The event this one decided again (a replay), or null. */
  replayOf?: string | null;
}

/** POST /triggers/{id}/events/{eventId}/replay: the new event. */
export interface ReplayResult {
  id: string;
  outcome: EventOutcome;
  detail?: string;
  instanceIds: string[];
  replayOf: string;
}

export interface ResumeResult {
  trigger: Trigger;
  /** Kept events decided now, in arrival order. */
  resumed: number;
  /** Kept events still to decide: they continue in the background. */
  remaining: number;
}

export type BulkAction = "terminate" | "rerun-failed" | "rerun-all";

export interface BulkFilter {
  workflowId?: string;
  status?: InstanceStatus;
  env?: Env;
  triggerType?: string;
  /** ISO times. */
  createdAfter?: string;
  createdBefore?: string;
}

export interface BulkResult {
  dryRun: boolean;
  matched: number;
  affected: string[];
  failed: { id: string; error: string }[];
  /** Matched but not applied in this request (the per-request cap): call again. */
  remaining: number;
}

/** One alert sent (or being sent) to a URL, with the answer it got. */
export interface AlertDelivery {
  id: string;
  instanceId: string | null;
  event: string;
  url: string;
  format: "standard" | "slack";
  status: string;
  attempts: number;
  responseStatus: number | null;
  response: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface TriggerTestResult {
  triggerMessage: unknown;
  matches: boolean;
  outcome: "would_start" | Exclude<EventOutcome, "started" | "duplicate">;
  detail: string;
  dedupKey: string | null;
  orderingKey: string | null;
  /** A batching or debouncing trigger: the key value the sample is gathered under. */
  gatherKey?: string | null;
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
