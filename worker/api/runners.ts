// Runners of one of the workspace's resource groups: their slots, last heartbeat and what they run now.
import { createRoute, z } from "@hono/zod-openapi";
import { requirePermission } from "../auth/keys.ts";
import { poolFor } from "../coordinator/stub.ts";
import { router } from "./context.ts";
import { errors, json } from "./schemas.ts";

export const runnersApi = router();

const Runner = z.object({ id: z.string(), name: z.string(), slots: z.number(), lastSeen: z.string(), running: z.number(), connected: z.boolean() });

/** A runner that has not been heard from for this long is shown as disconnected. */
const CONNECTED_WITHIN_MS = 30_000;

runnersApi.openapi(
  createRoute({
    method: "get",
    path: "/runners",
    tags: ["runners"],
    request: { query: z.object({ resourceGroup: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default("default").openapi({ param: { name: "resourceGroup", in: "query" } }) }) },
    responses: { 200: json(z.object({ items: z.array(Runner) }), "Runners registered in the workspace's resource group"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "read");
    const now = Date.now();
    // The group is the caller's workspace's: another workspace's group of the same name is another pool.
    const runners = await poolFor(c.env, principal.workspaceId, c.req.valid("query").resourceGroup).runners();
    const items = runners.map((r) => ({ ...r, lastSeen: new Date(r.lastSeen).toISOString(), connected: now - r.lastSeen < CONNECTED_WITHIN_MS }));
    return c.json({ items }, 200);
  },
);
