// The coordinator's outbox: effects written in the same transaction as the state, delivered in order.
import type { QueuedTask } from "../core/runner-protocol.ts";
import type { Statement } from "../db/mirror.ts";
import { injectFault } from "../faults.ts";
import { poolFor } from "./stub.ts";

export type Effect =
  | { kind: "d1"; statements: Statement[] }
  | { kind: "dispatch"; resourceGroup: string; tasks: QueuedTask[] }
  | { kind: "cancel"; resourceGroup: string; attemptIds: string[] };

const RETRY_MS = 2_000;
const BATCH = 200;

export class Outbox {
  private flushing: Promise<void> | null = null;
  private again = false;

  private readonly storage: DurableObjectStorage;
  private readonly env: Env;

  constructor(storage: DurableObjectStorage, env: Env) {
    this.storage = storage;
    this.env = env;
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)`);
  }

  /** Call inside the state's transaction, so an effect exists exactly when its state does. */
  add(effect: Effect): void {
    this.storage.sql.exec(`INSERT INTO outbox (body) VALUES (?)`, JSON.stringify(effect));
  }

  /** Delivers pending effects in order; on failure leaves them for the alarm to retry. */
  flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      try {
        do {
          this.again = false;
          while (await this.deliverBatch());
        } while (this.again);
      } catch (err) {
        console.error("coordinator outbox: delivery failed, retrying later", err);
        await this.storage.setAlarm(Date.now() + RETRY_MS);
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  pending(): number {
    return this.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox`).one().n;
  }

  /** One D1 batch (consecutive mirror effects, one D1 transaction) or one pool call. */
  private async deliverBatch(): Promise<boolean> {
    const rows = this.storage.sql
      .exec<{ id: number; body: string }>(`SELECT id, body FROM outbox ORDER BY id LIMIT ?`, BATCH)
      .toArray();
    if (rows.length === 0) return false;
    const first = JSON.parse(rows[0]!.body) as Effect;
    injectFault(this.env, "outbox.d1");
    if (first.kind === "d1") {
      const statements: Statement[] = [];
      let last = rows[0]!.id;
      for (const row of rows) {
        const effect = JSON.parse(row.body) as Effect;
        if (effect.kind !== "d1") break;
        statements.push(...effect.statements);
        last = row.id;
      }
      await this.env.DB.batch(statements.map((s) => this.env.DB.prepare(s.sql).bind(...s.params)));
      this.storage.sql.exec(`DELETE FROM outbox WHERE id <= ?`, last);
      return true;
    }
    const pool = poolFor(this.env, first.resourceGroup);
    if (first.kind === "dispatch") await pool.enqueue(first.tasks);
    else await pool.cancel(first.attemptIds);
    this.storage.sql.exec(`DELETE FROM outbox WHERE id = ?`, rows[0]!.id);
    return true;
  }
}
