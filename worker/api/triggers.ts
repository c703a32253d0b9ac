// Triggers: create, list, read, replace, delete, enable/disable, rotate a webhook secret (DESIGN §2.7, §4).
import { createRoute, z } from "@hono/zod-openapi";
import { newId } from "../core/ids.ts";
import { SecretBox } from "../core/secret-box.ts";
import { newWebhookSecret, parseTriggerInput, PREVIOUS_SECRET_GRACE_MS, TRIGGER_TYPES, TriggerInputSchema, type TriggerInput as ParsedTrigger } from "../core/triggers/index.ts";
import { QueueConfigSchema, R2ConfigSchema, WebhookConfigSchema } from "../core/triggers/config.ts";
import { requireGrant } from "../db/sources.ts";
import { requirePermission, type Principal } from "../auth/keys.ts";
import { TriggerRepo, type TriggerRecord } from "../db/triggers.ts";
import { triggerQueueNames } from "../ingest/queues.ts";
import { router } from "./context.ts";
import { body, errors, IdParam, json, Page } from "./schemas.ts";

export const triggersApi = router();
const tags = ["triggers"];
type Ctx = { env: Env; get: (k: "principal") => Principal; req: { url: string } };
const repo = (c: Ctx) => new TriggerRepo(c.env.DB, c.get("principal").workspaceId);

export const TriggerInput = TriggerInputSchema.openapi("TriggerInput");

/** A trigger's settings, by its type (as saved: defaults filled in). */
const TriggerConfig = z
  .union([R2ConfigSchema.openapi("R2TriggerConfig"), QueueConfigSchema.openapi("QueueTriggerConfig"), WebhookConfigSchema.openapi("WebhookTriggerConfig")])
  .openapi("TriggerConfig");

export const Trigger = z
  .object({
    id: z.string().openapi({ example: "trg_01jd3k2v9q7m4x8c2n6b5t1r0a" }),
    name: z.string(),
    description: z.string(),
    type: z.enum(TRIGGER_TYPES),
    config: TriggerConfig,
    filter: z.string().nullable(),
    dedup: z.object({ key: z.string().nullable(), windowSeconds: z.number().int() }),
    ordering: z.object({ key: z.string() }).nullable(),
    batch: z.object({ maxEvents: z.number().int(), windowSeconds: z.number().int(), key: z.string().nullable() }).nullable(),
    debounce: z.object({ windowSeconds: z.number().int(), maxWaitSeconds: z.number().int().nullable(), key: z.string().nullable() }).nullable(),
    enabled: z.boolean(),
    paused: z.boolean().openapi({ description: "A paused trigger keeps its events (outcome paused) until resume or discard" }),
    pausedAt: z.string().nullable().openapi({ format: "date-time" }),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
    hookUrl: z.string().optional().openapi({ description: "Webhook triggers: where senders POST signed requests" }),
  })
  .openapi("Trigger");

const Created = Trigger.extend({
  secret: z.string().optional().openapi({ description: "Webhook triggers: the whsec_ signing secret, shown only now (and on rotation)" }),
}).openapi("CreatedTrigger");

const TriggerWithWorkflows = Trigger.extend({
  workflows: z.array(z.object({ id: z.string(), name: z.string(), publishedVersion: z.number().nullable(), draft: z.boolean(), published: z.boolean() })),
}).openapi("TriggerDetail");

/** A trigger listens only to a bucket or queue its workspace was granted (DESIGN §2.7): 403 naming the source. */
async function requireSourceGrant(c: Ctx, input: ParsedTrigger): Promise<void> {
  if (input.type === "r2") await requireGrant(c.env.DB, c.get("principal").workspaceId, "bucket", input.config.bucket);
  if (input.type === "queue") await requireGrant(c.env.DB, c.get("principal").workspaceId, "queue", input.config.queue);
}

/** The webhook URL on the host the client called, so it is right behind any proxy or custom domain. */
export const withHookUrl = (c: Ctx, t: TriggerRecord) => (t.type === "webhook" ? { ...t, hookUrl: `${new URL(c.req.url).origin}/hooks/${t.id}` } : t);

