// Purges D1 history past the retention age in bounded batches (run by the Worker's cron trigger).
import { PURGE_BATCH, PURGE_BATCHES_PER_RUN, retentionMs } from "../core/retention.ts";

export interface Purged {
  instances: number;
  triggerEvents: number;
}

export async function purgeHistory(db: D1Database, days: number, now = Date.now()): Promise<Purged> {
  const cutoff = now - retentionMs(days);
  const purged: Purged = { instances: 0, triggerEvents: 0 };
  for (let i = 0; i < PURGE_BATCHES_PER_RUN; i++) {
    const { results } = await db
      .prepare(`SELECT id FROM instances WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?`)
      .bind(cutoff, PURGE_BATCH)
      .all<{ id: string }>();
    if (results.length === 0) break;
    const ids = results.map((r) => r.id);
    const marks = ids.map(() => "?").join(", ");
    // One batch per group of instances: logs, node runs and the instances go together.
    await db.batch([
      db.prepare(`DELETE FROM node_logs WHERE node_run_id IN (SELECT id FROM node_runs WHERE instance_id IN (${marks}))`).bind(...ids),
      db.prepare(`DELETE FROM node_runs WHERE instance_id IN (${marks})`).bind(...ids),
      db.prepare(`DELETE FROM instances WHERE id IN (${marks})`).bind(...ids),
    ]);
    purged.instances += ids.length;
  }
  for (let i = 0; i < PURGE_BATCHES_PER_RUN; i++) {
    const res = await db
      .prepare(`DELETE FROM trigger_events WHERE id IN (SELECT id FROM trigger_events WHERE received_at < ? LIMIT ?)`)
      .bind(cutoff, PURGE_BATCH)
      .run();
    purged.triggerEvents += res.meta.changes;
    if (res.meta.changes < PURGE_BATCH) break;
  }
  return purged;
}
