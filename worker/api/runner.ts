// The runner protocol: register, claim node runs, heartbeat leases, stream logs, report results (and get the next tasks).
import { createRoute, z } from "@hono/zod-openapi";
import { leaseLost, badRequest, notFound, runnerNotRegistered } from "../core/errors.ts";
import { ClaimSchema, HeartbeatSchema, LeaseHeadersSchema, MAX_LOG_CHUNK_BYTES, RegisterSchema, ResultSchema } from "../core/runner-protocol.ts";
import type { Refusal, RunnerCaller } from "../pool/resource-pool.ts";
import { requirePermission, type Principal } from "../auth/keys.ts";
import { coordinatorFor, poolFor } from "../coordinator/stub.ts";
import { insertLog, type Statement } from "../db/mirror.ts";
import { archiveById } from "../db/log-store.ts";
import { router, type AppEnv } from "./context.ts";
import { RunnerTask } from "./response-schemas.ts";
import { body, errors, json } from "./schemas.ts";
import type { Context } from "hono";

export const runnerApi = router();
const tags = ["runner"];

/** The runner token's own pool: its group inside its workspace (a token never reaches another workspace's). */
function pool(c: Context<AppEnv>) {
  const principal: Principal = c.get("principal");
  requirePermission(principal, "runner");
  return poolFor(c.env, principal.workspaceId, group(principal));
}

const group = (principal: Principal) => principal.resourceGroup ?? "default";

/** The caller as the pool checks it: the token (key id, workspace, group) and the runner id the pool issued. */
function caller(c: Context<AppEnv>, runnerId: string): RunnerCaller {
  const principal = c.get("principal");
  return { keyId: principal.keyId, workspaceId: principal.workspaceId, group: group(principal), runnerId };
}

function refuse(refusal: Refusal, attemptId: string, runner: string): never {
  if (refusal.refused === "not_registered") throw runnerNotRegistered(runner);
  if (refusal.refused === "unknown_attempt") throw notFound(`attempt ${attemptId} in this runner's resource group`);
  throw leaseLost(attemptId);
}

const Attempt = z.object({ attemptId: z.string().openapi({ param: { name: "attemptId", in: "path" } }) });
const LogQuery = z.object({
  seq: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .openapi({ param: { name: "seq", in: "query" }, description: "The chunk's number within the attempt (0, 1, …): a retried chunk is stored once" }),
});

const TRUNCATED = "\n[sluice] log truncated: the rest of this node run's output was dropped (5 MiB limit)\n";

/** Runs one statement; how many rows it changed. */
async function run(db: D1Database, s: Statement): Promise<number> {
  return (await db.prepare(s.sql).bind(...s.params).run()).meta.changes;
}

runnerApi.openapi(
  createRoute({
    method: "post",
    path: "/runner/register",
    tags,
    request: body(RegisterSchema),
    responses: {
      201: json(
        z.object({ runnerId: z.string(), resourceGroup: z.string() }),
        "The runner's id, issued by its pool and bound to this token: every claim, heartbeat, log and result carries it",
      ),
      ...errors,
    },
  }),
  async (c) => {
    const { name, slots } = c.req.valid("json");
    const principal = c.get("principal");
    const runner = await pool(c).register(principal.keyId, name, slots);
    return c.json({ runnerId: runner, resourceGroup: group(principal) }, 201);
  },
);

runnerApi.openapi(
  createRoute({
    method: "post",
    path: "/runner/claim",
    tags,
    request: body(ClaimSchema),
    responses: { 200: json(z.object({ tasks: z.array(RunnerTask) }), "Leased tasks (held up to waitMs when none is ready)"), ...errors },
  }),
  async (c) => {
    const { runnerId, name, slots, waitMs } = c.req.valid("json");
    const claimed = await pool(c).claim(caller(c, runnerId), name, slots, waitMs);
    if (!claimed.registered) throw runnerNotRegistered(runnerId);
    return c.json({ tasks: claimed.tasks }, 200);
  },
);

