// Webhook replay protection (DESIGN §2.7): a webhook-id seen within the signature tolerance is a duplicate, whatever the dedup settings.

/** Standard Webhooks accepts a timestamp up to 5 minutes old or ahead. */
export const WEBHOOK_TOLERANCE_MS = 5 * 60 * 1000;
/**
 * How long a webhook-id is remembered after it was first received: a request accepted now carries a timestamp
 * at most one tolerance ahead, so a copy of it verifies until two tolerances from now; one minute more covers
 * clock skew between isolates.
 */
export const WEBHOOK_REPLAY_MEMORY_MS = 2 * WEBHOOK_TOLERANCE_MS + 60 * 1000;

/** What the store knows of a webhook-id: when and as which event it was first received, and what that started. */
export interface WebhookReceipt {
  eventId: string;
  receivedAt: number;
  /** null while the first delivery has not finished (it is in flight, or it failed before answering). */
  instanceIds: string[] | null;
  /** Whether this request is the one that first received it. */
  first: boolean;
}

/**
 * What a verified request does with its receipt: the first one delivers; a later one whose first delivery
 * finished is a replay and starts nothing; a later one whose first delivery did not finish delivers again
 * with the first's event and instance ids (so a run is started at most once) and is answered as a duplicate.
 */
export function replayAction(receipt: WebhookReceipt): "deliver" | "replay" | "complete-then-replay" {
  if (receipt.first) return "deliver";
  return receipt.instanceIds === null ? "complete-then-replay" : "replay";
}

export function replayDetail(webhookId: string, receivedAt: number): string {
  return (
    `webhook-id ${webhookId} was already received at ${new Date(receivedAt).toISOString()}: ` +
    `a webhook-id is answered as a duplicate for ${WEBHOOK_REPLAY_MEMORY_MS / 60_000} minutes, whatever the trigger's dedup settings`
  );
}

/** The digest an instance id derives from: the same trigger, webhook-id and workflow always ask for the same instance. */
export const webhookInstanceSeed = (triggerId: string, webhookId: string, workflowId: string) => `webhook|${triggerId}|${webhookId}|${workflowId}`;
