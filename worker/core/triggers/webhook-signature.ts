// Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature; HMAC-SHA256; 5-minute tolerance), by its library.
import { Webhook, WebhookVerificationError } from "standardwebhooks";

/** After a rotation the previous secret still verifies for this long, so senders can switch over. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3600 * 1000;

/** `whsec_` + base64 of 32 random bytes: the form Standard Webhooks libraries take. */
export function newWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

export type Verification = { ok: true; webhookId: string } | { ok: false; reason: string };

const REASONS: Record<string, string> = {
  "Missing required headers": "the webhook-id, webhook-timestamp and webhook-signature headers are required",
  "Invalid Signature Headers": "webhook-timestamp must be a Unix time in seconds",
  "Message timestamp too old": "webhook-timestamp is more than 5 minutes old (a stale or replayed request)",
  "Message timestamp too new": "webhook-timestamp is more than 5 minutes in the future",
  "No matching signature found": "no v1 signature in webhook-signature matches this body and secret",
};

/**
 * Verifies the raw body against each secret still valid (the library compares in constant time).
 * The reason is safe to return: it says which rule failed, never anything about the secret.
 */
export function verifyWebhook(secrets: readonly string[], body: string, headers: Record<string, string | undefined>): Verification {
  const present: Record<string, string> = {};
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    const value = headers[name];
    if (value) present[name] = value;
  }
  let reason = REASONS["No matching signature found"]!;
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(body, present, { jsonParse: false });
      return { ok: true, webhookId: present["webhook-id"]! };
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      reason = REASONS[err.message] ?? err.message;
      // A header or timestamp problem is the same for every secret.
      if (err.message !== "No matching signature found") break;
    }
  }
  return { ok: false, reason };
}

/** For tests and docs: the headers a Standard Webhooks sender would send. */
export function signWebhook(secret: string, webhookId: string, body: string, at = new Date()): Record<string, string> {
  return {
    "webhook-id": webhookId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(webhookId, at, body),
  };
}