triggersApi.openapi(
  createRoute({
    method: "post",
    path: "/triggers",
    tags,
    request: body(TriggerInput),
    responses: { 201: json(Created, "Created; a webhook trigger's secret is in the response, once"), ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "edit");
    const input = parseTriggerInput(c.req.valid("json"), triggerQueueNames());
    await requireSourceGrant(c, input);
    const secret = input.type === "webhook" ? newWebhookSecret() : null;
    const created = await repo(c).create(newId("trg"), input, secret, SecretBox.fromEnv(c.env));
    return c.json({ ...withHookUrl(c, created), ...(secret ? { secret } : {}) }, 201);
  },
);

triggersApi.openapi(
  createRoute({
    method: "get",
    path: "/triggers",
    tags,
    request: { query: Page.extend({ type: z.enum(TRIGGER_TYPES).optional().openapi({ param: { name: "type", in: "query" } }) }) },
    responses: { 200: json(z.object({ items: z.array(Trigger), nextCursor: z.string().nullable() }), "By name"), ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "read");
    const { limit, cursor, type } = c.req.valid("query");
    const page = await repo(c).list(limit, cursor ?? null, type);
    return c.json({ items: page.items.map((t) => withHookUrl(c, t)), nextCursor: page.nextCursor }, 200);
  },
);

triggersApi.openapi(
  createRoute({
    method: "get",
    path: "/triggers/{id}",
    tags,
    request: { params: IdParam },
    responses: { 200: json(TriggerWithWorkflows, "The trigger and the workflows that select it (in their draft, their published version or both)"), ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "read");
    const { id } = c.req.valid("param");
    const triggers = repo(c);
    const [trigger, workflows] = await Promise.all([triggers.get(id), triggers.workflowsUsing(id)]);
    return c.json({ ...withHookUrl(c, trigger), workflows }, 200);
  },
);

triggersApi.openapi(
  createRoute({
    method: "put",
    path: "/triggers/{id}",
    tags,
    request: { params: IdParam, ...body(TriggerInput) },
    responses: { 200: json(Trigger, "Replaced (the type cannot change; a webhook keeps its secret)"), ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "edit");
    const input = parseTriggerInput(c.req.valid("json"), triggerQueueNames());
    const triggers = repo(c);
    await triggers.row(c.req.valid("param").id); // another workspace's trigger is not found before anything else is said
    await requireSourceGrant(c, input);
    return c.json(withHookUrl(c, await triggers.replace(c.req.valid("param").id, input)), 200);
  },
);

triggersApi.openapi(
  createRoute({
    method: "delete",
    path: "/triggers/{id}",
    tags,
    request: { params: IdParam },
    responses: { 204: { description: "Deleted with its event log" }, ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "edit");
    await repo(c).delete(c.req.valid("param").id);
    return c.body(null, 204);
  },
);

for (const [action, enabled] of [["enable", true], ["disable", false]] as const) {
  triggersApi.openapi(
    createRoute({
      method: "post",
      path: `/triggers/{id}/${action}`,
      tags,
      request: { params: IdParam },
      responses: { 200: json(Trigger, enabled ? "Enabled: its events start runs again" : "Disabled: its events are logged as disabled and start nothing"), ...errors },
    }),
    async (c) => {
      requirePermission(c.get("principal"), "edit");
      return c.json(withHookUrl(c, await repo(c).setEnabled(c.req.valid("param").id, enabled)), 200);
    },
  );
}

triggersApi.openapi(
  createRoute({
    method: "post",
    path: "/triggers/{id}/rotate-secret",
    tags,
    request: { params: IdParam },
    responses: {
      200: json(
        z.object({ secret: z.string(), previousSecretValidUntil: z.string().openapi({ format: "date-time" }) }),
        "The new secret, shown once; the previous one keeps verifying for 24 hours",
      ),
      ...errors,
    },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "edit");
    const secret = newWebhookSecret();
    const until = Date.now() + PREVIOUS_SECRET_GRACE_MS;
    await repo(c).rotateSecret(c.req.valid("param").id, secret, until, SecretBox.fromEnv(c.env));
    return c.json({ secret, previousSecretValidUntil: new Date(until).toISOString() }, 200);
  },
);
