// Workflow definitions: create, list, read, replace the draft, delete, clone (DESIGN §4, §2.8).
import { createRoute, z } from "@hono/zod-openapi";
import { newId } from "../core/ids.ts";
import { INSTANCE_STATUSES } from "../core/progress.ts";
import { parseDefinition } from "../core/validate.ts";
import { unwrap } from "../core/errors.ts";
import { requirePermission } from "../auth/keys.ts";
import { coordinatorFor } from "../coordinator/stub.ts";
import { WorkflowRepo } from "../db/workflows.ts";
import { router } from "./context.ts";
import { body, Definition, ErrorBody, errors, IdParam, json, Page, Workflow, WorkflowSummary } from "./schemas.ts";

export const workflowsApi = router();
const repo = (c: { env: Env; get: (k: "principal") => { workspaceId: string } }) => new WorkflowRepo(c.env.DB, c.get("principal").workspaceId);
const tags = ["workflows"];

const LastRun = z
  .object({
    id: z.string(),
    status: z.enum(INSTANCE_STATUSES).openapi({ example: "succeeded" }),
    env: z.enum(["dev", "prod"]).openapi({ description: "dev (the draft) or prod (a published version)", example: "prod" }),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("LastRun");

const WorkflowListItem = WorkflowSummary.extend({
  triggerId: z.string().nullable().openapi({
    description: "The trigger that starts it: the published version's `policy.triggerId`, or the draft's while it was never published; null: manual and API runs only",
  }),
  lastRun: LastRun.nullable().openapi({ description: "Its newest instance in either environment; null: never run" }),
}).openapi("WorkflowListItem");

workflowsApi.openapi(
  createRoute({ method: "post", path: "/workflows", tags, request: body(Definition), responses: { 201: json(Workflow, "Created"), ...errors } }),
  async (c) => {
    requirePermission(c.get("principal"), "edit");
    const def = parseDefinition(c.req.valid("json"));
    return c.json(await repo(c).create(newId("wf"), def), 201);
  },
);

workflowsApi.openapi(
  createRoute({
    method: "get",
    path: "/workflows",
    tags,
    request: { query: Page },
    responses: {
      200: json(z.object({ items: z.array(WorkflowListItem), nextCursor: z.string().nullable() }), "Most recently updated first, each with its trigger and last run"),
      ...errors,
    },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "read");
    const { limit, cursor } = c.req.valid("query");
    return c.json(await repo(c).list(limit, cursor ?? null), 200);
  },
);

workflowsApi.openapi(
  createRoute({ method: "get", path: "/workflows/{id}", tags, request: { params: IdParam }, responses: { 200: json(Workflow, "The workflow with its draft"), ...errors } }),
  async (c) => {
    requirePermission(c.get("principal"), "read");
    return c.json(await repo(c).get(c.req.valid("param").id), 200);
  },
);

workflowsApi.openapi(
  createRoute({
    method: "put",
    path: "/workflows/{id}",
    tags,
    request: { params: IdParam, ...body(Definition) },
    responses: { 200: json(Workflow, "The draft was replaced"), ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "edit");
    const def = parseDefinition(c.req.valid("json"));
    return c.json(await repo(c).replaceDraft(c.req.valid("param").id, def), 200);
  },
);

workflowsApi.openapi(
  createRoute({
    method: "delete",
    path: "/workflows/{id}",
    tags,
    request: {
      params: IdParam,
      query: z.object({
        terminate: z
          .enum(["true", "false"])
          .optional()
          .openapi({
            param: { name: "terminate", in: "query" },
            description: "true: terminate the workflow's waiting and running instances and delete it (needs the right to run in prod as well)",
          }),
      }),
    },
    responses: {
      204: { description: "Deleted: its coordinator starts nothing more and writes nothing more; instance history stays" },
      ...errors,
      409: json(ErrorBody, "Instances are waiting or running (the message says how many): wait, or delete with ?terminate=true"),
    },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "edit");
    const terminate = c.req.valid("query").terminate === "true";
    if (terminate) requirePermission(principal, "runProd");
    const { id } = c.req.valid("param");
    await repo(c).get(id);
    // The coordinator first: it refuses while instances are unfinished, and once it agrees it starts nothing
    // more, so no run of the workflow can begin between this check and the D1 delete.
    unwrap(await coordinatorFor(c.env, id).retire(terminate));
    await repo(c).delete(id);
    return c.body(null, 204);
  },
);

workflowsApi.openapi(
  createRoute({
    method: "post",
    path: "/workflows/{id}/clone",
    tags,
    request: { params: IdParam, ...body(z.strictObject({ name: z.string().min(1).max(128) })) },
    responses: { 201: json(Workflow, "The copy, as a new unpublished workflow"), ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "edit");
    const source = await repo(c).get(c.req.valid("param").id);
    const def = parseDefinition({ ...source.definition, name: c.req.valid("json").name });
    return c.json(await repo(c).create(newId("wf"), def), 201);
  },
);
