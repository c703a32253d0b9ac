// Starting runs: one run or a batch of up to 100, sent to the workflow's coordinator as ids and inputs (DESIGN §4).
import { createRoute, z } from "@hono/zod-openapi";
import type { Priority } from "../core/definition.ts";
import { conflict, SluiceError, unwrap } from "../core/errors.ts";
import { INSTANCE_STATUSES } from "../core/progress.ts";
import { newInstanceId } from "../core/ids.ts";
import { MAX_RUNS_PER_REQUEST, type RunSpec } from "../core/run-starts.ts";
import { checkMessageSource, checkTriggerMessageSize, RunRequestSchema, versionForRun, type RunRequest } from "../core/runs.ts";
import { wholeMessage } from "../core/triggers/index.ts";
import { loggedEventOf } from "../db/kept-events.ts";
import { requirePermission } from "../auth/keys.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import { WorkflowRepo } from "../db/workflows.ts";
import { router } from "./context.ts";
import { errors, IdParam, json } from "./schemas.ts";

export const runsApi = router();
const tags = ["runs"];
/** A JSON round trip: validated objects (e.g. zod records) may not be structured-clonable for RPC. */
const jsonCopy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
/** An Idempotency-Key is remembered this long (DESIGN §2.7). */
const IDEMPOTENCY_SECONDS = 86_400;

const Started = z.object({ id: z.string(), status: z.enum(INSTANCE_STATUSES) }).openapi("StartedRun");
const StartedBatch = z.object({ items: z.array(Started).openapi({ description: "One per run, in the order of `runs`" }) }).openapi("StartedRuns");
const RunBatchSchema = z
  .strictObject({
    runs: z.array(RunRequestSchema).min(1).max(MAX_RUNS_PER_REQUEST).openapi({ description: `1 to ${MAX_RUNS_PER_REQUEST} runs, started in this order` }),
  })
  .openapi("RunBatchRequest", {
    description: "Up to 100 runs in one request: all are checked first (a 400 names the run, e.g. `runs[3].env`) and none starts unless all can",
  });

runsApi.openapi(
  createRoute({
    method: "post",
    path: "/workflows/{id}/runs",
    tags,
    request: {
      params: IdParam,
      headers: z.object({
        "idempotency-key": z
          .string()
          .min(1)
          .max(255)
          .optional()
          .openapi({
            description:
              "A repeated key (within 24 hours) returns the first request's instance and starts nothing. For a batch the key names the whole batch: " +
              "run i of a repeat answers with run i of the first request (a repeat with more runs starts only the extra ones)",
          }),
      }),
      body: { content: { "application/json": { schema: z.union([RunRequestSchema.openapi("RunRequest"), RunBatchSchema]) } }, required: true },
    },
    responses: {
      201: json(z.union([Started, StartedBatch]), "Created: `{id, status}` for one run, `{items: [{id, status}]}` for a batch"),
      200: json(z.union([Started, StartedBatch]), "Every run's Idempotency-Key was seen before: the instances it started, nothing new"),
      ...errors,
      413: json(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), "A trigger message is over 128 KB"),
    },
  }),
  async (c) => {
    const principal = c.get("principal");
    const body = c.req.valid("json");
    const batch = "runs" in body;
    const asked: RunRequest[] = batch ? body.runs : [body];
    for (const env of new Set(asked.map((r) => r.env))) requirePermission(principal, env === "prod" ? "runProd" : "runDev");
    asked.forEach((r, i) => checkMessageSource(r, batch ? i : null));
    const requests = await Promise.all(asked.map((r) => withLoggedMessage(c.env.DB, principal.workspaceId, r)));
    requests.forEach((r, i) => checkMessage(r.triggerMessage, batch ? i : null));
    const target = await new WorkflowRepo(c.env.DB, principal.workspaceId).runTarget(c.req.valid("param").id);
    const publishedVersion = requests.some((r) => r.env === "prod") ? versionForRun(target, "prod") : target.publishedVersion;
    const idempotencyKey = c.req.valid("header")["idempotency-key"];
    const receivedAt = Date.now();
    const runs = requests.map(
      (r, i): RunSpec => ({
        instanceId: newInstanceId(target.id, receivedAt),
        env: r.env,
        receivedAt,
        runDate: r.runDate ?? null,
        priorityOverride: (r.priority ?? null) as Priority | null,
        triggerType: c.req.header("x-sluice-client") === "console" ? "manual" : "api",
        triggerMessage: r.triggerMessage ?? {},
        params: r.params ?? null,
        // The coordinator decides, so two concurrent requests with one key cannot both start (DESIGN §2.7).
        dedup: idempotencyKey === undefined ? null : { key: batch ? `api:${idempotencyKey}#${i}` : `api:${idempotencyKey}`, windowSeconds: IDEMPOTENCY_SECONDS },
      }),
    );
    // The audit row goes to D1 with the runs' mirror rows, off this request's path.
    c.set("auditWritten", true);
    const audit = { workspaceId: principal.workspaceId, at: receivedAt, actorKeyId: principal.keyId, actorRole: principal.role, action: `POST ${c.req.routePath}`, target: JSON.stringify(c.req.param()) };
    const started = unwrap(
      await coordinatorFor(c.env, target.id).startMany(
        jsonCopy({ workspaceId: principal.workspaceId, workflowId: target.id, publishedVersion, draftRevision: target.draftRevision, runs, batch, audit }),
      ),
    );
    const status = started.every((s) => s.duplicate) ? 200 : 201;
    return batch ? c.json(StartedBatch.parse({ items: started }), status) : c.json(Started.parse(started[0]), status);
  },
);

/**
 * A debug run from a real event (DESIGN §2.10): the logged event's whole message becomes the trigger message. Only
 * this workspace's events are found; one whose message was cut without its whole form kept cannot be used (409).
 */
async function withLoggedMessage(d1: D1Database, workspaceId: string, request: RunRequest): Promise<RunRequest> {
  if (request.fromEventId === undefined) return request;
  const event = await loggedEventOf(d1, workspaceId, request.fromEventId);
  const whole = wholeMessage(event);
  if (!whole.ok) throw conflict(`event ${request.fromEventId}: ${whole.reason}`);
  return { ...request, triggerMessage: whole.message };
}

/** A batch names the run whose message is too large. */
function checkMessage(message: unknown, index: number | null): void {
  try {
    checkTriggerMessageSize(message ?? {});
  } catch (err) {
    if (index === null || !(err instanceof SluiceError)) throw err;
    throw new SluiceError(err.status, err.code, `runs[${index}].triggerMessage: ${err.message}`, [{ path: `runs[${index}].triggerMessage`, message: err.message }]);
  }
}
