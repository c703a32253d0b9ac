// Storage stats of the workspace: each workflow coordinator's and resource pool's SQLite size and rows, and D1's size.
import { createRoute, z } from "@hono/zod-openapi";
import { requirePermission } from "../auth/keys.ts";
import { coordinatorFor, poolFor } from "../coordinator/stub.ts";
import { d1Size, workflowGroups } from "../db/stats.ts";
import { router } from "./context.ts";
import { errors, json } from "./schemas.ts";

export const statsApi = router();

/** Coordinators asked per request at most (one per workflow, by name). */
const MAX_WORKFLOWS = 200;
const DEFAULT_GROUP = "default";

const bytes = z.number().int().min(0).openapi({ description: "SQLite size in bytes (ctx.storage.sql.databaseSize)" });
const count = z.number().int().min(0);

const CoordinatorStats = z
  .object({
    workflowId: z.string(),
    name: z.string(),
    databaseSize: bytes,
    liveInstances: count,
    nodeRuns: count,
    timers: count,
    outboxRows: count,
    definitions: count,
    dedupKeys: count,
  })
  .openapi("CoordinatorStats");

const PoolStats = z
  .object({ resourceGroup: z.string(), databaseSize: bytes, ready: count, leased: count, runners: count, finished: count })
  .openapi("PoolStats");

const Stats = z
  .object({
    coordinators: z.array(CoordinatorStats),
    pools: z.array(PoolStats),
    d1: z.object({ size: z.number().int().nullable().openapi({ description: "D1's size in bytes (meta.size_after); null where D1 does not report it" }) }),
    /** Set when the workspace has more workflows than one request asks. */
    truncated: z.boolean(),
  })
  .openapi("Stats");

statsApi.openapi(
  createRoute({
    method: "get",
    path: "/stats",
    tags: ["ops"],
    responses: { 200: json(Stats, "Each coordinator's and pool's storage: what the live state costs"), ...errors },
  }),
  async (c) => {
    const principal = c.get("principal");
    requirePermission(principal, "admin");
    const { workspaceId } = principal;
    const workflows = await workflowGroups(c.env.DB, workspaceId, MAX_WORKFLOWS + 1);
    const asked = workflows.slice(0, MAX_WORKFLOWS);
    const groups = [...new Set([DEFAULT_GROUP, ...asked.flatMap((w) => [w.draftGroup ?? DEFAULT_GROUP, w.publishedGroup ?? DEFAULT_GROUP])])].sort();
    const [coordinators, pools, size] = await Promise.all([
      Promise.all(asked.map(async (w) => ({ workflowId: w.id, name: w.name, ...(await coordinatorFor(c.env, w.id).stats()) }))),
      Promise.all(groups.map(async (resourceGroup) => ({ resourceGroup, ...(await poolFor(c.env, workspaceId, resourceGroup).stats()) }))),
      d1Size(c.env.DB),
    ]);
    return c.json(Stats.parse({ coordinators, pools, d1: { size }, truncated: workflows.length > MAX_WORKFLOWS }), 200);
  },
);
