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

export function newId(prefix: "wf" | "ins" | "run" | "key" | "trg", now = Date.now()): string {
  return `${prefix}_${encodeTime(now, 10)}${randomPart(12)}`;
}

/** A secret for an API key or runner token: 256 bits of randomness, base32. */
export function newSecret(prefix: "sk" | "rt"): string {
  return `${prefix}_${randomPart(52)}`;
}
