// Seals webhook secrets still stored in plaintext (rows from before encryption at rest), so none remains in D1.
import { isSealed, SecretBox } from "../core/secret-box.ts";

const BATCH = 100;

interface Plain {
  id: string;
  secret: string | null;
  previous_secret: string | null;
}

/**
 * Seals every plaintext secret and previous secret under SLUICE_SECRET_KEY; answers how many rows changed. Each
 * row is updated only if it still holds what was read, so a rotation racing this is never overwritten. Throws
 * (and changes nothing) when the key is missing or malformed: plaintext is never "sealed" with no key.
 */
export async function sealPlaintextSecrets(d1: D1Database, secrets: SecretBox): Promise<number> {
  let sealed = 0;
  for (;;) {
    const { results } = await d1
      .prepare(
        `SELECT id, secret, previous_secret FROM triggers
         WHERE (secret IS NOT NULL AND secret NOT LIKE 'v1:%') OR (previous_secret IS NOT NULL AND previous_secret NOT LIKE 'v1:%') LIMIT ?`,
      )
      .bind(BATCH)
      .all<Plain>();
    if (results.length === 0) return sealed;
    const seal = (id: string, stored: string | null) => (stored === null || isSealed(stored) ? stored : secrets.seal(id, stored));
    const updates = await Promise.all(
      results.map(async (row) => {
        const [secret, previous] = await Promise.all([seal(row.id, row.secret), seal(row.id, row.previous_secret)]);
        return d1
          .prepare(`UPDATE triggers SET secret = ?, previous_secret = ? WHERE id = ? AND secret IS ? AND previous_secret IS ?`)
          .bind(secret, previous, row.id, row.secret, row.previous_secret);
      }),
    );
    const outcome = await d1.batch(updates);
    const changed = outcome.reduce((n, r) => n + r.meta.changes, 0);
    sealed += changed;
    // Every row of the batch raced a rotation (which sealed it): the next run finds whatever is left.
    if (changed === 0) return sealed;
  }
}

/** Once per isolate, at its first request: a Worker started on an old database seals what it finds before long. */
let sealing: Promise<void> | null = null;

export function sealPlaintextSecretsOnce(env: Env): Promise<void> {
  sealing ??= sealPlaintextSecrets(env.DB, SecretBox.fromEnv(env)).then(
    (n) => {
      if (n > 0) console.log(`sluice: sealed ${n} webhook secret row(s) that were stored in plaintext`);
    },
    (err: unknown) => console.error(`sluice: webhook secrets stored in plaintext could not be sealed: ${err instanceof Error ? err.message : String(err)}`),
  );
  return sealing;
}
