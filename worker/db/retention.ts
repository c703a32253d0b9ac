// Purges history past its retention age (D1 rows, R2 log objects) in batches until none is left or the run's budget is spent (the Worker's cron, every minute).
import { logObjectKey } from "../core/logs.ts";
import { PURGE_BATCH, purgeMayContinue, retentionMs, DATA_PATH_AUDIT_ACTIONS, type PurgeSpent } from "../core/retention.ts";

export interface Purged {
  instances: number;
  triggerEvents: number;
  /** Alert log rows (alert_deliveries). */
  alertDeliveries: number;
  auditEvents: number;
  /** Run definitions no instance names any more. */
  runDefinitions: number;
  /** Nothing past its age was left when the purge stopped (false: the budget ran out; the next run goes on). */
  complete: boolean;
  /** D1 queries and R2 calls made: what the budget counts. */
  spent: PurgeSpent;
}

export interface PurgeOptions {
  /** Audit rows' own retention; unset, audit rows are kept. */
  auditDays?: number;
  /** The clock of the budget (tests pass a fake one). */
  clock?: () => number;
}

/** The oldest finished instances past the cutoff, one batch of them (?1: cutoff, ?2: batch size). */
const OLDEST = `SELECT id FROM instances WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2`;

/**
 * The oldest finished instances first, each batch one D1 transaction: their logs, node runs and rows go
 * together. Rows are chosen by subquery on an index (never by bound ids: D1 binds at most 100 parameters),
 * and the three statements of a batch choose the same instances because nothing else changes inside it.
 */
function instanceBatch(db: D1Database, cutoff: number): D1PreparedStatement[] {
  return [
    db.prepare(`DELETE FROM node_logs WHERE node_run_id IN (SELECT id FROM node_runs WHERE instance_id IN (${OLDEST}))`).bind(cutoff, PURGE_BATCH),
    db.prepare(`DELETE FROM node_runs WHERE instance_id IN (${OLDEST})`).bind(cutoff, PURGE_BATCH),
    db.prepare(`DELETE FROM instances WHERE id IN (${OLDEST})`).bind(cutoff, PURGE_BATCH),
  ];
}

/**
 * Run definitions past the cutoff that no instance names (?1: cutoff, ?2: batch size), through the
 * instances' def_hash index. One a coordinator still holds is saved again by its next new instance's
 * coordinator only after it pruned it; until then a rerun after the live window of such an instance falls
 * back as for one from before D1 kept definitions (possible only with a retention shorter than the live window).
 */
const UNUSED_RUN_DEFINITIONS =
  `DELETE FROM run_definitions WHERE hash IN (SELECT d.hash FROM run_definitions d WHERE d.created_at < ?1 ` +
  `AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.def_hash = d.hash) LIMIT ?2)`;

/** R2 deletes at most this many keys per call. */
const R2_DELETE_KEYS = 1000;

/**
 * The log objects of the batch's instances go before their rows (a failure leaves the rows, and the next run
 * tries again; never objects no row names). Keys are built from the node runs, so nothing is listed. Counts
 * its calls in `spent`: one D1 query, and one R2 delete per 1,000 attempts.
 */
async function deleteLogObjects(db: D1Database, logs: R2Bucket, cutoff: number, spent: PurgeSpent): Promise<void> {
  const { results } = await db
    .prepare(
      `SELECT i.workspace_id, r.instance_id, r.node_name, r.attempt FROM node_runs r JOIN instances i ON i.id = r.instance_id WHERE r.instance_id IN (${OLDEST})`,
    )
    .bind(cutoff, PURGE_BATCH)
    .all<{ workspace_id: string; instance_id: string; node_name: string; attempt: number }>();
  const keys = results.map((r) => logObjectKey(r.workspace_id, r.instance_id, r.node_name, r.attempt));
  spent.queries += 1;
  for (let i = 0; i < keys.length; i += R2_DELETE_KEYS) {
    spent.r2Calls += 1;
    await logs.delete(keys.slice(i, i + R2_DELETE_KEYS));
  }
}

/** `env`: D1 and the logs bucket. The budget counts D1 queries and R2 calls apart (their limits differ). */
export async function purgeHistory(env: Pick<Env, "DB" | "LOGS">, days: number, now = Date.now(), options: PurgeOptions = {}): Promise<Purged> {
  const db = env.DB;
  const clock = options.clock ?? Date.now;
  const startedAt = clock();
  const spent: PurgeSpent = { queries: 0, r2Calls: 0 };
  const purged: Purged = { instances: 0, triggerEvents: 0, alertDeliveries: 0, auditEvents: 0, runDefinitions: 0, complete: false, spent };
  /** Runs batches of one kind until a batch comes back short (nothing older left) or the budget is spent. */
  const drain = async (batch: () => D1PreparedStatement[] | Promise<D1PreparedStatement[]>, count: (n: number) => void): Promise<boolean> => {
    while (purgeMayContinue(startedAt, clock(), spent)) {
      const statements = await batch();
      spent.queries += statements.length;
      const results = await db.batch(statements);
      const deleted = results.at(-1)!.meta.changes;
      count(deleted);
      if (deleted < PURGE_BATCH) return true;
    }
    return false;
  };
  const cutoff = now - retentionMs(days);
  const single = (sql: string, before: number) => () => [db.prepare(sql).bind(before, PURGE_BATCH)];
  const withLogs = async () => {
    await deleteLogObjects(db, env.LOGS, cutoff, spent);
    return instanceBatch(db, cutoff);
  };
  const doneInstances = await drain(withLogs, (n) => (purged.instances += n));
  // After the instances: those purged just now no longer name their definitions.
  const doneDefinitions = await drain(single(UNUSED_RUN_DEFINITIONS, cutoff), (n) => (purged.runDefinitions += n));
  // Events a paused trigger keeps wait for resume or discard, however old (DESIGN §2.10).
  const doneEvents = await drain(
    single(
      `DELETE FROM trigger_events WHERE id IN (SELECT id FROM trigger_events WHERE received_at < ?1 AND outcome != 'paused' ORDER BY received_at LIMIT ?2)`,
      cutoff,
    ),
    (n) => (purged.triggerEvents += n),
  );
  // The alert log is run history too (its deliveries name instances): it goes at the same age.
  const doneAlerts = await drain(
    single(`DELETE FROM alert_deliveries WHERE id IN (SELECT id FROM alert_deliveries WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)`, cutoff),
    (n) => (purged.alertDeliveries += n),
  );
  // The data path's audit rows are run history: they go at its age (core/retention.ts DATA_PATH_AUDIT_ACTIONS).
  const dataPath = DATA_PATH_AUDIT_ACTIONS.map((_, i) => `action LIKE ?${i + 3}`).join(" OR ");
  const doneRunAudit = await drain(
    () => [
      db
        .prepare(`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ?1 AND (${dataPath}) ORDER BY at LIMIT ?2)`)
        .bind(cutoff, PURGE_BATCH, ...DATA_PATH_AUDIT_ACTIONS),
    ],
    (n) => (purged.auditEvents += n),
  );
  let doneAudit = doneRunAudit;
  if (options.auditDays !== undefined) {
    const auditCutoff = now - retentionMs(options.auditDays);
    doneAudit = (await drain(
      single(`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ?1 ORDER BY at LIMIT ?2)`, auditCutoff),
      (n) => (purged.auditEvents += n),
    )) && doneRunAudit;
  }
  purged.complete = doneInstances && doneDefinitions && doneEvents && doneAlerts && doneAudit;
  return purged;
}
