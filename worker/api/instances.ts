// Runs and instances: start a run, list and read instances, read a node's log (DESIGN §4).
import { createRoute, z } from "@hono/zod-openapi";
import { downwardWeights } from "../core/dag.ts";
import type { Priority } from "../core/definition.ts";
import { unwrap } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { runClock } from "../core/params/index.ts";
import { checkTriggerMessageSize, mergeRunParams, RunRequestSchema, versionForRun } from "../core/runs.ts";
import { requirePermission } from "../auth/keys.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import { InstanceRepo } from "../db/instances.ts";
import { WorkflowRepo } from "../db/workflows.ts";
import { router } from "./context.ts";
import { body, errors, IdParam, json, Page } from "./schemas.ts";

export const instancesApi = router();
const jsonCopy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const tags = ["runs"];

const Started = z.object({ id: z.string(), status: z.enum(["waiting", "running", "succeeded", "failed", "terminated"]) });

instancesApi.openapi(
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
          .openapi({ description: "A repeated key (within 24 hours) returns the first request's instance and starts nothing" }),
      }),
      ...body(RunRequestSchema.openapi("RunRequest")),
    },
    responses: {
      201: json(Started, "The instance was created"),
      200: json(Started, "The Idempotency-Key was seen before: the instance it started, nothing new"),
      ...errors,
    },
  }),
  async (c) => {
    const principal = c.get("principal");
    const request = c.req.valid("json");
    const idempotencyKey = c.req.valid("header")["idempotency-key"];
    requirePermission(principal, request.env === "prod" ? "runProd" : "runDev");
    const workflows = new WorkflowRepo(c.env.DB, principal.workspaceId);
    const workflow = await workflows.get(c.req.valid("param").id);
    const version = versionForRun({ draft: workflow.definition, publishedVersion: workflow.publishedVersion }, request.env);
    const { definition, weights } = version === null
      ? { definition: workflow.definition, weights: downwardWeights(workflow.definition) }
      : await workflows.version(workflow.id, version);
    const receivedAt = Date.now();
    const clock = runClock({ runDate: request.runDate, receivedAt: new Date(receivedAt), timezone: definition.policy.timezone });
    const params = mergeRunParams(definition.params, request.params);
    const triggerMessage = request.triggerMessage ?? {};
    checkTriggerMessageSize(triggerMessage);
    // A JSON round trip: validated objects (e.g. zod records) may not be structured-clonable for RPC.
    const started = await coordinatorFor(c.env, workflow.id).start(jsonCopy({
      instanceId: newId("ins", receivedAt),
      workspaceId: principal.workspaceId,
      workflowId: workflow.id,
      workflowName: definition.name,
      version,
      env: request.env,
      definition,
      weights,
      priorityOverride: (request.priority ?? null) as Priority | null,
      runDate: request.runDate ?? null,
      receivedAt,
      cyctime: clock.cyctime.getTime(),
      triggerType: c.req.header("x-sluice-client") === "console" ? "manual" : "api",
      triggerMessage,
      params,
      // The coordinator decides, so two concurrent requests with one key cannot both start (DESIGN §2.7).
      dedup: idempotencyKey === undefined ? null : { key: `api:${idempotencyKey}`, windowSeconds: 86_400 },
    }));
    return c.json(Started.parse(started), started.duplicate ? 200 : 201);
  },
);

const Filter = Page.extend({
  workflowId: z.string().optional().openapi({ param: { name: "workflowId", in: "query" } }),
  status: z.enum(["waiting", "running", "succeeded", "failed", "terminated"]).optional().openapi({ param: { name: "status", in: "query" } }),
  env: z.enum(["dev", "prod"]).optional().openapi({ param: { name: "env", in: "query" } }),
});

