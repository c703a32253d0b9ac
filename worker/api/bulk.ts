// Bulk actions over instances (DESIGN §2.10): terminate, rerun failed or rerun all over a filter, with a dry run that counts first.
import { createRoute, z } from "@hono/zod-openapi";
import { applyInBatches, batches, BULK_ACTIONS, CALLS_AT_ONCE, BULK_TRIGGER_TYPES, bulkMatch, bulkReport, environmentsOf, MAX_PER_REQUEST, type BulkAction } from "../core/bulk.ts";
import { forbidden } from "../core/errors.ts";
import { INSTANCE_STATUSES } from "../core/progress.ts";
import { requirePermission, type Principal } from "../auth/keys.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import { insertAudit } from "../db/audit.ts";
import { matchInstances, type MatchedInstance } from "../db/bulk.ts";
import { router } from "./context.ts";
import { body, errors, json } from "./schemas.ts";

export const bulkApi = router();

const IsoTime = z.iso.datetime({ offset: true }).openapi({ format: "date-time" });

const BulkRequest = z
  .strictObject({
    action: z.enum(BULK_ACTIONS),
    filter: z.strictObject({
      workflowId: z.string().min(1).optional(),
      status: z.enum(INSTANCE_STATUSES).optional(),
      env: z.enum(["dev", "prod"]).optional(),
      triggerType: z.enum(BULK_TRIGGER_TYPES).optional(),
      createdAfter: IsoTime.optional().openapi({ description: "created at or after (ISO 8601)" }),
      createdBefore: IsoTime.optional().openapi({ description: "created before (ISO 8601)" }),
    }),
    dryRun: z.boolean().default(false),
  })
  .openapi("BulkRequest");

const BulkResult = z
  .object({
    dryRun: z.boolean(),
    matched: z.number().int().openapi({ description: "Instances of this workspace the filter matches that the action can act on (terminate: waiting or running; rerun-failed: failed or terminated; rerun-all: finished)" }),
    affected: z.array(z.string()).openapi({ description: `Acted on (dry run: would be acted on), oldest first, at most ${MAX_PER_REQUEST}` }),
    failed: z.array(z.object({ id: z.string(), error: z.string() })),
    remaining: z.number().int().openapi({ description: "Matched but beyond this request's cap: call again" }),
  })
  .openapi("BulkResult");

const DESCRIPTION = `Terminate, rerun failed nodes or rerun whole instances of this workspace over a filter. The filter must
name a workflow or a created time range. Only instances the action can act on match (terminate: waiting or running;
rerun-failed: failed or terminated; rerun-all: any finished). At most ${MAX_PER_REQUEST} instances per request, oldest first,
through their workflows' coordinators ${CALLS_AT_ONCE} at a time; \`remaining\` says how many are left for the next call. A dry run
changes nothing and lists what an apply now would act on. Needs the right to run in every environment the filter can
reach: without \`filter.env\`, both. The request is audit-logged with the ids acted on.`;

bulkApi.openapi(
  createRoute({
    method: "post",
    path: "/instances/bulk",
    tags: ["runs"],
    description: DESCRIPTION,
    request: body(BulkRequest),
    responses: { 200: json(BulkResult, "What was (or would be) acted on, and what failed"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    const { action, filter, dryRun } = c.req.valid("json");
    const ms = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));
    const parsed = { ...filter, createdAfter: ms(filter.createdAfter), createdBefore: ms(filter.createdBefore) };
    const match = bulkMatch(action, parsed);
    requireEnvironments(principal, action, environmentsOf(parsed), filter.env === undefined);
    const { matched, instances } = await matchInstances(c.env.DB, principal.workspaceId, match, MAX_PER_REQUEST);
    const outcomes = dryRun ? instances.map((i) => ({ id: i.id, error: null })) : await applyInBatches(instances.map((i) => i.id), actOn(c.env, action, instances));
    // D1 follows each coordinator in the background: delivered now, a repeated call (for `remaining`) sees what this one changed.
    // Best effort: the actions are done and must be reported even if a mirror is not delivered yet.
    if (!dryRun) for (const round of batches([...new Set(instances.map((i) => i.workflowId))])) await Promise.allSettled(round.map((wf) => coordinatorFor(c.env, wf).mirrored()));
    const report = bulkReport(dryRun, matched, outcomes);
    // One audit row names the whole action: the filter, the count and every id acted on (or listed, in a dry run).
    c.set("auditWritten", true);
    const audit = insertAudit({
      workspaceId: principal.workspaceId,
      at: Date.now(),
      actorKeyId: principal.keyId,
      actorRole: principal.role,
      action: `POST ${c.req.routePath}`,
      target: JSON.stringify({ action, filter, dryRun, matched: report.matched, affected: report.affected, failed: report.failed.map((f) => f.id), remaining: report.remaining }),
      status: 200,
    });
    await c.env.DB.prepare(audit.sql).bind(...audit.params).run();
    return c.json(report, 200);
  },
);

/** The right to run in each environment the filter reaches: the rule of a single terminate or rerun, for each one it may touch. */
function requireEnvironments(principal: Principal, action: BulkAction, envs: ("dev" | "prod")[], envOmitted: boolean): void {
  for (const env of envs) {
    try {
      requirePermission(principal, env === "prod" ? "runProd" : "runDev");
      continue;
    } catch {
      // refused below, naming the environment
    }
    const hint = envOmitted ? `; without filter.env the filter reaches both environments: set filter.env to '${env === "prod" ? "dev" : "prod"}'` : "";
    throw forbidden(`the ${principal.role} role may not ${action} ${env} instances${hint}`);
  }
}

/** One instance through its workflow's coordinator, as POST /instances/{id}/terminate and /rerun do (finished ones past the live window included). */
function actOn(env: Env, action: BulkAction, instances: MatchedInstance[]): (id: string) => Promise<string | null> {
  const workflowOf = new Map(instances.map((i) => [i.id, i.workflowId]));
  return async (id) => {
    const coordinator = coordinatorFor(env, workflowOf.get(id)!);
    const outcome = action === "terminate" ? await coordinator.terminate(id) : await coordinator.rerun(id, action === "rerun-all" ? "all" : "failed");
    return outcome.ok ? null : outcome.error.message;
  };
}
