// Identifiers: a prefix, a time-ordered part and randomness, so ids sort by creation time.

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

function encodeTime(ms: number, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function randomPart(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += ALPHABET[b % 32];
  return out;
}

export type IdPrefix = "wf" | "ins" | "run" | "key" | "trg" | "evt" | "ws" | "rnr" | "alr" | "grp";

export function newId(prefix: IdPrefix, now = Date.now()): string {
  return `${prefix}_${encodeTime(now, 10)}${randomPart(12)}`;
}

/**
 * The same id for the same time and digest (hex): a redelivered queue message asks for the instance
 * its first delivery created, so a retry after a crash finds it instead of starting another.
 */
export function derivedId(prefix: IdPrefix, ms: number, digestHex: string): string {
  let out = "";
  for (let i = 0; i < 12; i++) out += ALPHABET[parseInt(digestHex.slice(2 * i, 2 * i + 2), 16) % 32];
  return `${prefix}_${encodeTime(ms, 10)}${out}`;
}

/** A secret for an API key or runner token: 256 bits of randomness, base32. */
export function newSecret(prefix: "sk" | "rt"): string {
  return `${prefix}_${randomPart(52)}`;
}

/**
 * An instance id names its workflow after a dot (`ins_….wf_…`): terminate and rerun find the instance's
 * coordinator from the id alone, before D1 mirrors the instance.
 */
export function newInstanceId(workflowId: string, now = Date.now()): string {
  return `${newId("ins", now)}.${workflowId}`;
}

/** The derived (repeatable) form of `newInstanceId`, for redelivered events. */
export function derivedInstanceId(workflowId: string, ms: number, digestHex: string): string {
  return `${derivedId("ins", ms, digestHex)}.${workflowId}`;
}

/** The workflow an instance id names; null for ids made before ids named their workflow. */
export function workflowOfInstance(instanceId: string): string | null {
  const dot = instanceId.indexOf(".");
  if (!instanceId.startsWith("ins_") || dot < 0) return null;
  const workflowId = instanceId.slice(dot + 1);
  return /^wf_[0-9a-z]+$/.test(workflowId) ? workflowId : null;
}