runnerApi.openapi(
  createRoute({
    method: "post",
    path: "/runner/heartbeat",
    tags,
    request: body(HeartbeatSchema),
    responses: {
      200: json(
        z.object({ cancel: z.array(z.string()) }),
        "Attempts the runner must kill now (stopped, or whose lease is stale or unknown); every other lease sent was renewed",
      ),
      ...errors,
    },
  }),
  async (c) => {
    const { runnerId, name, slots, leases } = c.req.valid("json");
    const cancel = await pool(c).heartbeat(caller(c, runnerId), name, slots, leases);
    if (cancel === null) throw runnerNotRegistered(runnerId);
    return c.json({ cancel }, 200);
  },
);

runnerApi.openapi(
  createRoute({
    method: "post",
    path: "/runner/attempts/{attemptId}/log",
    tags,
    request: { params: Attempt, query: LogQuery, headers: LeaseHeadersSchema, body: { content: { "text/plain": { schema: z.string() } }, required: true } },
    responses: { 204: { description: "Stored (or already stored: a chunk posted again with its seq is kept once)" }, ...errors },
  }),
  async (c) => {
    const { attemptId } = c.req.valid("param");
    const { seq = null } = c.req.valid("query");
    const text = await c.req.text();
    const bytes = new TextEncoder().encode(text).byteLength;
    if (bytes > MAX_LOG_CHUNK_BYTES) throw badRequest(`a log chunk is at most ${MAX_LOG_CHUNK_BYTES} bytes`);
    const { "x-sluice-runner": runner, "x-sluice-lease": leaseId } = c.req.valid("header");
    const verdict = await pool(c).acceptLog(attemptId, caller(c, runner), leaseId, bytes);
    if (verdict.refused !== null) refuse(verdict, attemptId, runner);
    if (verdict.keep > 0 || verdict.truncatedNow) {
      let kept = verdict.keep === bytes ? text : new TextDecoder().decode(new TextEncoder().encode(text).slice(0, verdict.keep));
      if (verdict.truncatedNow) kept += TRUNCATED;
      const stored = await run(c.env.DB, insertLog(attemptId, kept, seq));
      // A repeat of a stored chunk: nothing new to show. (The pool counted its bytes again, which can only bring
      // the 5 MiB cut forward; if it did so now, the note still lands.)
      if (stored === 0) {
        if (verdict.truncatedNow) await run(c.env.DB, insertLog(attemptId, TRUNCATED.trimStart()));
        return c.body(null, 204);
      }
      // Live followers, if any, get the chunk too; best effort, the log itself is already stored. Nobody
      // watching (the pool knows): no call to the coordinator.
      if (verdict.watched) {
        c.executionCtx.waitUntil(
          coordinatorFor(c.env, verdict.workflowId).logAppended(verdict.instanceId, verdict.nodeName, verdict.attempt, kept).catch(() => {}),
        );
      }
    }
    return c.body(null, 204);
  },
);

/**
 * A runner's attempt has its result (the coordinator took it), and the runner sent every chunk before it: its
 * log goes to R2 in the background, off the answer's path. Anything missed — a failure, a node run D1 has not
 * mirrored yet, a note the coordinator writes after — is the cron's sweep's (db/log-store.ts archiveFinishedLogs).
 */
async function archiveAfterResult(env: Env, attemptId: string): Promise<void> {
  try {
    await archiveById(env.DB, env.LOGS, attemptId);
  } catch (err) {
    console.error(`sluice logs: the log of ${attemptId} was not archived after its result (the sweep will): ${err instanceof Error ? err.message : String(err)}`);
  }
}

runnerApi.openapi(
  createRoute({
    method: "post",
    path: "/runner/attempts/{attemptId}/complete",
    tags,
    request: { params: Attempt, headers: LeaseHeadersSchema, ...body(ResultSchema) },
    responses: {
      200: json(
        z.object({ ok: z.literal(true), tasks: z.array(RunnerTask) }),
        "Accepted; `tasks` are the runner's next tasks, up to `freeSlots`, leased in this call",
      ),
      ...errors,
    },
  }),
  async (c) => {
    const { attemptId } = c.req.valid("param");
    const { "x-sluice-runner": runner, "x-sluice-lease": leaseId } = c.req.valid("header");
    const { freeSlots, ...completion } = c.req.valid("json");
    const answer = await pool(c).complete(attemptId, caller(c, runner), leaseId, completion, freeSlots);
    if (answer.refused !== null) refuse(answer, attemptId, runner);
    c.executionCtx.waitUntil(archiveAfterResult(c.env, attemptId));
    return c.json({ ok: true as const, tasks: answer.tasks }, 200);
  },
);
