// The trigger event log in D1: one row per received event (a redelivered queue message updates its row).
import { and, desc, eq, getTableColumns, lt, or, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { notFound } from "../core/errors.ts";
import { KEEP_WHOLE_MESSAGE, type EventOutcome } from "../core/triggers/index.ts";
import { triggerEvents, triggers } from "./schema.ts";

/** The message kept with an event: enough to see what arrived, not a second copy of every payload. */
export const MAX_EVENT_MESSAGE_CHARS = 8 * 1024;

export interface TriggerEventRecord {
  id: string;
  triggerId: string;
  workspaceId: string;
  receivedAt: number;
  source: string;
  sourceId: string | null;
  dedupKey: string | null;
  outcome: EventOutcome;
  detail: string;
  instanceIds: string[];
  message: unknown;
  /** A replay names the event it decides again (DESIGN §2.10). */
  replayOf?: string | null;
}

function row(event: TriggerEventRecord): typeof triggerEvents.$inferInsert {
  const json = JSON.stringify(event.message ?? null);
  const truncated = json.length > MAX_EVENT_MESSAGE_CHARS;
  return {
    id: event.id,
    triggerId: event.triggerId,
    workspaceId: event.workspaceId,
    receivedAt: event.receivedAt,
    lastReceivedAt: Date.now(),
    source: event.source,
    sourceId: event.sourceId,
    dedupKey: event.dedupKey === null ? null : event.dedupKey.slice(0, 1024),
    outcome: event.outcome,
    detail: event.detail.slice(0, 4000),
    instanceIds: JSON.stringify(event.instanceIds),
    message: truncated ? json.slice(0, MAX_EVENT_MESSAGE_CHARS) : json,
    messageTruncated: truncated,
    // Kept whole only where it will be decided again: a paused event on resume, or a replay after a fix.
    messageFull: truncated && KEEP_WHOLE_MESSAGE.has(event.outcome) ? json : null,
    replayOf: event.replayOf ?? null,
  };
}

/** D1 takes at most 100 bound parameters per statement: rows per multi-row insert. */
const ROWS_PER_STATEMENT = Math.floor(100 / Object.keys(getTableColumns(triggerEvents)).length);

/**
 * A redelivery does not undo what became of its event since: one that resume started and that now finds that run
 * (a duplicate naming the same instances) is still started, and a discarded one delivered again while the
 * trigger keeps events stays discarded.
 */
const SETTLED = sql.raw(
  `(trigger_events.outcome = 'started' AND excluded.outcome = 'duplicate' AND excluded.instance_ids = trigger_events.instance_ids) ` +
    `OR (trigger_events.outcome = 'discarded' AND excluded.outcome = 'paused')`,
);

/** Writes the verdicts in one D1 batch; a redelivery of the same message updates its row and counts it. */
export async function recordEvents(d1: D1Database, events: TriggerEventRecord[]): Promise<void> {
  if (events.length === 0) return;
  const db = drizzle(d1);
  const rows = events.map(row);
  const statements = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    statements.push(
      db
        .insert(triggerEvents)
        .values(rows.slice(i, i + ROWS_PER_STATEMENT))
        .onConflictDoUpdate({
          target: triggerEvents.id,
          set: {
            lastReceivedAt: sql`excluded.last_received_at`,
            deliveries: sql`${triggerEvents.deliveries} + 1`,
            outcome: sql`CASE WHEN ${SETTLED} THEN ${triggerEvents.outcome} ELSE excluded.outcome END`,
            detail: sql`CASE WHEN ${SETTLED} THEN ${triggerEvents.detail} ELSE excluded.detail END`,
            instanceIds: sql`excluded.instance_ids`,
            dedupKey: sql`coalesce(excluded.dedup_key, ${triggerEvents.dedupKey})`,
            messageFull: sql`coalesce(excluded.message_full, ${triggerEvents.messageFull})`,
          },
        }),
    );
  }
  await db.batch(statements as [(typeof statements)[number], ...typeof statements]);
}

type Row = typeof triggerEvents.$inferSelect;

const toItem = (r: Row) => ({
  id: r.id,
  receivedAt: new Date(r.receivedAt).toISOString(),
  lastReceivedAt: new Date(r.lastReceivedAt).toISOString(),
  deliveries: r.deliveries,
  source: r.source,
  sourceId: r.sourceId,
  outcome: r.outcome as EventOutcome,
  detail: r.detail,
  dedupKey: r.dedupKey,
  instanceIds: JSON.parse(r.instanceIds) as string[],
  // A cut message is no longer JSON: it is returned as the text that was kept.
  message: r.messageTruncated ? r.message : (JSON.parse(r.message) as unknown),
  messageTruncated: r.messageTruncated,
  replayOf: r.replayOf,
});
export type TriggerEventItem = ReturnType<typeof toItem>;

export class TriggerEventRepo {
  private readonly db;
  private readonly workspaceId: string;

  constructor(d1: D1Database, workspaceId: string) {
    this.db = drizzle(d1);
    this.workspaceId = workspaceId;
  }

  /** Newest first; the cursor is the last item's `receivedAt|id`. */
  async list(triggerId: string, filter: { outcome?: EventOutcome }, limit: number, cursor: string | null) {
    const trigger = await this.db.select({ id: triggers.id }).from(triggers).where(and(eq(triggers.id, triggerId), eq(triggers.workspaceId, this.workspaceId))).get();
    if (!trigger) throw notFound(`trigger ${triggerId}`);
    const conditions: SQL[] = [eq(triggerEvents.triggerId, triggerId)];
    if (filter.outcome) conditions.push(eq(triggerEvents.outcome, filter.outcome));
    const [at, id] = cursor ? cursor.split("|") : [];
    if (at && id) conditions.push(or(lt(triggerEvents.receivedAt, Number(at)), and(eq(triggerEvents.receivedAt, Number(at)), lt(triggerEvents.id, id)))!);
    const rows = await this.db
      .select()
      .from(triggerEvents)
      .where(and(...conditions))
      .orderBy(desc(triggerEvents.receivedAt), desc(triggerEvents.id))
      .limit(limit + 1)
      .all();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(toItem), nextCursor: rows.length > limit && last ? `${last.receivedAt}|${last.id}` : null };
  }
}
