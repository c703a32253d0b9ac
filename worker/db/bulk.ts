// The D1 side of bulk actions: instances of one workspace matching a checked filter, counted, oldest first.
import type { BulkMatch } from "../core/bulk.ts";

export interface MatchedInstance {
  id: string;
  workflowId: string;
  env: "dev" | "prod";
}

/**
 * How many instances of the workspace match, and the first `limit` of them, oldest first. Always within the
 * caller's workspace: another workspace's instances never match. The read follows the coordinators' D1 mirror.
 */
export async function matchInstances(d1: D1Database, workspaceId: string, match: BulkMatch, limit: number): Promise<{ matched: number; instances: MatchedInstance[] }> {
  const where = ["workspace_id = ?", `status IN (${match.statuses.map(() => "?").join(", ")})`];
  const binds: (string | number)[] = [workspaceId, ...match.statuses];
  for (const [column, value] of [["workflow_id", match.workflowId], ["env", match.env], ["trigger_type", match.triggerType]] as const) {
    if (value !== undefined) {
      where.push(`${column} = ?`);
      binds.push(value);
    }
  }
  if (match.createdAfter !== undefined) {
    where.push("created_at >= ?");
    binds.push(match.createdAfter);
  }
  if (match.createdBefore !== undefined) {
    where.push("created_at < ?");
    binds.push(match.createdBefore);
  }
  const clause = where.join(" AND ");
  const [count, page] = await d1.batch<{ n: number } | { id: string; workflow_id: string; env: "dev" | "prod" }>([
    d1.prepare(`SELECT COUNT(*) AS n FROM instances WHERE ${clause}`).bind(...binds),
    d1.prepare(`SELECT id, workflow_id, env FROM instances WHERE ${clause} ORDER BY created_at, id LIMIT ?`).bind(...binds, limit),
  ]);
  const matched = (count!.results[0] as { n: number }).n;
  const rows = page!.results as { id: string; workflow_id: string; env: "dev" | "prod" }[];
  return { matched, instances: rows.map((r) => ({ id: r.id, workflowId: r.workflow_id, env: r.env })) };
}
