// The workflow definition (DESIGN §5): its schema, limits and defaults, as one zod source of truth.
import { z } from "zod";
import { toLf } from "./params/prepare.ts";

export const MAX_NODES = 400;
export const MAX_PARALLEL = 100_000;
export const PRIORITY_LEVELS = [1, 3, 5, 7, 8] as const;
export type Priority = (typeof PRIORITY_LEVELS)[number];

/** Node types a triggered workflow can run: on runners (shell, python) or in the Worker (the rest). */
export const SUPPORTED_NODE_TYPES = ["shell", "python", "http", "noop", "branch", "merge"] as const;
export type NodeType = (typeof SUPPORTED_NODE_TYPES)[number];
/** Streaming and dependency-check nodes cannot run in a triggered workflow (DataWorks' list). */
export const TRIGGER_INCOMPATIBLE_NODE_TYPES = [
  "emr-spark-streaming",
  "flink-sql-streaming",
  "flink-jar-streaming",
  "flink-python-streaming",
  "dependency-check",
] as const;

export const LIMITS = {
  nameLength: 128,
  descriptionLength: 4_000,
  nodeCodeBytes: 64 * 1024,
  paramCount: 100,
  paramValueLength: 4_096,
  /** Whole definition as JSON: D1 stores it in one row, whose limit is 2 MB. */
  definitionBytes: 1024 * 1024,
  maxRetries: 10,
  maxRetryDelaySeconds: 86_400,
  maxTimeoutSeconds: 7 * 86_400,
  /** Canvas coordinates: far beyond any layout of 400 nodes, small enough to stay exact. */
  maxCanvasCoordinate: 1_000_000,
} as const;

export const NODE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const priority = z
  .number()
  .int()
  .refine((p): p is Priority => (PRIORITY_LEVELS as readonly number[]).includes(p), {
    message: `priority must be one of ${PRIORITY_LEVELS.join(", ")} (higher runs first)`,
  });

const params = z
  .record(
    z.string().regex(PARAM_NAME, "parameter names are letters, digits and _ and start with a letter or _"),
    z.string().max(LIMITS.paramValueLength, `a parameter value is at most ${LIMITS.paramValueLength} characters`),
  )
  .refine((p) => Object.keys(p).length <= LIMITS.paramCount, {
    message: `at most ${LIMITS.paramCount} parameters`,
  });

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

export const RetryPolicySchema = z.strictObject({
  count: z.number().int().min(0).max(LIMITS.maxRetries).default(0),
  delaySeconds: z.number().int().min(0).max(LIMITS.maxRetryDelaySeconds).default(0),
  backoff: z.enum(["fixed", "exponential"]).default("fixed"),
});

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;

/** An http node's request; `${...}` references in url, header values and body are resolved at run time. */
export const HttpRequestSchema = z.strictObject({
  method: z.enum(HTTP_METHODS).default("GET"),
  url: z.string().min(1).max(4096),
  headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "header names are HTTP tokens"), z.string().max(8192)).default({}),
  body: z.string().max(LIMITS.nodeCodeBytes).optional(),
});

/** A branch node's condition: a CEL expression; when true, the edge to `to` runs. `default` runs when none is true. */
export const BranchConditionSchema = z.strictObject({
  when: z.string().min(1).max(2000),
  to: z.string().min(1),
});

export const NodeSchema = z.strictObject({
  name: z.string().regex(NODE_NAME, "node names are 1-64 letters, digits, _ or - (they appear in ${nodes.<name>...})"),
  // Any string here: the type check with its helpful message lives in validate.ts.
  type: z.string().min(1),
  description: z.string().max(LIMITS.descriptionLength).optional(),
  // Stored with LF line endings (DESIGN §2.3): a CR would hide from bash where a line, and a heredoc, ends.
  code: z.string().default("").transform(toLf),
  params: params.default({}),
  priority: priority.optional(),
  timeoutSeconds: z.number().int().min(1).max(LIMITS.maxTimeoutSeconds).default(3600),
  retry: RetryPolicySchema.optional(),
  /** http nodes only. */
  http: HttpRequestSchema.optional(),
  /** branch nodes only. */
  conditions: z.array(BranchConditionSchema).max(100).optional(),
});

export const EdgeSchema = z.strictObject({ from: z.string().min(1), to: z.string().min(1) });

/** What a new instance does when a limit (concurrency key or maxParallel) is full (DESIGN §2.9). */
export const OVERLAP_POLICIES = ["queue", "skip", "replace", "latest"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];
/** What an alert fires on (DESIGN §2.10). */
export const ALERT_EVENTS = ["failed", "terminated", "skipped", "slow", "recovered"] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];
export const MAX_ALERTS = 10;
/** Longest a waiting instance may be told to wait before it is skipped: 30 days. */
export const MAX_WAITING_TIMEOUT_SECONDS = 30 * 86_400;
export const MAX_SHARE = 1_000;

export const ConcurrencySchema = z.strictObject({
  /** A template over the run, e.g. `${workflow.triggerMessage.key}` (or a CEL expression, DESIGN §2.9). */
  key: z.string().min(1).max(1024),
  limit: z.number().int().min(1).max(MAX_PARALLEL, `concurrency.limit is 1..${MAX_PARALLEL}`),
});

