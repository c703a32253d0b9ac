// The alert log as the console shows it: a delivery's status as a tone, and a refreshed first page merged with older pages.
import type { AlertDelivery } from "./api/types.ts";

/** delivered → ok, failed → bad, pending (a retry is due) → idle. */
export function alertTone(status: string): "ok" | "bad" | "idle" {
  if (status === "delivered") return "ok";
  if (status === "failed") return "bad";
  return "idle";
}

/**
 * The refreshed first page replaces what it covers (statuses change while retries run); rows loaded
 * with "Load more", older than the page, stay.
 */
export function mergeDeliveries(head: readonly AlertDelivery[], shown: readonly AlertDelivery[]): AlertDelivery[] {
  const fresh = new Set(head.map((d) => d.id));
  const oldest = head.at(-1)?.createdAt;
  const older = oldest === undefined ? [] : shown.filter((d) => !fresh.has(d.id) && d.createdAt < oldest);
  return [...head, ...older];
}
