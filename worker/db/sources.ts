// Source grants in D1: which buckets and queues each workspace holds (DESIGN §2.7).
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { forbidden } from "../core/errors.ts";
import { notGrantedReason, type SourceGrants, type SourceKind } from "../core/tenancy.ts";
import { workspaceSources } from "./schema.ts";

export async function grantsOf(d1: D1Database, workspaceId: string): Promise<SourceGrants> {
  const rows = await drizzle(d1).select().from(workspaceSources).where(eq(workspaceSources.workspaceId, workspaceId)).all();
  const names = (kind: SourceKind) => rows.filter((r) => r.kind === kind).map((r) => r.name).sort();
  return { buckets: names("bucket"), queues: names("queue") };
}

/** Replaces the workspace's grants in one batch: never half-saved. */
export async function replaceGrants(d1: D1Database, workspaceId: string, grants: SourceGrants): Promise<void> {
  const db = drizzle(d1);
  const rows = [
    ...grants.buckets.map((name) => ({ workspaceId, kind: "bucket", name })),
    ...grants.queues.map((name) => ({ workspaceId, kind: "queue", name })),
  ];
  const remove = db.delete(workspaceSources).where(eq(workspaceSources.workspaceId, workspaceId));
  if (rows.length === 0) await db.batch([remove]);
  else await db.batch([remove, db.insert(workspaceSources).values(rows)]);
}

/** Throws 403, naming the source, unless the workspace holds it. */
export async function requireGrant(d1: D1Database, workspaceId: string, kind: SourceKind, name: string): Promise<void> {
  const row = await drizzle(d1)
    .select({ name: workspaceSources.name })
    .from(workspaceSources)
    .where(and(eq(workspaceSources.workspaceId, workspaceId), eq(workspaceSources.kind, kind), eq(workspaceSources.name, name)))
    .get();
  const reason = notGrantedReason({ buckets: row && kind === "bucket" ? [name] : [], queues: row && kind === "queue" ? [name] : [] }, kind, name);
  if (reason) throw forbidden(reason);
}
