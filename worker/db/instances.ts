// Instance history in D1: listings, one instance with its node runs, and node logs.
import { and, desc, eq, inArray, lt, or, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { notFound } from "../core/errors.ts";
import { instances, nodeLogs, nodeRuns } from "./schema.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

type InstanceRow = typeof instances.$inferSelect;

const summary = (r: InstanceRow) => ({
  id: r.id,
  workflowId: r.workflowId,
  workflowName: r.workflowName,
  version: r.version,
  env: r.env,
  status: r.status,
  priority: r.priority,
  runDate: r.runDate,
  triggerType: r.triggerType,
  createdAt: iso(r.createdAt)!,
  startedAt: iso(r.startedAt),
  finishedAt: iso(r.finishedAt),
});

export interface InstanceFilter {
  workflowId?: string;
  status?: string;
  env?: string;
}

export class InstanceRepo {
  private readonly db;
  private readonly workspaceId: string;

  constructor(d1: D1Database, workspaceId: string) {
    this.db = drizzle(d1);
    this.workspaceId = workspaceId;
  }

  /** Newest first; the cursor is the last item's `createdAt|id`. */
  async list(filter: InstanceFilter, limit: number, cursor: string | null) {
    const conditions: SQL[] = [eq(instances.workspaceId, this.workspaceId)];
    if (filter.workflowId) conditions.push(eq(instances.workflowId, filter.workflowId));
    if (filter.status) conditions.push(eq(instances.status, filter.status));
    if (filter.env) conditions.push(eq(instances.env, filter.env));
    const [at, id] = cursor ? cursor.split("|") : [];
    if (at && id) {
      conditions.push(or(lt(instances.createdAt, Number(at)), and(eq(instances.createdAt, Number(at)), lt(instances.id, id)))!);
    }
    const rows = await this.db
      .select()
      .from(instances)
      .where(and(...conditions))
      .orderBy(desc(instances.createdAt), desc(instances.id))
      .limit(limit + 1)
      .all();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(summary), nextCursor: rows.length > limit && last ? `${last.createdAt}|${last.id}` : null };
  }

  private async row(id: string): Promise<InstanceRow> {
    const row = await this.db.select().from(instances).where(and(eq(instances.id, id), eq(instances.workspaceId, this.workspaceId))).get();
    if (!row) throw notFound(`instance ${id}`);
    return row;
  }

  async get(id: string) {
    const row = await this.row(id);
    const runs = await this.db.select().from(nodeRuns).where(eq(nodeRuns.instanceId, id)).orderBy(nodeRuns.nodeName, nodeRuns.attempt).all();
    // The latest attempt of each node is its current state; older attempts stay as history.
    const latest = new Map<string, (typeof runs)[number]>();
    for (const r of runs) latest.set(r.nodeName, r);
    return {
      ...summary(row),
      triggerMessage: JSON.parse(row.triggerMessage) as unknown,
      params: JSON.parse(row.params) as Record<string, string>,
      nodes: [...latest.values()].map((r) => ({
        name: r.nodeName,
        type: r.nodeType,
        status: r.status,
        attempt: r.attempt,
        queuedAt: iso(r.queuedAt),
        startedAt: iso(r.startedAt),
        finishedAt: iso(r.finishedAt),
        exitCode: r.exitCode,
        error: r.error,
        outputs: r.outputs ? (JSON.parse(r.outputs) as Record<string, string>) : {},
      })),
    };
  }

  /** The log of one attempt (the latest when `attempt` is absent). */
  async log(id: string, nodeName: string, attempt: number | undefined): Promise<string> {
    await this.row(id);
    const runs = await this.db
      .select({ id: nodeRuns.id, attempt: nodeRuns.attempt })
      .from(nodeRuns)
      .where(and(eq(nodeRuns.instanceId, id), eq(nodeRuns.nodeName, nodeName)))
      .orderBy(desc(nodeRuns.attempt))
      .all();
    const run = attempt === undefined ? runs[0] : runs.find((r) => r.attempt === attempt);
    if (!run) throw notFound(attempt === undefined ? `node '${nodeName}' of instance ${id}` : `attempt ${attempt} of node '${nodeName}'`);
    const chunks = await this.db.select({ text: nodeLogs.text }).from(nodeLogs).where(inArray(nodeLogs.nodeRunId, [run.id])).orderBy(nodeLogs.id).all();
    return chunks.map((c) => c.text).join("");
  }
}
