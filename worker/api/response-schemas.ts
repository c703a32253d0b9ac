// Response schemas of answers built outside the routers (db/views.ts, core/versions.ts, core/runner-protocol.ts):
// each says exactly what its builder returns, and test/workers/openapi-responses.test.ts checks real answers against it.
import { z } from "@hono/zod-openapi";
import { EdgeSchema } from "../core/definition.ts";
import { INSTANCE_STATUSES } from "../core/progress.ts";

const NODE_STATUSES = ["pending", "queued", "running", "succeeded", "failed", "skipped", "terminated"] as const;
const TRIGGER_TYPES = ["manual", "api", "r2", "queue", "webhook"] as const;
const time = () => z.string().openapi({ format: "date-time" });

/** db/views.ts instanceSummary: one row of GET /instances. */
export const InstanceSummary = z
  .object({
    id: z.string(),
    workflowId: z.string(),
    workflowName: z.string(),
    version: z.number().int().nullable().openapi({ description: "The version that ran; null for a dev run of the draft" }),
    env: z.enum(["dev", "prod"]),
    status: z.enum(INSTANCE_STATUSES),
    priority: z.number().int(),
    runDate: z.string().nullable().openapi({ description: "yyyymmdd" }),
    triggerType: z.enum(TRIGGER_TYPES),
    createdAt: time(),
    startedAt: time().nullable(),
    finishedAt: time().nullable(),
    reason: z.string().nullable().openapi({ description: "Why a skipped instance never ran, or who replaced a terminated one" }),
    concurrencyKey: z.string().nullable().openapi({ description: "The value policy.concurrency.key resolved to at its start" }),
  })
  .openapi("InstanceSummary");

export const InstancePage = z.object({ items: z.array(InstanceSummary), nextCursor: z.string().nullable() }).openapi("InstancePage");

/** The latest attempt of one node of an instance. */
export const NodeRun = z
  .object({
    name: z.string(),
    type: z.string(),
    status: z.enum(NODE_STATUSES),
    attempt: z.number().int(),
    queuedAt: time().nullable(),
    startedAt: time().nullable(),
    finishedAt: time().nullable(),
    exitCode: z.number().int().nullable(),
    error: z.string().nullable(),
    outputs: z.record(z.string(), z.string()).openapi({ description: "What the node wrote to $SLUICE_OUTPUTS" }),
  })
  .openapi("NodeRun");

/** db/views.ts instanceView, with the coordinator's wait reason. */
export const Instance = InstanceSummary.extend({
  triggerMessage: z.unknown().openapi({ description: "The message that started it, as ${workflow.triggerMessage} reads it" }),
  params: z.record(z.string(), z.string()),
  waitReason: z.string().nullable().openapi({ description: "Why a waiting instance waits (which limit, its place in line); null otherwise" }),
  nodes: z.array(NodeRun),
}).openapi("Instance");

const FieldChange = z
  .object({ path: z.string(), before: z.unknown().optional(), after: z.unknown().optional() })
  .openapi("FieldChange", { description: "One changed leaf; no `before`: added, no `after`: removed (null is a value)" });

const DiffHunk = z
  .object({ oldStart: z.number().int(), oldLines: z.number().int(), newStart: z.number().int(), newLines: z.number().int(), lines: z.array(z.string()) })
  .openapi("DiffHunk");

const CodeDiff = z
  .object({ unified: z.string(), hunks: z.array(DiffHunk), linesAdded: z.number().int(), linesRemoved: z.number().int() })
  .openapi("CodeDiff");

const NodeChange = z.object({ name: z.string(), fields: z.array(FieldChange), code: CodeDiff.optional() }).openapi("NodeChange");
const Edge = EdgeSchema.openapi("Edge");

/** core/versions.ts DefinitionComparison, with the two version numbers. */
export const Comparison = z
  .object({
    from: z.number().int(),
    to: z.number().int(),
    summary: z.object({
      identical: z.boolean(),
      nodesAdded: z.number().int(),
      nodesRemoved: z.number().int(),
      nodesChanged: z.number().int(),
      edgesAdded: z.number().int(),
      edgesRemoved: z.number().int(),
      fieldsChanged: z.number().int(),
      layoutChanged: z.boolean(),
    }),
    fields: z.array(FieldChange),
    nodes: z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(NodeChange) }),
    edges: z.object({ added: z.array(Edge), removed: z.array(Edge) }),
  })
  .openapi("Comparison");

/** core/runner-protocol.ts RunnerTask: what a runner executes under its lease. */
export const RunnerTask = z
  .object({
    attemptId: z.string(),
    instanceId: z.string(),
    workflowId: z.string(),
    nodeName: z.string(),
    attempt: z.number().int(),
    type: z.enum(["shell", "python"]),
    script: z.string(),
    prelude: z.string(),
    values: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()),
    timeoutSeconds: z.number(),
    leaseSeconds: z.number(),
    leaseId: z.string(),
  })
  .openapi("RunnerTask");
