// Instance history in D1: listings, one instance with its node runs, and node logs.
import { and, desc, eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { notFound } from "../core/errors.ts";
import type { InstanceRow, NodeRunRow } from "./mirror.ts";
import { nodeLogs, nodeRuns } from "./schema.ts";
import { instanceSummary, instanceView } from "./views.ts";

export interface InstanceFilter {
  workflowId?: string;
  status?: string;
  env?: string;
}

export class InstanceRepo {
  private readonly db;
  private readonly d1: D1Database;
  private readonly workspaceId: string;

  constructor(d1: D1Database, workspaceId: string) {
    this.db = drizzle(d1);
    this.d1 = d1;
    this.workspaceId = workspaceId;
  }

  /** Newest first; the cursor is the last item's `createdAt|id`. */
  async list(filter: InstanceFilter, limit: number, cursor: string | null) {
    const where = ["workspace_id = ?"];
    const binds: (string | number)[] = [this.workspaceId];
    for (const [column, value] of [["workflow_id", filter.workflowId], ["status", filter.status], ["env", filter.env]] as const) {
      if (value) {
        where.push(`${column} = ?`);
        binds.push(value);
      }
    }
    const [at, id] = cursor ? cursor.split("|") : [];
    if (at && id) {
      where.push("(created_at < ? OR (created_at = ? AND id < ?))");
      binds.push(Number(at), Number(at), id);
    }
    const { results: rows } = await this.d1
      .prepare(`SELECT * FROM instances WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ?`)
      .bind(...binds, limit + 1)
      .all<InstanceRow>();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(instanceSummary), nextCursor: rows.length > limit && last ? `${last.created_at}|${last.id}` : null };
  }

  private async row(id: string): Promise<InstanceRow> {
    const row = await this.d1.prepare(`SELECT * FROM instances WHERE id = ? AND workspace_id = ?`).bind(id, this.workspaceId).first<InstanceRow>();
    if (!row) throw notFound(`instance ${id}`);
    return row;
  }

  async get(id: string) {
    const row = await this.row(id);
    const { results } = await this.d1.prepare(`SELECT * FROM node_runs WHERE instance_id = ?`).bind(id).all<NodeRunRow>();
    return instanceView(row, results);
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

