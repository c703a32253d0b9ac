// Webhook ids seen per trigger (D1, with expiry): the durable half of webhook replay protection (core/triggers/webhook-replay.ts).
import type { WebhookReceipt } from "../core/triggers/index.ts";

/**
 * Records the webhook-id as received now by `proposal.eventId`, unless a receipt within its memory exists; answers
 * the receipt that holds (this request's, or the earlier one's). An expired receipt is replaced. One D1 batch.
 */
export async function claimReceipt(
  d1: D1Database,
  triggerId: string,
  webhookId: string,
  proposal: { eventId: string; receivedAt: number },
  memoryMs: number,
): Promise<WebhookReceipt> {
  const [, found] = await d1.batch<{ event_id: string; received_at: number; instance_ids: string | null }>([
    d1
      .prepare(
        `INSERT INTO webhook_receipts (trigger_id, webhook_id, event_id, received_at, instance_ids, expires_at) VALUES (?, ?, ?, ?, NULL, ?)
         ON CONFLICT (trigger_id, webhook_id) DO UPDATE SET event_id = excluded.event_id, received_at = excluded.received_at,
           instance_ids = NULL, expires_at = excluded.expires_at
         WHERE webhook_receipts.expires_at <= excluded.received_at`,
      )
      .bind(triggerId, webhookId, proposal.eventId, proposal.receivedAt, proposal.receivedAt + memoryMs),
    d1.prepare(`SELECT event_id, received_at, instance_ids FROM webhook_receipts WHERE trigger_id = ? AND webhook_id = ?`).bind(triggerId, webhookId),
  ]);
  const row = found!.results[0]!;
  return {
    eventId: row.event_id,
    receivedAt: row.received_at,
    instanceIds: row.instance_ids === null ? null : (JSON.parse(row.instance_ids) as string[]),
    first: row.event_id === proposal.eventId,
  };
}

/** The receipt's delivery finished: later copies are answered with what it started. */
export async function finishReceipt(d1: D1Database, triggerId: string, webhookId: string, eventId: string, instanceIds: string[]): Promise<void> {
  await d1
    .prepare(`UPDATE webhook_receipts SET instance_ids = ? WHERE trigger_id = ? AND webhook_id = ? AND event_id = ?`)
    .bind(JSON.stringify(instanceIds), triggerId, webhookId, eventId)
    .run();
}

/** Expired receipts go with the retention cron, in one bounded statement. */
export async function purgeExpiredReceipts(d1: D1Database, now: number, limit = 1000): Promise<number> {
  const res = await d1
    .prepare(`DELETE FROM webhook_receipts WHERE rowid IN (SELECT rowid FROM webhook_receipts WHERE expires_at <= ? LIMIT ?)`)
    .bind(now, limit)
    .run();
  return res.meta.changes;
}
