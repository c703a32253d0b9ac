// Queue producers over HTTP: POST /queues/{queue}/messages sends to a trigger queue (DESIGN §4).
import { createRoute, z } from "@hono/zod-openapi";
import { notFound } from "../core/errors.ts";
import { requirePermission } from "../auth/keys.ts";
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

queuesApi.openapi(
  createRoute({
    method: "post",
    path: "/queues/{queue}/messages",
    tags: ["triggers"],
    request: { params: z.object({ queue: z.string().openapi({ param: { name: "queue", in: "path" }, example: "user-behavior" }) }), ...body(Message) },
    responses: { 202: json(z.object({ queue: z.string(), accepted: z.literal(true) }), "Sent; the queue's consumer starts the matching runs"), ...errors },
  }),
  async (c) => {
    // A message starts prod runs of every matching trigger, so sending needs the right to run in prod.
    requirePermission(c.get("principal"), "runProd");
    const { queue } = c.req.valid("param");
    const binding = TRIGGER_QUEUES[queue];
    if (!binding) throw notFound(`queue '${queue}' (this Worker sends to: ${triggerQueueNames().join(", ")})`);
    const { key, value, headers } = c.req.valid("json");
    await binding(c.env).send({ key: key ?? null, value, ...(headers ? { headers } : {}) }, { contentType: "json" });
    return c.json({ queue, accepted: true as const }, 202);
  },
);
