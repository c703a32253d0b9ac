// Workspaces (created by the installation's bootstrap admin, each with its first admin key), their source grants, and the audit log.
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { badRequest, forbidden, notFound } from "../core/errors.ts";
import { newId, newSecret } from "../core/ids.ts";
import { normalizeGrants, unknownSources } from "../core/tenancy.ts";
import { grantsOf, replaceGrants } from "../db/sources.ts";
import { installedSources } from "../ingest/sources.ts";
import { BOOTSTRAP_KEY_ID, hashKey, requirePermission } from "../auth/keys.ts";
import { apiKeys, auditEvents, workspaces } from "../db/schema.ts";
import { router } from "./context.ts";
import { body, errors, IdParam, json } from "./schemas.ts";
import type { Context } from "hono";
import type { AppEnv } from "./context.ts";

export const workspacesApi = router();

const Workspace = z.object({ id: z.string(), name: z.string(), createdAt: z.string() });

workspacesApi.openapi(
  createRoute({
    method: "post",
    path: "/workspaces",
    tags: ["workspaces"],
    request: body(z.strictObject({ name: z.string().min(1).max(128) })),
    responses: { 201: json(Workspace.extend({ adminKey: z.string().describe("the workspace's first admin key; shown once") }), "Created"), ...errors },
  }),
  async (c) => {
    if (c.get("principal").keyId !== BOOTSTRAP_KEY_ID) throw forbidden("only the installation's bootstrap admin key creates workspaces");
    const db = drizzle(c.env.DB);
    const id = newId("ws");
    const adminKey = newSecret("sk");
    const { name } = c.req.valid("json");
    // One batch: a workspace never exists without its admin key.
    await db.batch([
      db.insert(workspaces).values({ id, name }),
      db.insert(apiKeys).values({ id: newId("key"), workspaceId: id, name: `${name} admin`, role: "admin", keyHash: await hashKey(adminKey), keyPrefix: adminKey.slice(0, 7) }),
    ]);
    return c.json({ id, name, createdAt: new Date().toISOString(), adminKey }, 201);
  },
);

workspacesApi.openapi(
  createRoute({ method: "get", path: "/workspaces", tags: ["workspaces"], responses: { 200: json(z.object({ items: z.array(Workspace) }), "All workspaces"), ...errors } }),
  async (c) => {
    if (c.get("principal").keyId !== BOOTSTRAP_KEY_ID) throw forbidden("only the installation's bootstrap admin key lists workspaces");
    const rows = await drizzle(c.env.DB).select().from(workspaces).all();
    return c.json({ items: rows.map((w) => ({ id: w.id, name: w.name, createdAt: new Date(w.createdAt).toISOString() })) }, 200);
  },
);

const SourceName = z.string().min(1).max(128);
const Sources = z
  .strictObject({
    buckets: z.array(SourceName).max(100).openapi({ description: "R2 buckets of this installation the workspace may trigger on and upload to" }),
    queues: z.array(SourceName).max(100).openapi({ description: "Queues of this installation the workspace may trigger on and send to" }),
  })
  .openapi("WorkspaceSources");

/** Source grants are the installation's to give: only its bootstrap admin key reads or changes them. */
async function grantedWorkspace(c: Context<AppEnv>, id: string): Promise<void> {
  if (c.get("principal").keyId !== BOOTSTRAP_KEY_ID) throw forbidden("only the installation's bootstrap admin key manages a workspace's sources");
  const found = await drizzle(c.env.DB).select({ id: workspaces.id }).from(workspaces).where(eq(workspaces.id, id)).get();
  if (!found) throw notFound(`workspace ${id}`);
}

workspacesApi.openapi(
  createRoute({
    method: "get",
    path: "/workspaces/{id}/sources",
    tags: ["workspaces"],
    request: { params: IdParam },
    responses: { 200: json(Sources, "The buckets and queues the workspace holds"), ...errors },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await grantedWorkspace(c, id);
    return c.json(await grantsOf(c.env.DB, id), 200);
  },
);

workspacesApi.openapi(
  createRoute({
    method: "put",
    path: "/workspaces/{id}/sources",
    tags: ["workspaces"],
    description:
      "Replaces the workspace's grants. A source left out is revoked: the workspace can no longer trigger on, upload or send to it, and " +
      "its triggers on it stop receiving (each event is logged for them as `not_granted`, without its message).",
    request: { params: IdParam, ...body(Sources) },
    responses: { 200: json(Sources, "The grants now held"), ...errors },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    await grantedWorkspace(c, id);
    const requested = c.req.valid("json");
    const details = unknownSources(requested, installedSources());
    if (details.length > 0) throw badRequest(details.map((d) => d.message).join("; "), details);
    const grants = normalizeGrants(requested);
    await replaceGrants(c.env.DB, id, grants);
    return c.json(grants, 200);
  },
);

const AuditEvent = z
  .object({
    id: z.number(),
    at: z.string().openapi({ format: "date-time" }),
    actorKeyId: z.string(),
    actorRole: z.string(),
    action: z.string().openapi({ example: "POST /api/v1/workflows/:id/publish" }),
    target: z.record(z.string(), z.unknown()).openapi({
      description: "What the request acted on: its path parameters (strings); for a bulk action, its filter, counts and the ids it acted on",
    }),
    status: z.number(),
  })
  .openapi("AuditEvent");

workspacesApi.openapi(
  createRoute({
    method: "get",
    path: "/audit",
    tags: ["workspaces"],
    request: {
      query: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(100).openapi({ param: { name: "limit", in: "query" } }),
        before: z.coerce.number().int().optional().openapi({ param: { name: "before", in: "query" }, description: "an event id: older events only" }),
      }),
    },
    responses: { 200: json(z.object({ items: z.array(AuditEvent) }), "Newest first"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "admin");
    const { limit, before } = c.req.valid("query");
    const where = before === undefined ? eq(auditEvents.workspaceId, principal.workspaceId) : and(eq(auditEvents.workspaceId, principal.workspaceId), lt(auditEvents.id, before));
    const rows = await drizzle(c.env.DB).select().from(auditEvents).where(where).orderBy(desc(auditEvents.id)).limit(limit).all();
    const items = rows.map((r) => ({ id: r.id, at: new Date(r.at).toISOString(), actorKeyId: r.actorKeyId, actorRole: r.actorRole, action: r.action, target: JSON.parse(r.target) as Record<string, unknown>, status: r.status }));
    return c.json({ items }, 200);
  },
);
