// Signed webhooks: POST /hooks/{triggerId}, verified per Standard Webhooks; the signature is the only auth.
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { SluiceError, notFound } from "../core/errors.ts";
import { derivedInstanceId, newId } from "../core/ids.ts";
import { SecretBox } from "../core/secret-box.ts";
import { MAX_TRIGGER_MESSAGE_BYTES } from "../core/runs.ts";
import { replayAction, replayDetail, sha256Hex, verifyWebhook, WEBHOOK_REPLAY_MEMORY_MS, webhookInstanceSeed } from "../core/triggers/index.ts";
import { recordEvents, type TriggerEventRecord } from "../db/trigger-events.ts";
import { toSpec, triggerRow, verifyingSecrets } from "../db/triggers.ts";
import { claimReceipt, finishReceipt } from "../db/webhook-receipts.ts";
import { injectFault } from "../faults.ts";
import { deliver, WorkflowLookup } from "../ingest/deliver.ts";
import type { AppEnv } from "./context.ts";
import { ErrorBody, json } from "./schemas.ts";

export const hooksApi = new Hono<AppEnv>();

hooksApi.use(
  "/hooks/*",
  bodyLimit({
    maxSize: MAX_TRIGGER_MESSAGE_BYTES,
    onError: () => {
      throw new SluiceError(413, "payload_too_large", `a webhook body is at most ${MAX_TRIGGER_MESSAGE_BYTES} bytes (128 KB)`);
    },
  }),
);

hooksApi.post("/hooks/:triggerId", async (c) => {
  const id = c.req.param("triggerId");
  const row = await triggerRow(c.env.DB, id);
  // One answer for "no such trigger" and "not a webhook": the URL reveals nothing else.
  if (!row || row.type !== "webhook" || !row.secret) throw notFound(`webhook trigger ${id}`);
  // The raw text, as sent: the signature covers these exact bytes.
  const text = await c.req.text();
  const now = Date.now();
  const secrets = await verifyingSecrets(SecretBox.fromEnv(c.env), row, now).catch((err: unknown) => {
    // The sender is anonymous: the operator reads why (a missing or wrong SLUICE_SECRET_KEY) in the Worker's log.
    console.error(`webhook ${id}: its secret cannot be opened: ${err instanceof Error ? err.message : String(err)}`);
    throw new SluiceError(500, "internal", "internal error; the request may be retried");
  });
  const headers = Object.fromEntries(["webhook-id", "webhook-timestamp", "webhook-signature"].map((h) => [h, c.req.header(h)]));
  const verified = verifyWebhook(secrets, text, headers);
  if (!verified.ok) throw new SluiceError(401, "unauthorized", `webhook signature rejected: ${verified.reason}`);
  let message: unknown = {};
  if (text.trim() !== "") {
    try {
      message = JSON.parse(text);
    } catch {
      throw new SluiceError(400, "bad_request", "the webhook body must be JSON (it becomes workflow.triggerMessage)");
    }
  }
  // Replay protection first, whatever the trigger's dedup settings (DESIGN §2.7): the webhook-id is remembered for
  // longer than any copy of it verifies. Instance ids derive from it, so a copy racing the first, or a retry after
  // the first failed half-way, asks for the same instances and a run starts at most once.
  const webhookId = verified.webhookId;
  const receipt = await claimReceipt(c.env.DB, id, webhookId, { eventId: newId("evt", now), receivedAt: now }, WEBHOOK_REPLAY_MEMORY_MS);
  const action = replayAction(receipt);
  if (action === "replay") {
    const duplicate: TriggerEventRecord = {
      id: newId("evt", now),
      triggerId: id,
      workspaceId: row.workspaceId,
      receivedAt: now,
      source: "webhook",
      sourceId: webhookId,
      dedupKey: null,
      outcome: "duplicate",
      detail: replayDetail(webhookId, receipt.receivedAt),
      instanceIds: receipt.instanceIds ?? [],
      message,
    };
    await recordEvents(c.env.DB, [duplicate]);
    return c.json({ eventId: duplicate.id, outcome: duplicate.outcome, detail: duplicate.detail, instanceIds: duplicate.instanceIds }, 200);
  }
  const record = await deliver(
    c.env,
    {
      trigger: toSpec(row),
      workspaceId: row.workspaceId,
      event: { type: "webhook", message, webhookId, receivedAt: receipt.receivedAt },
      eventId: receipt.eventId,
      instanceIdFor: async (workflowId) => derivedInstanceId(workflowId, receipt.receivedAt, await sha256Hex(webhookInstanceSeed(id, webhookId, workflowId))),
      source: "webhook",
      sourceId: webhookId,
    },
    new WorkflowLookup(c.env.DB),
  );
  injectFault(c.env, `hooks:${webhookId}`); // test/faults: fails after the runs committed, before the event log and the answer
  await recordEvents(c.env.DB, [record]);
  await finishReceipt(c.env.DB, id, webhookId, receipt.eventId, record.instanceIds);
  if (action === "complete-then-replay") {
    return c.json({ eventId: record.id, outcome: "duplicate", detail: replayDetail(webhookId, receipt.receivedAt), instanceIds: record.instanceIds }, 200);
  }
  const answer = { eventId: record.id, outcome: record.outcome, detail: record.detail, instanceIds: record.instanceIds };
  // 2xx for every verified request: a replay or a filtered event is handled, and the sender must not retry it.
  // A gathered event is accepted for a run that starts later (its group's instance is named).
  return c.json(answer, ["started", "batched", "debounced"].includes(record.outcome) ? 202 : 200);
});

/** Documents the webhook endpoint in the OpenAPI document (it is served by the plain route above). */
export function documentHooks(app: OpenAPIHono<AppEnv>): void {
  const Answer = z.object({ eventId: z.string(), outcome: z.string(), detail: z.string(), instanceIds: z.array(z.string()) }).openapi("WebhookAnswer");
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/hooks/{triggerId}",
    tags: ["triggers"],
    security: [],
    summary: "Signed webhook (Standard Webhooks)",
    description:
      "Headers webhook-id, webhook-timestamp (Unix seconds, within 5 minutes) and webhook-signature (`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the trigger's whsec_ secret). " +
      "The JSON body becomes workflow.triggerMessage. A webhook-id already received within 11 minutes is always answered as a duplicate (replay protection, " +
      "independent of the trigger's dedup settings); it is also the default dedup key.",
    request: { params: z.object({ triggerId: z.string().openapi({ param: { name: "triggerId", in: "path" } }) }), body: { content: { "application/json": { schema: z.unknown() } } } },
    responses: {
      202: json(Answer, "Verified; something started, or the event joined a batch or debounce whose run starts later"),
      200: json(Answer, "Verified; nothing new started (duplicate, filtered, disabled, no published workflow)"),
      401: json(ErrorBody, "Missing, stale or wrong signature: nothing starts"),
      404: json(ErrorBody, "No such webhook trigger"),
      413: json(ErrorBody, "Body over 128 KB"),
    },
  });
}
