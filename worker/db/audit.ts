// The audit row as a D1 statement, for writers that batch it with other rows (a run's coordinator mirror).
import type { Statement } from "./mirror.ts";

/** One row of audit_events (see schema.ts): who changed what through the API, and the answer's status. */
export interface AuditRecord {
  workspaceId: string;
  at: number;
  actorKeyId: string;
  actorRole: string;
  action: string;
  target: string;
  status: number;
}

export const insertAudit = (r: AuditRecord): Statement => ({
  sql: "INSERT INTO audit_events (workspace_id, at, actor_key_id, actor_role, action, target, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
  params: [r.workspaceId, r.at, r.actorKeyId, r.actorRole, r.action, r.target, r.status],
});
