// The audit middleware: every successful change made through the API is recorded with who made it.
import { drizzle } from "drizzle-orm/d1";
import type { Context, Next } from "hono";
import { auditEvents } from "../db/schema.ts";
import type { Principal } from "./keys.ts";

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** The runner protocol is machine traffic, recorded in instances and logs instead. */
const UNAUDITED = /^\/api\/v1\/runner\//;

export async function audit(c: Context<{ Bindings: Env; Variables: { principal: Principal; auditWritten?: boolean } }>, next: Next): Promise<void> {
  await next();
  if (!CHANGES.has(c.req.method) || c.res.status >= 400 || UNAUDITED.test(c.req.path) || c.get("auditWritten")) return;
  const principal = c.get("principal");
  if (!principal) return;
  // Awaited: a change whose record could not be written is reported as failed (500), not silently unaudited.
  await drizzle(c.env.DB)
    .insert(auditEvents)
    .values({
      workspaceId: principal.workspaceId,
      at: Date.now(),
      actorKeyId: principal.keyId,
      actorRole: principal.role,
      action: `${c.req.method} ${c.req.routePath}`,
      target: JSON.stringify(c.req.param()),
      status: c.res.status,
    });
}
