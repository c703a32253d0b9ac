// Publishing and versions: publish, list, read, compare, revert (DESIGN §2.8).
import { createRoute, z } from "@hono/zod-openapi";
import { downwardWeights } from "../core/dag.ts";
import { compareDefinitions } from "../core/versions.ts";
import { parseDefinition } from "../core/validate.ts";
import { requirePermission } from "../auth/keys.ts";
import { WorkflowRepo } from "../db/workflows.ts";
import { router } from "./context.ts";
import { Comparison } from "./response-schemas.ts";
import { body, Definition, ErrorBody, errors, IdParam, json, Workflow } from "./schemas.ts";

export const versionsApi = router();
const tags = ["versions"];
const VersionParam = IdParam.extend({ n: z.coerce.number().int().min(1).openapi({ param: { name: "n", in: "path" } }) });
const Version = z
  .object({
    version: z.number().int(),
    message: z.string(),
    createdAt: z.string(),
    definition: Definition,
    weights: z.record(z.string(), z.number()),
  })
  .openapi("WorkflowVersion");

versionsApi.openapi(
  createRoute({
    method: "post",
    path: "/workflows/{id}/publish",
    tags,
    request: { params: IdParam, body: { content: { "application/json": { schema: z.strictObject({ message: z.string().max(1000).optional() }) } } } },
    responses: {
      200: json(z.object({ version: z.number().int() }), "The draft is now version N and what prod runs"),
      ...errors,
      409: json(ErrorBody, "The draft was saved again while it was being published: nothing was published"),
    },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "edit");
    const repo = new WorkflowRepo(c.env.DB, c.get("principal").workspaceId);
    const { id } = c.req.valid("param");
    // Re-validate: rules may have tightened since the draft was saved. What is frozen is exactly this
    // revision of the draft: a save in between makes publish answer 409 (WorkflowRepo.publish).
    const draft = await repo.get(id);
    const def = parseDefinition(draft.definition);
    const version = await repo.publish(id, def, draft.draftRevision, downwardWeights(def), c.req.valid("json").message ?? "");
    return c.json({ version }, 200);
  },
);

versionsApi.openapi(
  createRoute({
    method: "get",
    path: "/workflows/{id}/versions",
    tags,
    request: { params: IdParam },
    responses: { 200: json(z.object({ items: z.array(z.object({ version: z.number(), message: z.string(), createdAt: z.string() })) }), "Newest first"), ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "read");
    const repo = new WorkflowRepo(c.env.DB, c.get("principal").workspaceId);
    return c.json({ items: await repo.versions(c.req.valid("param").id) }, 200);
  },
);

versionsApi.openapi(
  createRoute({ method: "get", path: "/workflows/{id}/versions/{n}", tags, request: { params: VersionParam }, responses: { 200: json(Version, "One version"), ...errors } }),
  async (c) => {
    requirePermission(c.get("principal"), "read");
    const { id, n } = c.req.valid("param");
    return c.json(await new WorkflowRepo(c.env.DB, c.get("principal").workspaceId).version(id, n), 200);
  },
);

versionsApi.openapi(
  createRoute({
    method: "get",
    path: "/workflows/{id}/versions/{a}/compare/{b}",
    tags,
    request: {
      params: IdParam.extend({
        a: z.coerce.number().int().min(1).openapi({ param: { name: "a", in: "path" } }),
        b: z.coerce.number().int().min(1).openapi({ param: { name: "b", in: "path" } }),
      }),
    },
    responses: { 200: json(Comparison, "Structured diff of the definitions and line diffs of node code"), ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "read");
    const { id, a, b } = c.req.valid("param");
    const repo = new WorkflowRepo(c.env.DB, c.get("principal").workspaceId);
    const [va, vb] = await Promise.all([repo.version(id, a), repo.version(id, b)]);
    return c.json({ from: a, to: b, ...compareDefinitions(va.definition, vb.definition) }, 200);
  },
);

versionsApi.openapi(
  createRoute({
    method: "post",
    path: "/workflows/{id}/versions/{n}/revert",
    tags,
    request: { params: VersionParam },
    responses: { 200: json(Workflow, "The draft is now a copy of version n; publishing it makes a new version"), ...errors },
  }),
  async (c) => {
    requirePermission(c.get("principal"), "edit");
    const { id, n } = c.req.valid("param");
    const repo = new WorkflowRepo(c.env.DB, c.get("principal").workspaceId);
    const version = await repo.version(id, n);
    return c.json(await repo.replaceDraft(id, parseDefinition(version.definition)), 200);
  },
);