export const AlertSchema = z
  .strictObject({
    on: z.array(z.enum(ALERT_EVENTS, { error: `on lists events among ${ALERT_EVENTS.join(", ")}` })).min(1, "on needs at least one event"),
    /** `slow`: the instance has run longer than this. */
    slowAfterSeconds: z.number().int().min(1).max(MAX_WAITING_TIMEOUT_SECONDS).optional(),
    url: z.url({ protocol: /^https?$/, error: "url is an http(s) URL" }).max(2048),
    format: z.enum(["standard", "slack"]).default("standard"),
  })
  .refine((a) => !a.on.includes("slow") || a.slowAfterSeconds !== undefined, { message: "an alert on slow needs slowAfterSeconds", path: ["slowAfterSeconds"] });

export const PolicySchema = z.strictObject({
  priority: priority.default(5),
  weighting: z.enum(["none", "downward"]).default("none"),
  maxParallel: z.number().int().min(1).max(MAX_PARALLEL).nullable().default(null),
  triggerId: z.string().nullable().default(null),
  timezone: z.string().refine(isTimeZone, { message: "timezone must be an IANA time zone name such as UTC or Asia/Shanghai" }).default("UTC"),
  resourceGroup: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default("default"),
  /** At most `limit` instances per key value run at once (DESIGN §2.9). */
  concurrency: ConcurrencySchema.nullable().default(null),
  overlap: z.enum(OVERLAP_POLICIES, { error: `overlap is one of ${OVERLAP_POLICIES.join(", ")}` }).default("queue"),
  /** A waiting instance is skipped after this long (null: it waits as long as it takes). */
  waitingTimeoutSeconds: z.number().int().min(1).max(MAX_WAITING_TIMEOUT_SECONDS).nullable().default(null),
  /** Its weight in the resource group's round robin among workflows at the same priority (DESIGN §2.9). */
  share: z.number().int().min(1).max(MAX_SHARE).default(1),
  alerts: z.array(AlertSchema).max(MAX_ALERTS, `at most ${MAX_ALERTS} alerts`).default([]),
});

const MAX_STRAY_POSITIONS_NAMED = 10;

const coordinate = z
  .number()
  .min(-LIMITS.maxCanvasCoordinate, `canvas coordinates are within ±${LIMITS.maxCanvasCoordinate}`)
  .max(LIMITS.maxCanvasCoordinate, `canvas coordinates are within ±${LIMITS.maxCanvasCoordinate}`);

/**
 * What the editor keeps with the workflow and nothing runs: where each node sits on the canvas
 * (its top-left corner). At most one position per node, for nodes of this definition only.
 */
export const UiSchema = z.strictObject({
  positions: z
    .record(z.string(), z.strictObject({ x: coordinate, y: coordinate }))
    .refine((p) => Object.keys(p).length <= MAX_NODES, { message: `at most ${MAX_NODES} positions, one per node` })
    .default({}),
});

export const DefinitionSchema = z.strictObject({
  name: z.string().min(1).max(LIMITS.nameLength).regex(/^[^\s].*$/, "the name must not start with a space"),
  description: z.string().max(LIMITS.descriptionLength).default(""),
  params: params.default({}),
  policy: PolicySchema.default(PolicySchema.parse({})),
  nodes: z.array(NodeSchema).min(1, "a workflow needs at least one node"),
  edges: z.array(EdgeSchema).default([]),
  /** Editor-only layout; compare leaves it out of the definition's changes. */
  ui: UiSchema.optional(),
}).superRefine((def, ctx) => {
  if (!def.ui) return;
  const names = new Set(def.nodes.map((n) => n.name));
  const strays = Object.keys(def.ui.positions).filter((name) => !names.has(name));
  // Each stray by name, so the editor can drop it; a flood of them is one detail more, not hundreds.
  for (const name of strays.slice(0, MAX_STRAY_POSITIONS_NAMED)) {
    ctx.addIssue({ code: "custom", path: ["ui", "positions", name], message: `is the position of '${name}', which is not a node of this workflow` });
  }
  if (strays.length > MAX_STRAY_POSITIONS_NAMED) {
    ctx.addIssue({ code: "custom", path: ["ui", "positions"], message: `has ${strays.length - MAX_STRAY_POSITIONS_NAMED} more positions of names that are not nodes of this workflow` });
  }
});

export type WorkflowDefinition = z.output<typeof DefinitionSchema>;
export type WorkflowDefinitionInput = z.input<typeof DefinitionSchema>;
export type NodeDefinition = z.output<typeof NodeSchema>;
export type Edge = z.output<typeof EdgeSchema>;
export type SchedulingPolicy = z.output<typeof PolicySchema>;
export type RetryPolicy = z.output<typeof RetryPolicySchema>;
export type AlertPolicy = z.output<typeof AlertSchema>;
export type HttpRequest = z.output<typeof HttpRequestSchema>;
export type BranchCondition = z.output<typeof BranchConditionSchema>;
export type WorkflowUi = z.output<typeof UiSchema>;
