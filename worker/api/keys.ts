// API keys and runner tokens of a workspace: create (shown once), list, revoke. Admins only.
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { notFound } from "../core/errors.ts";
import { newId, newSecret } from "../core/ids.ts";
import { forgetVerifiedKeys, hashKey, requirePermission, ROLES } from "../auth/keys.ts";
import { apiKeys } from "../db/schema.ts";
import { router } from "./context.ts";
import { body, errors, IdParam, json } from "./schemas.ts";

export const keysApi = router();
const tags = ["keys"];

const KeyInfo = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  prefix: z.string(),
  resourceGroup: z.string().nullable(),
  createdAt: z.string(),
});

keysApi.openapi(
  createRoute({
    method: "post",
    path: "/keys",
    tags,
    request: body(
      z.strictObject({
        name: z.string().min(1).max(128),
        role: z.enum(ROLES),
        resourceGroup: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional().describe("runner tokens only; default 'default'"),
      }),
    ),
    responses: { 201: json(KeyInfo.extend({ key: z.string().describe("shown once; store it now") }), "Created"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "admin");
    const { name, role, resourceGroup } = c.req.valid("json");
    const key = newSecret(role === "runner" ? "rt" : "sk");
    const row = await drizzle(c.env.DB)
      .insert(apiKeys)
      .values({
        id: newId("key"),
        workspaceId: principal.workspaceId,
        name,
        role,
        keyHash: await hashKey(key),
        keyPrefix: key.slice(0, 7),
        resourceGroup: role === "runner" ? (resourceGroup ?? "default") : null,
      })
      .returning()
      .get();
    return c.json({ id: row.id, name, role, prefix: row.keyPrefix, resourceGroup: row.resourceGroup, createdAt: new Date(row.createdAt).toISOString(), key }, 201);
  },
);

keysApi.openapi(
  createRoute({ method: "get", path: "/keys", tags, responses: { 200: json(z.object({ items: z.array(KeyInfo) }), "Active keys"), ...errors } }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "admin");
    const rows = await drizzle(c.env.DB)
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.workspaceId, principal.workspaceId), isNull(apiKeys.revokedAt)))
      .all();
    const items = rows.map((r) => ({
      id: r.id,
      name: r.name,
      role: r.role as (typeof ROLES)[number],
      prefix: r.keyPrefix,
      resourceGroup: r.resourceGroup,
      createdAt: new Date(r.createdAt).toISOString(),
    }));
    return c.json({ items }, 200);
  },
);

keysApi.openapi(
  createRoute({ method: "delete", path: "/keys/{id}", tags, request: { params: IdParam }, responses: { 204: { description: "Revoked" }, ...errors } }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "admin");
    const row = await drizzle(c.env.DB)
      .update(apiKeys)
      .set({ revokedAt: Date.now() })
      .where(and(eq(apiKeys.id, c.req.valid("param").id), eq(apiKeys.workspaceId, principal.workspaceId), isNull(apiKeys.revokedAt)))
      .returning()
      .get();
    if (!row) throw notFound(`key ${c.req.valid("param").id}`);
    forgetVerifiedKeys();
    return c.body(null, 204);
  },
);
