// Purges D1 history past its retention age in batches until none is left or the run's budget is spent (the Worker's cron, every minute).
import { PURGE_BATCH, purgeMayContinue, retentionMs } from "../core/retention.ts";

export interface Purged {
  instances: number;
  triggerEvents: number;
  auditEvents: number;
  /** Nothing past its age was left when the purge stopped (false: the budget ran out; the next run goes on). */
  complete: boolean;
}

export interface PurgeOptions {
  /** Audit rows' own retention; unset, audit rows are kept. */
  auditDays?: number;
  /** The clock of the budget (tests pass a fake one). */
  clock?: () => number;
}

/**
 * The oldest finished instances first, each batch one D1 transaction: their logs, node runs and rows go
 * together. Rows are chosen by subquery on an index (never by bound ids: D1 binds at most 100 parameters),
 * and the three statements of a batch choose the same instances because nothing else changes inside it.
 */
function instanceBatch(db: D1Database, cutoff: number): D1PreparedStatement[] {
  const oldest = `SELECT id FROM instances WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2`;
  return [
    db.prepare(`DELETE FROM node_logs WHERE node_run_id IN (SELECT id FROM node_runs WHERE instance_id IN (${oldest}))`).bind(cutoff, PURGE_BATCH),
    db.prepare(`DELETE FROM node_runs WHERE instance_id IN (${oldest})`).bind(cutoff, PURGE_BATCH),
    db.prepare(`DELETE FROM instances WHERE id IN (${oldest})`).bind(cutoff, PURGE_BATCH),
  ];
}

export async function purgeHistory(db: D1Database, days: number, now = Date.now(), options: PurgeOptions = {}): Promise<Purged> {
  const clock = options.clock ?? Date.now;
  const startedAt = clock();
  let queries = 0;
  const purged: Purged = { instances: 0, triggerEvents: 0, auditEvents: 0, complete: false };
  /** Runs batches of one kind until a batch comes back short (nothing older left) or the budget is spent. */
  const drain = async (batch: () => D1PreparedStatement[], count: (n: number) => void): Promise<boolean> => {
    while (purgeMayContinue(startedAt, clock(), queries)) {
      const statements = batch();
      queries += statements.length;
      const results = await db.batch(statements);
      const deleted = results.at(-1)!.meta.changes;
      count(deleted);
      if (deleted < PURGE_BATCH) return true;
    }
    return false;
  };
  const cutoff = now - retentionMs(days);
  const single = (sql: string, before: number) => () => [db.prepare(sql).bind(before, PURGE_BATCH)];
  const doneInstances = await drain(() => instanceBatch(db, cutoff), (n) => (purged.instances += n));
  const doneEvents = await drain(
    single(`DELETE FROM trigger_events WHERE id IN (SELECT id FROM trigger_events WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)`, cutoff),
    (n) => (purged.triggerEvents += n),
  );
  let doneAudit = true;
  if (options.auditDays !== undefined) {
    const auditCutoff = now - retentionMs(options.auditDays);
    doneAudit = await drain(
      single(`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ?1 ORDER BY at LIMIT ?2)`, auditCutoff),
      (n) => (purged.auditEvents += n),
    );
  }
  purged.complete = doneInstances && doneEvents && doneAudit;
  return purged;
}
