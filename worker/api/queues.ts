// Queue producers over HTTP: POST /queues/{queue}/messages sends to a trigger queue (DESIGN §4).
import { createRoute, z } from "@hono/zod-openapi";
import { notFound } from "../core/errors.ts";
import { requirePermission } from "../auth/keys.ts";
import { requireGrant } from "../db/sources.ts";
import { TRIGGER_QUEUES, triggerQueueNames } from "../ingest/queues.ts";
import { router } from "./context.ts";
import { body, errors, json } from "./schemas.ts";

export const queuesApi = router();

const Message = z
  .strictObject({
    key: z.string().max(1024).nullable().optional().openapi({ description: "Compared exactly with a queue trigger's key" }),
    value: z.unknown().openapi({ description: "A string stays as it is; other JSON becomes a JSON string in workflow.triggerMessage.value" }),
    headers: z.record(z.string(), z.string()).optional(),
  })
  .refine((m) => m.value !== undefined, { message: "value is required", path: ["value"] })
  .openapi("QueueMessage");

/** Queues' own limit on one sendBatch call. */
export const MAX_SEND_BATCH = 100;

const Batch = z
  .strictObject({ messages: z.array(Message).min(1).max(MAX_SEND_BATCH).openapi({ description: `1–${MAX_SEND_BATCH} messages, sent as one batch` }) })
  .openapi("QueueMessageBatch");

queuesApi.openapi(
  createRoute({
    method: "post",
    path: "/queues/{queue}/messages",
    tags: ["triggers"],
    description: `One message, or \`{"messages": [...]}\` with up to ${MAX_SEND_BATCH} sent as one batch (in order).`,
    request: {
      params: z.object({ queue: z.string().openapi({ param: { name: "queue", in: "path" }, example: "user-behavior" }) }),
      ...body(z.union([Batch, Message])),
    },
    responses: {
      202: json(z.object({ queue: z.string(), accepted: z.literal(true), count: z.number().int() }), "Sent; the queue's consumer starts the matching runs"),
      ...errors,
    },
  }),
  async (c) => {
    // A message starts prod runs of every matching trigger, so sending needs the right to run in prod.
    const principal = c.get("principal");
    requirePermission(principal, "runProd");
    const { queue } = c.req.valid("param");
    const binding = TRIGGER_QUEUES[queue];
    if (!binding) throw notFound(`queue '${queue}' (this Worker sends to: ${triggerQueueNames().join(", ")})`);
    // Only a queue granted to the workspace: its messages start other workspaces' triggers otherwise (DESIGN §2.7).
    await requireGrant(c.env.DB, principal.workspaceId, "queue", queue);
    const sent = c.req.valid("json");
    const messages = "messages" in sent ? sent.messages : [sent];
    const record = ({ key, value, headers }: z.infer<typeof Message>) => ({ key: key ?? null, value, ...(headers ? { headers } : {}) });
    await binding(c.env).sendBatch(messages.map((m) => ({ body: record(m), contentType: "json" as const })));
    return c.json({ queue, accepted: true as const, count: messages.length }, 202);
  },
);
