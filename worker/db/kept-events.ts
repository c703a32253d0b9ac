// D1 for pause, resume, discard and replay: the trigger's paused state, its kept events, and replay rows.
import { and, asc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { conflict, notFound } from "../core/errors.ts";
import { derivedId } from "../core/ids.ts";
import { replayEventSeed, sha256Hex } from "../core/triggers/index.ts";
import type { TriggerEventRecord } from "./trigger-events.ts";
import { triggerEvents, triggers } from "./schema.ts";
import { toRecord, type TriggerRecord } from "./triggers.ts";

export type LoggedEventRow = typeof triggerEvents.$inferSelect;

/**
 * Pause keeps `paused_at` from an earlier pause whose kept events are still being decided, so they stay first
 * in line. Pausing a paused trigger changes nothing.
 */
export async function pauseTrigger(d1: D1Database, workspaceId: string, id: string, now: number): Promise<TriggerRecord> {
  const row = await drizzle(d1)
    .update(triggers)
    .set({ paused: true, pausedAt: sql`coalesce(${triggers.pausedAt}, ${now})`, updatedAt: sql`CASE WHEN ${triggers.paused} THEN ${triggers.updatedAt} ELSE ${now} END` })
    .where(and(eq(triggers.id, id), eq(triggers.workspaceId, workspaceId)))
    .returning()
    .get();
  if (!row) throw notFound(`trigger ${id}`);
  return toRecord(row);
}

/**
 * Resume clears `paused` but leaves `paused_at` until every kept event is decided (finishResume): while it is
 * set, new events are kept behind the older ones (db/triggers.ts toSpec), so arrival order holds across a resume.
 */
export async function unpauseTrigger(d1: D1Database, workspaceId: string, id: string, now: number): Promise<TriggerRecord> {
  const row = await drizzle(d1)
    .update(triggers)
    .set({ paused: false, updatedAt: sql`CASE WHEN ${triggers.paused} THEN ${now} ELSE ${triggers.updatedAt} END` })
    .where(and(eq(triggers.id, id), eq(triggers.workspaceId, workspaceId)))
    .returning()
    .get();
  if (!row) throw notFound(`trigger ${id}`);
  return toRecord(row);
}

/**
 * Ends a resume once nothing is kept: one statement, so an event kept a moment later is either seen here or left
 * for the cron's continuation (triggersWithKeptEvents). True when the trigger now takes events live.
 */
export async function finishResume(d1: D1Database, triggerId: string): Promise<boolean> {
  const result = await d1
    .prepare(
      `UPDATE triggers SET paused_at = NULL WHERE id = ?1 AND paused = 0 AND paused_at IS NOT NULL ` +
        `AND NOT EXISTS (SELECT 1 FROM trigger_events WHERE trigger_id = ?1 AND outcome = 'paused')`,
    )
    .bind(triggerId)
    .run();
  return result.meta.changes > 0;
}

/** Unpaused triggers with kept events left (or a resume not yet finished): what the cron continues. */
export async function triggersWithKeptEvents(d1: D1Database, limit: number): Promise<string[]> {
  const { results } = await d1
    .prepare(
      `SELECT id FROM triggers t WHERE t.paused = 0 AND (t.paused_at IS NOT NULL ` +
        `OR EXISTS (SELECT 1 FROM trigger_events e WHERE e.trigger_id = t.id AND e.outcome = 'paused')) ORDER BY t.paused_at LIMIT ?1`,
    )
    .bind(limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/**
 * The oldest kept events of a trigger, in arrival order (the trigger_events_by_outcome index). Events of one
 * delivered batch share their time: their rows were written in delivery order, which the rowid keeps.
 */
export async function keptEvents(d1: D1Database, triggerId: string, limit: number): Promise<LoggedEventRow[]> {
  return drizzle(d1)
    .select()
    .from(triggerEvents)
    .where(and(eq(triggerEvents.triggerId, triggerId), eq(triggerEvents.outcome, "paused")))
    .orderBy(asc(triggerEvents.receivedAt), sql`trigger_events.rowid`)
    .limit(limit)
    .all();
}

export async function countKept(d1: D1Database, triggerId: string): Promise<number> {
  const row = await d1.prepare(`SELECT count(*) AS n FROM trigger_events WHERE trigger_id = ? AND outcome = 'paused'`).bind(triggerId).first<{ n: number }>();
  return row?.n ?? 0;
}

/**
 * Writes what became of kept events, in place, and counts the rows this call settled. Only a row still kept
 * (or discarded while its start was under way: the run exists, so the log says so) is written: a resume that
 * lost a race to another writes nothing and counts nothing.
 */
export async function settleKept(d1: D1Database, records: TriggerEventRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const statements = records.map((r) =>
    d1
      .prepare(
        `UPDATE trigger_events SET outcome = ?2, detail = ?3, instance_ids = ?4, dedup_key = ?5 WHERE id = ?1 AND outcome IN ('paused', 'discarded')`,
      )
      .bind(r.id, r.outcome, `resumed: ${r.detail}`.slice(0, 4000), JSON.stringify(r.instanceIds), r.dedupKey === null ? null : r.dedupKey.slice(0, 1024)),
  );
  const results = await d1.batch(statements);
  return results.reduce((n, res) => n + res.meta.changes, 0);
}

/** Turns up to `limit` of the oldest kept events into `discarded`; the count changed. */
export async function discardKept(d1: D1Database, triggerId: string, detail: string, limit: number): Promise<number> {
  const result = await d1
    .prepare(
      `UPDATE trigger_events SET outcome = 'discarded', detail = ?2 WHERE id IN ` +
        `(SELECT id FROM trigger_events WHERE trigger_id = ?1 AND outcome = 'paused' ORDER BY received_at, rowid LIMIT ?3)`,
    )
    .bind(triggerId, detail, limit)
    .run();
  return result.meta.changes;
}

/** One logged event of a workspace (optionally of one trigger); another workspace's event is not found. */
export async function loggedEventOf(d1: D1Database, workspaceId: string, eventId: string, triggerId?: string): Promise<LoggedEventRow> {
  const conditions = [eq(triggerEvents.id, eventId), eq(triggerEvents.workspaceId, workspaceId)];
  if (triggerId !== undefined) conditions.push(eq(triggerEvents.triggerId, triggerId));
  const row = await drizzle(d1).select().from(triggerEvents).where(and(...conditions)).get();
  if (!row) throw notFound(triggerId === undefined ? `trigger event ${eventId}` : `event ${eventId} of trigger ${triggerId}`);
  return row;
}

/** How many replay numbers are probed per read while looking for the first free one. */
const REPLAY_PROBE = 20;
/** Far past any real use: a guard against a loop, not a limit anyone meets. */
const MAX_REPLAYS = 10_000;

/** Replay n's event id: derived from (event, n), so claiming the row claims n. */
export async function replayEventId(source: LoggedEventRow, n: number): Promise<string> {
  return derivedId("evt", source.receivedAt, await sha256Hex(replayEventSeed(source.id, n)));
}

/**
 * Takes the next replay number of `source` atomically: the row of replay n is inserted only if no row has its id
 * (a placeholder the replay then fills in), so two concurrent replays take different numbers, and the row exists
 * before any run starts. Earlier numbers are found by probing ids, never by scanning the trigger's log.
 */
export async function claimReplay(d1: D1Database, source: LoggedEventRow, now: number): Promise<{ id: string; n: number }> {
  let n = 1;
  while (n <= MAX_REPLAYS) {
    const ids = await Promise.all(Array.from({ length: REPLAY_PROBE }, (_, i) => replayEventId(source, n + i)));
    const taken = new Set(
      (await d1.prepare(`SELECT id FROM trigger_events WHERE id IN (${ids.map(() => "?").join(", ")})`).bind(...ids).all<{ id: string }>()).results.map((r) => r.id),
    );
    for (let i = 0; i < ids.length; i++) {
      if (taken.has(ids[i]!)) continue;
      const inserted = await d1
        .prepare(
          `INSERT INTO trigger_events (id, trigger_id, workspace_id, received_at, last_received_at, source, source_id, dedup_key, outcome, detail, ` +
            `instance_ids, message, message_truncated, message_full, replay_of) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, NULL, 'error', ?7, '[]', ?8, ?9, ?10, ?11) ` +
            `ON CONFLICT (id) DO NOTHING`,
        )
        .bind(
          ids[i],
          source.triggerId,
          source.workspaceId,
          now,
          source.source,
          source.sourceId,
          `replay ${n + i} of ${source.id} was interrupted before its verdict was written; any run it started is in the instance list`,
          source.message,
          source.messageTruncated ? 1 : 0,
          source.messageFull,
          source.id,
        )
        .run();
      if (inserted.meta.changes > 0) return { id: ids[i]!, n: n + i };
    }
    n += REPLAY_PROBE;
  }
  throw conflict(`event ${source.id} was replayed ${MAX_REPLAYS} times already`);
}

/** Fills in the claimed replay row with its verdict. */
export async function settleReplay(d1: D1Database, record: TriggerEventRecord): Promise<void> {
  await d1
    .prepare(`UPDATE trigger_events SET outcome = ?2, detail = ?3, instance_ids = ?4, dedup_key = ?5 WHERE id = ?1`)
    .bind(record.id, record.outcome, record.detail.slice(0, 4000), JSON.stringify(record.instanceIds), record.dedupKey?.slice(0, 1024) ?? null)
    .run();
}
