// Operating a trigger (DESIGN §2.10): pause, resume, discard its kept events, and replay a logged event.
import { createRoute, z } from "@hono/zod-openapi";
import { DISCARD_BATCH, EVENT_OUTCOMES, RESUME_CRON_BUDGET, RESUME_REQUEST_BUDGET } from "../core/triggers/index.ts";
import { requirePermission } from "../auth/keys.ts";
import { countKept, discardKept, finishResume, pauseTrigger, unpauseTrigger } from "../db/kept-events.ts";
import { TriggerRepo } from "../db/triggers.ts";
import { continueResume } from "../ingest/resume.ts";
import { replayEvent } from "../ingest/replay.ts";
import { router } from "./context.ts";
import { errors, IdParam, json } from "./schemas.ts";
import { Trigger, withHookUrl } from "./triggers.ts";

export const triggerOpsApi = router();
const tags = ["triggers"];

/** A discard request stops after this long; the rest is discarded by calling again (`remaining`). */
const DISCARD_REQUEST_MS = 10_000;

const Resumed = z
  .object({
    trigger: Trigger,
    resumed: z.number().int().openapi({ description: "Kept events this request decided, oldest first" }),
    remaining: z.number().int().openapi({ description: "Kept events left: they are decided in the background (this request's continuation, then the cron)" }),
  })
  .openapi("ResumedTrigger");

const Discarded = z
  .object({
    discarded: z.number().int(),
    remaining: z.number().int().openapi({ description: "Kept events left when the request's time ran out: call again" }),
  })
  .openapi("DiscardedEvents");

const Replayed = z
  .object({
    id: z.string().openapi({ description: "The new event" }),
    outcome: z.enum(EVENT_OUTCOMES),
    detail: z.string(),
    instanceIds: z.array(z.string()),
    replayOf: z.string(),
  })
  .openapi("ReplayedEvent");

triggerOpsApi.openapi(
  createRoute({
    method: "post",
    path: "/triggers/{id}/pause",
    tags,
    request: { params: IdParam },
    responses: { 200: json(Trigger, "Paused: its events are kept (outcome paused) until resume or discard; pausing a paused trigger changes nothing"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "edit");
    return c.json(withHookUrl(c, await pauseTrigger(c.env.DB, principal.workspaceId, c.req.valid("param").id, Date.now())), 200);
  },
);

triggerOpsApi.openapi(
  createRoute({
    method: "post",
    path: "/triggers/{id}/resume",
    tags,
    request: { params: IdParam },
    responses: {
      200: json(
        Resumed,
        "Resumed: the kept events are decided in arrival order as if they arrived now (with their original dedup keys), each log row updated in place. " +
          "Up to 200 in this request; the rest continue in the background, and new events wait behind them until none is left",
      ),
      ...errors,
    },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "edit");
    const id = c.req.valid("param").id;
    await unpauseTrigger(c.env.DB, principal.workspaceId, id, Date.now());
    const progress = await continueResume(c.env, id, RESUME_REQUEST_BUDGET);
    if (progress.remaining > 0) {
      // Idempotent with the cron's continuation: whichever decides a kept event first writes it.
      c.executionCtx.waitUntil(continueResume(c.env, id, RESUME_CRON_BUDGET).catch((err: unknown) => console.error(`sluice: resuming trigger ${id} in the background`, err)));
    }
    const trigger = await new TriggerRepo(c.env.DB, principal.workspaceId).get(id);
    return c.json({ trigger: withHookUrl(c, trigger), resumed: progress.resumed, remaining: progress.remaining }, 200);
  },
);

triggerOpsApi.openapi(
  createRoute({
    method: "post",
    path: "/triggers/{id}/discard",
    tags,
    request: { params: IdParam },
    responses: { 200: json(Discarded, "The kept events are logged as discarded and start nothing (a paused trigger stays paused)"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "edit");
    const id = c.req.valid("param").id;
    await new TriggerRepo(c.env.DB, principal.workspaceId).row(id); // another workspace's trigger is not found
    const began = Date.now();
    const detail = `discarded by key ${principal.keyId} at ${new Date(began).toISOString()}: it was kept while the trigger was paused and never started`;
    let discarded = 0;
    for (;;) {
      const n = await discardKept(c.env.DB, id, detail, DISCARD_BATCH);
      discarded += n;
      if (n < DISCARD_BATCH || Date.now() - began > DISCARD_REQUEST_MS) break;
    }
    // A trigger resumed with kept leftovers takes events live again once none is left.
    await finishResume(c.env.DB, id);
    return c.json({ discarded, remaining: await countKept(c.env.DB, id) }, 200);
  },
);

triggerOpsApi.openapi(
  createRoute({
    method: "post",
    path: "/triggers/{id}/events/{eventId}/replay",
    tags,
    request: { params: IdParam.extend({ eventId: z.string().min(1).openapi({ param: { name: "eventId", in: "path" } }) }) },
    responses: {
      201: json(
        Replayed,
        "The stored message decided again now against the trigger's current configuration and published workflows, as a new event naming the one it replays " +
          "(dedup bypassed: its key is replay:<eventId>:<n>). Each request starts at most one run per published workflow",
      ),
      ...errors,
      409: json(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), "The stored message was cut and its whole form was not kept"),
    },
  }),
  async (c) => {
    const principal = c.get("principal");
    // A replay starts prod runs, as an event would.
    requirePermission(principal, "runProd");
    const { id, eventId } = c.req.valid("param");
    const replayed = await replayEvent(c.env, principal.workspaceId, id, eventId);
    return c.json({ id: replayed.id, outcome: replayed.outcome, detail: replayed.detail, instanceIds: replayed.instanceIds, replayOf: replayed.replayOf }, 201);
  },
);
