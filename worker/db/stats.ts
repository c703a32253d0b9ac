// What the stats endpoint reads from D1: the workspace's workflows with the resource groups they run in, and D1's size.

export interface WorkflowGroups {
  id: string;
  name: string;
  /** The draft's and the published version's policy.resourceGroup (null: the default group, or none published). */
  draftGroup: string | null;
  publishedGroup: string | null;
}

/** The workspace's workflows by name, at most `limit`. */
export async function workflowGroups(d1: D1Database, workspaceId: string, limit: number): Promise<WorkflowGroups[]> {
  const { results } = await d1
    .prepare(
      `SELECT w.id, w.name, json_extract(w.draft, '$.policy.resourceGroup') AS draftGroup,
         json_extract(v.definition, '$.policy.resourceGroup') AS publishedGroup
       FROM workflows w LEFT JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.published_version
       WHERE w.workspace_id = ? ORDER BY w.name LIMIT ?`,
    )
    .bind(workspaceId, limit)
    .all<WorkflowGroups>();
  return results;
}

/** The database's size in bytes as D1 reports it with a query's result (null where it does not). */
export async function d1Size(d1: D1Database): Promise<number | null> {
  const { meta } = await d1.prepare(`SELECT 1`).run();
  return typeof meta.size_after === "number" ? meta.size_after : null;
}