instancesApi.openapi(
  createRoute({
    method: "get",
    path: "/instances",
    tags,
    request: { query: Filter },
    responses: { 200: json(z.object({ items: z.array(z.record(z.string(), z.unknown())), nextCursor: z.string().nullable() }), "Newest first"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "read");
    const { limit, cursor, ...filter } = c.req.valid("query");
    return c.json(await new InstanceRepo(c.env.DB, principal.workspaceId).list(filter, limit, cursor ?? null), 200);
  },
);

instancesApi.openapi(
  createRoute({
    method: "get",
    path: "/instances/{id}",
    tags,
    request: { params: IdParam },
    responses: { 200: json(z.record(z.string(), z.unknown()).openapi("Instance"), "The instance with the current attempt of every node"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "read");
    const found = await new InstanceRepo(c.env.DB, principal.workspaceId).get(c.req.valid("param").id);
    // Only the coordinator knows a waiting instance's place in line.
    const waitReason = found.status === "waiting" ? await coordinatorFor(c.env, found.workflowId).waitReason(found.id) : null;
    return c.json({ ...found, waitReason }, 200);
  },
);

instancesApi.openapi(
  createRoute({
    method: "get",
    path: "/instances/{id}/nodes/{name}/log",
    tags,
    request: {
      params: IdParam.extend({ name: z.string().openapi({ param: { name: "name", in: "path" } }) }),
      query: z.object({ attempt: z.coerce.number().int().min(1).optional().openapi({ param: { name: "attempt", in: "query" } }) }),
    },
    responses: { 200: { content: { "text/plain": { schema: z.string() } }, description: "The node's log as text" }, ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "read");
    const { id, name } = c.req.valid("param");
    const text = await new InstanceRepo(c.env.DB, principal.workspaceId).log(id, name, c.req.valid("query").attempt);
    return c.text(text, 200);
  },
);

const Control = z.object({ id: z.string(), status: z.enum(["waiting", "running", "succeeded", "failed", "terminated"]) });

/** Operating on an instance needs the right to run in its environment. */
async function operable(c: { env: Env; get: (k: "principal") => import("../auth/keys.ts").Principal }, id: string) {
  const principal = c.get("principal");
  const found = await new InstanceRepo(c.env.DB, principal.workspaceId).get(id);
  requirePermission(principal, found.env === "prod" ? "runProd" : "runDev");
  return coordinatorFor(c.env, found.workflowId);
}

instancesApi.openapi(
  createRoute({
    method: "post",
    path: "/instances/{id}/terminate",
    tags,
    request: { params: IdParam },
    responses: { 200: json(Control, "Terminated: queued node runs dropped, running ones killed with their process group"), ...errors },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return c.json(Control.parse(unwrap(await (await operable(c, id)).terminate(id))), 200);
  },
);

instancesApi.openapi(
  createRoute({
    method: "post",
    path: "/instances/{id}/rerun",
    tags,
    request: { params: IdParam, ...body(z.strictObject({ mode: z.enum(["all", "failed"]).default("failed") })) },
    responses: { 200: json(Control, "Rerun: new attempts beside the old ones, same version, parameters and message"), ...errors },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    return c.json(Control.parse(unwrap(await (await operable(c, id)).rerun(id, c.req.valid("json").mode))), 200);
  },
);

// Live status (DESIGN §3): a WebSocket served by the instance's coordinator. Messages:
// {type:"instance", instance} on connect and on every change; {type:"log", node, attempt, text} per log chunk.
instancesApi.get("/instances/:id/live", async (c) => {
  const principal = c.get("principal");
  requirePermission(principal, "read");
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    return c.json({ error: { code: "bad_request", message: "this endpoint speaks WebSocket: send Upgrade: websocket", details: [] } }, 426);
  }
  const found = await new InstanceRepo(c.env.DB, principal.workspaceId).get(c.req.param("id"));
  const url = new URL(c.req.url);
  url.search = `?instance=${encodeURIComponent(found.id)}`;
  return coordinatorFor(c.env, found.workflowId).fetch(new Request(url, c.req.raw));
});
