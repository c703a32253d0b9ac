// Instance history in D1: listings, one instance with its node runs, and the attempt a node's log belongs to.
import { notFound } from "../core/errors.ts";
import type { InstanceRow, NodeRunRow } from "./mirror.ts";
import type { LogAttempt } from "./log-store.ts";
import { instanceSummary, instanceView } from "./views.ts";

export interface InstanceFilter {
  workflowId?: string;
  status?: string;
  env?: string;
}

export class InstanceRepo {
  private readonly d1: D1Database;
  private readonly workspaceId: string;

  constructor(d1: D1Database, workspaceId: string) {
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

  /** One attempt of a node, to read its log (the latest when `attempt` is absent). */
  async logAttempt(id: string, nodeName: string, attempt: number | undefined): Promise<LogAttempt> {
    await this.row(id);
    const { results: runs } = await this.d1
      .prepare(`SELECT id, ? AS workspace_id, instance_id, node_name, attempt, status FROM node_runs WHERE instance_id = ? AND node_name = ? ORDER BY attempt DESC`)
      .bind(this.workspaceId, id, nodeName)
      .all<LogAttempt>();
    const run = attempt === undefined ? runs[0] : runs.find((r) => r.attempt === attempt);
    if (!run) throw notFound(attempt === undefined ? `node '${nodeName}' of instance ${id}` : `attempt ${attempt} of node '${nodeName}'`);
    return run;
  }
}
