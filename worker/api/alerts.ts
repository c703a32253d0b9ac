// A workflow's alerts: their log, the test button that sends a signed sample now, and the secret that signs them.
import { createRoute, z } from "@hono/zod-openapi";
import { requirePermission } from "../auth/keys.ts";
import { afterAttempt, alertBody, answerRecord, postAlert, sampleFacts, type AlertFormat } from "../core/alerts.ts";
import { badRequest } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { signWebhook } from "../core/triggers/webhook-signature.ts";
import { AlertLog, alertSecret, deliveryItem, type DeliveryRecord } from "../db/alerts.ts";
import { WorkflowRepo } from "../db/workflows.ts";
import { router } from "./context.ts";
import { body, errors, IdParam, json, Page } from "./schemas.ts";

export const alertsApi = router();
const tags = ["alerts"];

const Delivery = z
  .object({
    id: z.string().openapi({ description: "The delivery's id: its webhook-id header, the same on every attempt" }),
    instanceId: z.string().nullable().openapi({ description: "null for a test alert" }),
    event: z.enum(["failed", "terminated", "skipped", "slow", "recovered", "test"]),
    url: z.string(),
    format: z.enum(["standard", "slack"]),
    status: z.enum(["pending", "delivered", "failed"]).openapi({ description: "failed: every try (6, over about 43 minutes) got no 2xx answer" }),
    attempts: z.number().int(),
    responseStatus: z.number().int().nullable().openapi({ description: "The last answer's HTTP status (null: none came)" }),
    response: z.string().nullable().openapi({ description: "The last answer's first 1 KB, or why none came" }),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("AlertDelivery");

alertsApi.openapi(
  createRoute({
    method: "get",
    path: "/workflows/{id}/alerts",
    tags,
    request: { params: IdParam, query: Page },
    responses: { 200: json(z.object({ items: z.array(Delivery), nextCursor: z.string().nullable() }), "Newest first: every alert sent or being sent, with its last answer"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "read");
    const { id } = c.req.valid("param");
    await new WorkflowRepo(c.env.DB, principal.workspaceId).get(id); // another workspace's workflow is not found
    const { limit, cursor } = c.req.valid("query");
    return c.json(await new AlertLog(c.env.DB, principal.workspaceId).list(id, limit, cursor ?? null), 200);
  },
);

const TestRequest = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: "url is an http(s) URL" }).max(2048).optional().openapi({ description: "Where to send the sample; default: every url the workflow's alerts name" }),
  })
  .openapi("AlertTestRequest");

alertsApi.openapi(
  createRoute({
    method: "post",
    path: "/workflows/{id}/alerts/test",
    tags,
    request: { params: IdParam, ...body(TestRequest) },
    responses: { 200: json(z.object({ items: z.array(Delivery) }), "One attempt per url, made now, logged as event test with its answer"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "edit");
    const { id } = c.req.valid("param");
    const workflow = await new WorkflowRepo(c.env.DB, principal.workspaceId).get(id);
    const targets = testTargets(workflow.definition.policy.alerts ?? [], c.req.valid("json").url);
    if (targets.length === 0) throw badRequest("the workflow has no alerts: give a url to send the sample to");
    const secret = await alertSecret(c.env.DB, c.env, id);
    const log = new AlertLog(c.env.DB, principal.workspaceId);
    const items = await Promise.all(
      targets.map(async ({ url, format }) => {
        const now = Date.now();
        const deliveryId = newId("alr", now);
        const payload = alertBody("test", format, sampleFacts({ id, name: workflow.name }, c.env.PUBLIC_URL ?? new URL(c.req.url).origin, now), now);
        const answer = await postAlert((input, init) => fetch(input, init), { id: deliveryId, url, body: payload }, (webhookId, text, at) => signWebhook(secret, webhookId, text, at), now);
        // A test is one attempt: its answer is the result, never retried.
        const settled = afterAttempt(0, answer, Date.now());
        const record: DeliveryRecord = {
          id: deliveryId,
          workspaceId: principal.workspaceId,
          workflowId: id,
          instanceId: null,
          event: "test",
          url,
          format,
          status: settled.status === "delivered" ? "delivered" : "failed",
          attempts: 1,
          ...answerRecord(answer),
          createdAt: now,
          updatedAt: Date.now(),
        };
        await log.insert(record);
        return deliveryItem(record);
      }),
    );
    return c.json({ items }, 200);
  },
);

/** The given url (in the format an alert of it uses, else standard), or each distinct url of the workflow's alerts. */
function testTargets(alerts: readonly { url: string; format: AlertFormat }[], url: string | undefined): { url: string; format: AlertFormat }[] {
  if (url !== undefined) return [{ url, format: alerts.find((a) => a.url === url)?.format ?? "standard" }];
  const seen = new Map<string, AlertFormat>();
  for (const a of alerts) if (!seen.has(a.url)) seen.set(a.url, a.format);
  return [...seen].map(([u, format]) => ({ url: u, format }));
}

alertsApi.openapi(
  createRoute({
    method: "get",
    path: "/workflows/{id}/alerts/secret",
    tags,
    request: { params: IdParam },
    responses: {
      200: json(z.object({ secret: z.string().openapi({ description: "whsec_…: verifies webhook-signature like any Standard Webhook" }) }), "The workflow's alert signing secret (made on first use)"),
      ...errors,
    },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "edit");
    const { id } = c.req.valid("param");
    await new WorkflowRepo(c.env.DB, principal.workspaceId).get(id);
    return c.json({ secret: await alertSecret(c.env.DB, c.env, id) }, 200);
  },
);
