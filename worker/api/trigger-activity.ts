// A trigger's activity: its event log, and the test bench that shows what a sample message would do.
import { createRoute, z } from "@hono/zod-openapi";
import { badRequest } from "../core/errors.ts";
import { decide, EVENT_OUTCOMES, explainReferences, noWorkflowVerdict, sampleEvent } from "../core/triggers/index.ts";
import { requirePermission } from "../auth/keys.ts";
import { TriggerEventRepo } from "../db/trigger-events.ts";
import { publishedDefinitionsOf, toSpec, TriggerRepo } from "../db/triggers.ts";
import { WorkflowRepo } from "../db/workflows.ts";
import { router } from "./context.ts";
import { body, errors, IdParam, json, Page } from "./schemas.ts";

export const triggerActivityApi = router();
const tags = ["triggers"];

const TriggerEvent = z
  .object({
    id: z.string(),
    receivedAt: z.string().openapi({ format: "date-time" }),
    lastReceivedAt: z.string().openapi({ format: "date-time", description: "The latest delivery of this same message" }),
    deliveries: z.number().int().openapi({ description: "How many times this same message was delivered" }),
    source: z.string(),
    sourceId: z.string().nullable().openapi({ description: "The queue message id or webhook-id" }),
    outcome: z.enum(EVENT_OUTCOMES),
    detail: z.string(),
    dedupKey: z.string().nullable(),
    instanceIds: z.array(z.string()).openapi({ description: "Started, or for a duplicate the instances it duplicates" }),
    message: z.unknown().openapi({ description: "The trigger message (text when cut at 8 KB)" }),
    messageTruncated: z.boolean(),
    replayOf: z.string().nullable().openapi({ description: "A replay names the event it decided again" }),
  })
  .openapi("TriggerEvent");

triggerActivityApi.openapi(
  createRoute({
    method: "get",
    path: "/triggers/{id}/events",
    tags,
    request: { params: IdParam, query: Page.extend({ outcome: z.enum(EVENT_OUTCOMES).optional().openapi({ param: { name: "outcome", in: "query" } }) }) },
    responses: { 200: json(z.object({ items: z.array(TriggerEvent), nextCursor: z.string().nullable() }), "Newest first: every received event and what it started, or why nothing"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "read");
    const { limit, cursor, outcome } = c.req.valid("query");
    const events = new TriggerEventRepo(c.env.DB, principal.workspaceId);
    return c.json(await events.list(c.req.valid("param").id, { outcome }, limit, cursor ?? null), 200);
  },
);

const TestRequest = z
  .strictObject({
    message: z.unknown().openapi({ description: "As the source delivers it: an R2 event notification, a queue producer body `{key, value}`, or a webhook's JSON body" }),
    messageId: z.string().max(256).optional().openapi({ description: "The queue message id or webhook-id it stands for" }),
  })
  .openapi("TriggerTestRequest");

const Reference = z.object({ node: z.string(), ref: z.string(), value: z.string().optional(), error: z.string().optional(), note: z.string().optional() });

const TestResult = z
  .object({
    triggerMessage: z.unknown().openapi({ description: "What nodes would read as ${workflow.triggerMessage}" }),
    matches: z.boolean(),
    outcome: z.enum(["would_start", ...EVENT_OUTCOMES.filter((o) => o !== "started" && o !== "duplicate")]),
    detail: z.string(),
    dedupKey: z.string().nullable(),
    orderingKey: z.string().nullable(),
    workflows: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        version: z.number().nullable().openapi({ description: "The published version events start; null: the draft (not started by events)" }),
        wouldStart: z.boolean(),
        references: z.array(Reference),
      }),
    ),
  })
  .openapi("TriggerTestResult");

triggerActivityApi.openapi(
  createRoute({
    method: "post",
    path: "/triggers/{id}/test",
    tags,
    request: { params: IdParam, ...body(TestRequest) },
    responses: { 200: json(TestResult, "Whether the sample matches and how each ${...} of each workflow would resolve; nothing runs and nothing is logged"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "read");
    const { id } = c.req.valid("param");
    const row = await new TriggerRepo(c.env.DB, principal.workspaceId).row(id);
    const trigger = toSpec(row);
    const now = Date.now();
    const sample = await sampleEvent(trigger, c.req.valid("json"), now);
    if (!sample.ok) throw badRequest(sample.details.map((d) => d.message).join("; "), sample.details);
    const { event } = sample;
    const decision = decide(trigger, event);
    // Published versions are what events start; drafts that select the trigger are shown too, marked.
    const published = await publishedDefinitionsOf(c.env.DB, id);
    const users = await new TriggerRepo(c.env.DB, principal.workspaceId).workflowsUsing(id);
    const workflows = new WorkflowRepo(c.env.DB, principal.workspaceId);
    const drafts = await Promise.all(users.filter((u) => u.draft && !published.some((p) => p.id === u.id)).map((u) => workflows.get(u.id)));
    const explained = [
      ...published.map((w) => ({ id: w.id, name: w.name, version: w.version as number | null, wouldStart: decision.start, references: explainReferences(w.definition, event.message, now) })),
      ...drafts.map((w) => ({ id: w.id, name: w.name, version: null, wouldStart: false, references: explainReferences(w.definition, event.message, now) })),
    ];
    const verdict = !decision.start
      ? { outcome: decision.outcome, detail: decision.detail }
      : published.length > 0
        ? { outcome: "would_start" as const, detail: `would start ${published.map((w) => `'${w.name}' v${w.version}`).join(", ")} unless the dedup key was seen in the last ${trigger.dedup.windowSeconds} s` }
        : noWorkflowVerdict(drafts);
    return c.json(
      {
        triggerMessage: event.message,
        matches: decision.start,
        ...verdict,
        dedupKey: decision.start ? decision.dedupKey : null,
        orderingKey: decision.start ? decision.orderingKey : null,
        workflows: explained,
      },
      200,
    );
  },
);
