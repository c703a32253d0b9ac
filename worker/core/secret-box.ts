// Secrets at rest (webhook signing secrets): AES-256-GCM under the key in SLUICE_SECRET_KEY, each bound to its owner.
import { SluiceError } from "./errors.ts";

/** Stored form: `v1:` + base64(12-byte IV ‖ ciphertext ‖ 16-byte tag). Anything else is a plaintext row from before encryption. */
export const SEALED_PREFIX = "v1:";
const IV_BYTES = 12;
const KEY_HELP = "set it to 32 random bytes in base64 (`openssl rand -base64 32`) with `wrangler secret put SLUICE_SECRET_KEY`";

const misconfigured = (message: string) => new SluiceError(500, "internal", message);

const toBase64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
function fromBase64(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

export const isSealed = (stored: string) => stored.startsWith(SEALED_PREFIX);

/** One imported key per distinct SLUICE_SECRET_KEY value in this isolate (importKey is not free). */
const keys = new Map<string, Promise<CryptoKey>>();

/**
 * Seals and opens secrets. Created from the Worker's environment without checking the key, so rows that need
 * no key (legacy plaintext, triggers without a secret) stay readable; the first use that needs the key fails
 * with an error that says how to set it. It never falls back to storing plaintext.
 */
export class SecretBox {
  private readonly encodedKey: string | undefined;

  constructor(encodedKey: string | undefined) {
    this.encodedKey = encodedKey?.trim() || undefined;
  }

  static fromEnv(env: { SLUICE_SECRET_KEY?: string }): SecretBox {
    return new SecretBox(env.SLUICE_SECRET_KEY);
  }

  /** Encrypts `secret` for `owner` (e.g. the trigger id): a sealed value copied to another owner does not open. */
  async seal(owner: string, secret: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(owner) }, await this.key(), new TextEncoder().encode(secret));
    const out = new Uint8Array(IV_BYTES + sealed.byteLength);
    out.set(iv);
    out.set(new Uint8Array(sealed), IV_BYTES);
    return SEALED_PREFIX + toBase64(out);
  }

  /** The secret itself: a sealed value is decrypted, a legacy plaintext one is returned as stored. */
  async open(owner: string, stored: string): Promise<string> {
    if (!isSealed(stored)) return stored;
    const bytes = fromBase64(stored.slice(SEALED_PREFIX.length));
    if (!bytes || bytes.byteLength <= IV_BYTES + 16) throw misconfigured(`the stored secret of ${owner} is damaged (not a sealed value)`);
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes.slice(0, IV_BYTES), additionalData: aad(owner) },
        await this.key(),
        bytes.slice(IV_BYTES),
      );
      return new TextDecoder().decode(plain);
    } catch (err) {
      if (err instanceof SluiceError) throw err;
      throw misconfigured(
        `the stored secret of ${owner} does not decrypt: SLUICE_SECRET_KEY is not the key it was sealed with, or the row was altered; ` +
          "rotating the secret issues one sealed with the current key",
      );
    }
  }

  /**
   * The sealed form of a value that stays stored (the previous secret on rotation): legacy plaintext is sealed
   * now; a sealed value is kept if it opens, and dropped (null) if it does not, since it can verify nothing.
   * That makes rotating a trigger's secret the way back from a replaced SLUICE_SECRET_KEY.
   */
  async reseal(owner: string, stored: string): Promise<string | null> {
    if (!isSealed(stored)) return this.seal(owner, stored);
    await this.key(); // a missing or malformed key is the operator's to fix, not a reason to drop anything
    return this.open(owner, stored).then(
      () => stored,
      () => null,
    );
  }

  private key(): Promise<CryptoKey> {
    const encoded = this.encodedKey;
    if (!encoded) return Promise.reject(misconfigured(`SLUICE_SECRET_KEY is not set, so secrets cannot be stored encrypted: ${KEY_HELP}`));
    let key = keys.get(encoded);
    if (!key) {
      const raw = fromBase64(encoded);
      if (!raw || raw.byteLength !== 32) return Promise.reject(misconfigured(`SLUICE_SECRET_KEY is not 32 bytes in base64: ${KEY_HELP}`));
      key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
      keys.set(encoded, key);
    }
    return key;
  }
}

const aad = (owner: string) => new TextEncoder().encode(`sluice.secret.v1:${owner}`);
