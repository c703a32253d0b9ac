// The alert log in D1 (one row per delivery, its latest answer) and each workflow's alert signing secret.
import { and, desc, eq, isNull, lt, or, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { AlertFormat, DeliveryEvent } from "../core/alerts.ts";
import { notFound } from "../core/errors.ts";
import { SecretBox } from "../core/secret-box.ts";
import { newWebhookSecret } from "../core/triggers/webhook-signature.ts";
import type { Statement } from "./mirror.ts";
import { alertDeliveries, workflows } from "./schema.ts";

/** A delivery as the log keeps it; `status` pending until an attempt delivers it or the tries are used up. */
export interface DeliveryRecord {
  id: string;
  workspaceId: string;
  workflowId: string;
  instanceId: string | null;
  event: DeliveryEvent;
  url: string;
  format: AlertFormat;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  responseStatus: number | null;
  response: string | null;
  createdAt: number;
  updatedAt: number;
}

const COLUMNS = [
  "id", "workspace_id", "workflow_id", "instance_id", "event", "url", "format", "status", "attempts", "response_status", "response", "created_at", "updated_at",
] as const;
const MUTABLE = ["status", "attempts", "response_status", "response", "updated_at"] as const;

/**
 * The delivery's row as of its latest attempt, for the coordinator's outbox (delivered to D1 in order, and
 * again after a crash): a replayed older state never overwrites a newer one.
 */
export function recordDelivery(d: DeliveryRecord): Statement {
  return {
    sql:
      `INSERT INTO alert_deliveries (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")}) ` +
      `ON CONFLICT (id) DO UPDATE SET ${MUTABLE.map((c) => `${c} = excluded.${c}`).join(", ")} WHERE excluded.attempts >= alert_deliveries.attempts`,
    params: [d.id, d.workspaceId, d.workflowId, d.instanceId, d.event, d.url, d.format, d.status, d.attempts, d.responseStatus, d.response, d.createdAt, d.updatedAt],
  };
}

export interface DeliveryItem {
  id: string;
  instanceId: string | null;
  event: DeliveryEvent;
  url: string;
  format: AlertFormat;
  status: DeliveryRecord["status"];
  attempts: number;
  responseStatus: number | null;
  response: string | null;
  createdAt: string;
  updatedAt: string;
}

export const deliveryItem = (d: Omit<DeliveryRecord, "workspaceId" | "workflowId">): DeliveryItem => ({
  id: d.id,
  instanceId: d.instanceId,
  event: d.event,
  url: d.url,
  format: d.format,
  status: d.status,
  attempts: d.attempts,
  responseStatus: d.responseStatus,
  response: d.response,
  createdAt: new Date(d.createdAt).toISOString(),
  updatedAt: new Date(d.updatedAt).toISOString(),
});

/** A workspace's view of its workflows' alert logs. */
export class AlertLog {
  private readonly db;
  private readonly workspaceId: string;

  constructor(d1: D1Database, workspaceId: string) {
    this.db = drizzle(d1);
    this.workspaceId = workspaceId;
  }

  /** Newest first; the cursor is the last item's `createdAt|id`. Another workspace's workflow is not found. */
  async list(workflowId: string, limit: number, cursor: string | null): Promise<{ items: DeliveryItem[]; nextCursor: string | null }> {
    const conditions: SQL[] = [eq(alertDeliveries.workflowId, workflowId), eq(alertDeliveries.workspaceId, this.workspaceId)];
    const [at, id] = cursor ? cursor.split("|") : [];
    if (at && id) conditions.push(or(lt(alertDeliveries.createdAt, Number(at)), and(eq(alertDeliveries.createdAt, Number(at)), lt(alertDeliveries.id, id)))!);
    const rows = await this.db
      .select()
      .from(alertDeliveries)
      .where(and(...conditions))
      .orderBy(desc(alertDeliveries.createdAt), desc(alertDeliveries.id))
      .limit(limit + 1)
      .all();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const items = page.map((r) => deliveryItem({ ...r, event: r.event as DeliveryEvent, format: r.format as AlertFormat, status: r.status as DeliveryRecord["status"] }));
    return { items, nextCursor: rows.length > limit && last ? `${last.createdAt}|${last.id}` : null };
  }

  async insert(d: DeliveryRecord): Promise<void> {
    const s = recordDelivery(d);
    await this.db.$client.prepare(s.sql).bind(...s.params).run();
  }
}

/** Sealed for this owner, so a sealed alert secret copied to another workflow or to a trigger does not open. */
const secretOwner = (workflowId: string) => `alerts:${workflowId}`;

/**
 * The workflow's alert signing secret (`whsec_…`), made and sealed on first use. Two first uses at once
 * both try to store theirs; only one lands (`alert_secret IS NULL`) and both answer with it.
 */
export async function alertSecret(d1: D1Database, env: { SLUICE_SECRET_KEY?: string }, workflowId: string): Promise<string> {
  const db = drizzle(d1);
  const box = SecretBox.fromEnv(env);
  const read = () => db.select({ secret: workflows.alertSecret }).from(workflows).where(eq(workflows.id, workflowId)).get();
  const row = await read();
  if (!row) throw notFound(`workflow ${workflowId}`);
  if (row.secret) return box.open(secretOwner(workflowId), row.secret);
  const sealed = await box.seal(secretOwner(workflowId), newWebhookSecret());
  await db.update(workflows).set({ alertSecret: sealed }).where(and(eq(workflows.id, workflowId), isNull(workflows.alertSecret))).run();
  const stored = await read();
  if (!stored?.secret) throw notFound(`workflow ${workflowId}`);
  return box.open(secretOwner(workflowId), stored.secret);
}
