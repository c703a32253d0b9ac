// Instances: list and read them, read a node's log, terminate and rerun (DESIGN §4). Runs start in runs.ts.
import { createRoute, z } from "@hono/zod-openapi";
import { notFound, unwrap } from "../core/errors.ts";
import { rerunRequest } from "../core/lifecycle.ts";
import { INSTANCE_STATUSES } from "../core/progress.ts";
import { workflowOfInstance } from "../core/ids.ts";
import { requirePermission, type Principal } from "../auth/keys.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import { InstanceRepo } from "../db/instances.ts";
import { readLog } from "../db/log-store.ts";
import type { InstanceView } from "../db/views.ts";
import { router } from "./context.ts";
import { Instance, InstancePage } from "./response-schemas.ts";
import { body, errors, IdParam, json, Page } from "./schemas.ts";

export const instancesApi = router();
const tags = ["runs"];

const Filter = Page.extend({
  workflowId: z.string().optional().openapi({ param: { name: "workflowId", in: "query" } }),
  status: z.enum(INSTANCE_STATUSES).optional().openapi({ param: { name: "status", in: "query" } }),
  env: z.enum(["dev", "prod"]).optional().openapi({ param: { name: "env", in: "query" } }),
});

instancesApi.openapi(
  createRoute({
    method: "get",
    path: "/instances",
    tags,
    request: { query: Filter },
    responses: { 200: json(InstancePage, "Newest first"), ...errors },
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
    responses: { 200: json(Instance, "The instance with the current attempt of every node"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "read");
    const found = await readInstance(c.env, principal, c.req.valid("param").id);
    if (found.source === "coordinator") return c.json(found.view, 200);
    // Only the coordinator knows a waiting instance's place in line.
    const waitReason = found.view.status === "waiting" ? await coordinatorFor(c.env, found.view.workflowId).waitReason(found.view.id) : null;
    return c.json({ ...found.view, waitReason }, 200);
  },
);

/**
 * An instance as its coordinator holds it (the truth, ahead of the D1 mirror, which follows each commit in
 * the background): a run just started or a node just finished reads as it is. D1 answers for what the
 * coordinator has forgotten and for ids that do not name their workflow. Another workspace's instance is not found.
 */
async function readInstance(env: Env, principal: Principal, id: string): Promise<{ source: "d1" | "coordinator"; view: InstanceView }> {
  const workflowId = workflowOfInstance(id);
  if (workflowId !== null) {
    // The RPC type cannot say `unknown` (the trigger message); the value is the coordinator's answer as is.
    const live = (await coordinatorFor(env, workflowId).liveInstance(id)) as { workspaceId: string; view: InstanceView } | null;
    if (live !== null) {
      if (live.workspaceId !== principal.workspaceId) throw notFound(`instance ${id}`);
      return { source: "coordinator", view: live.view };
    }
  }
  return { source: "d1", view: await new InstanceRepo(env.DB, principal.workspaceId).get(id) };
}

const LOG_DESCRIPTION = `The node's log as text (the latest attempt unless \`attempt\` names one). A running attempt's log is
its live tail; a finished attempt's log is its archived object followed by any lines written since.

Byte ranges (RFC 9110): one range per request, \`Range: bytes=a-b\` (both ends included, cut at the end),
\`bytes=a-\` (to the end) or \`bytes=-n\` (the last n bytes) is answered 206 with \`Content-Range: bytes a-b/size\`;
a range that starts past the end, or a malformed bytes range, is answered 416 with \`Content-Range: bytes */size\`;
no Range, another unit, or several ranges: the whole log, 200. Answers say \`Accept-Ranges: bytes\`.`;

const LogText = { "text/plain": { schema: z.string() } };

instancesApi.openapi(
  createRoute({
    method: "get",
    path: "/instances/{id}/nodes/{name}/log",
    tags,
    description: LOG_DESCRIPTION,
    request: {
      params: IdParam.extend({ name: z.string().openapi({ param: { name: "name", in: "path" } }) }),
      query: z.object({ attempt: z.coerce.number().int().min(1).optional().openapi({ param: { name: "attempt", in: "query" } }) }),
      headers: z.object({ range: z.string().optional().openapi({ param: { name: "range", in: "header" }, example: "bytes=-65536" }) }),
    },
    responses: {
      200: { content: LogText, description: "The node's log as text" },
      206: { content: LogText, description: "The requested byte range of the log (Content-Range says which, of what size)" },
      416: { description: "The range starts past the end of the log, or is malformed (Content-Range: bytes */size)" },
      ...errors,
    },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "read");
    const { id, name } = c.req.valid("param");
    const { attempt } = c.req.valid("query");
    // Logs are read from D1 and R2: the coordinator first delivers what it committed (its node runs, the lines
    // it wrote itself), so the log of a node the instance shows as finished is whole.
    const workflowId = workflowOfInstance(id);
    if (workflowId !== null) await coordinatorFor(c.env, workflowId).mirrored();
    const run = await new InstanceRepo(c.env.DB, principal.workspaceId).logAttempt(id, name, attempt);
    const log = await readLog(c.env.DB, c.env.LOGS, run, c.req.valid("header").range ?? null);
    return new Response(log.body, { status: log.status, headers: log.headers });
  },
);

const Control = z.object({ id: z.string(), status: z.enum(INSTANCE_STATUSES) });

/**
 * The coordinator of an instance the caller may operate on (the right to run in its environment). An id
 * that names its workflow is asked of that coordinator first, so an instance D1 has not mirrored yet is
 * found; other ids, and instances the coordinator has forgotten, are looked up in D1.
 */
async function operable(c: { env: Env; get: (k: "principal") => Principal }, id: string) {
  const principal = c.get("principal");
  const workflowId = workflowOfInstance(id);
  if (workflowId !== null) {
    const coordinator = coordinatorFor(c.env, workflowId);
    const live = await coordinator.instanceScope(id);
    if (live !== null) {
      if (live.workspaceId !== principal.workspaceId) throw notFound(`instance ${id}`);
      requirePermission(principal, live.env === "prod" ? "runProd" : "runDev");
      return coordinator;
    }
  }
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
    description:
      "`all`: every node; `failed` (default): failed and terminated nodes and everything downstream (a skipped instance: all of it); " +
      "`from` with `node`: that node and everything downstream, reusing the outputs of the nodes upstream (each must have succeeded, else 409).",
    request: {
      params: IdParam,
      ...body(
        z.strictObject({
          mode: z.enum(["all", "failed", "from"]).default("failed"),
          node: z.string().min(1).max(128).optional().openapi({ description: "With mode `from`: the node to rerun with everything downstream of it" }),
        }),
      ),
    },
    responses: { 200: json(Control, "Rerun: new attempts beside the old ones, same version, parameters and message"), ...errors },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { mode, node } = c.req.valid("json");
    // Checked before the coordinator is asked: a bad combination is a 400 whatever the instance's state.
    rerunRequest(mode, node);
    return c.json(Control.parse(unwrap(await (await operable(c, id)).rerun(id, mode, node))), 200);
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
  const { view } = await readInstance(c.env, principal, c.req.param("id"));
  const url = new URL(c.req.url);
  url.search = `?instance=${encodeURIComponent(view.id)}&workspace=${encodeURIComponent(principal.workspaceId)}`;
  return coordinatorFor(c.env, view.workflowId).fetch(new Request(url, c.req.raw));
});
