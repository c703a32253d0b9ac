// The coordinator's outbox: effects written in the same transaction as the state, delivered in order.
import type { QueuedTask } from "../core/runner-protocol.ts";
import { coalesceUpserts, compactStatements, type Statement } from "../db/mirror.ts";
import { DEFAULT_WORKSPACE } from "../core/tenancy.ts";
import { injectFault } from "../faults.ts";
import { poolFor } from "./stub.ts";

/**
 * Pool calls name the instance's workspace and group: the pool is the group's of that workspace. A row
 * written before groups were per workspace has no workspaceId and goes to the bare-named pool it was meant
 * for (the default workspace's), which hands another workspace's tasks on (ResourcePool.adoptLegacyTasks).
 */
export type Effect =
  | { kind: "d1"; statements: Statement[] }
  | { kind: "dispatch"; workspaceId?: string; resourceGroup: string; tasks: QueuedTask[] }
  | { kind: "cancel"; workspaceId?: string; resourceGroup: string; attemptIds: string[] };

type PoolEffect = Exclude<Effect, { kind: "d1" }>;
const poolAddress = (e: PoolEffect) => JSON.stringify([e.workspaceId ?? DEFAULT_WORKSPACE, e.resourceGroup]);

const RETRY_MS = 2_000;
/**
 * Outbox rows per delivery. A row holds a whole transaction's D1 statements (a queue batch of 100 starts
 * is one row of a few hundred), so a backlog after a D1 outage goes out in bounded D1 batches.
 */
const BATCH = 50;
/** Durable Object SQL takes at most 100 bound parameters per statement. */
const MAX_PARAMS = 100;

export class Outbox {
  private flushing: Promise<boolean> | null = null;
  private again = false;
  /** The current transaction's D1 statements, written as one row when it seals. */
  private statements: Statement[] = [];

  private readonly storage: DurableObjectStorage;
  private readonly env: Env;

  constructor(storage: DurableObjectStorage, env: Env) {
    this.storage = storage;
    this.env = env;
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)`);
  }

  /** Call inside the state's transaction, so an effect exists exactly when its state does (see `inTransaction`). */
  add(effect: Effect): void {
    if (effect.kind === "d1") this.statements.push(...effect.statements);
    else this.write(effect);
  }

  /**
   * Runs a change in a transaction whose D1 statements become one outbox row, coalesced (an instance
   * that went waiting → running → succeeded is written once): a batch of 100 starts is one row, not
   * hundreds. A change that throws leaves nothing behind.
   */
  inTransaction<T>(change: () => T): T {
    this.statements = [];
    try {
      return this.storage.transactionSync(() => {
        const result = change();
        if (this.statements.length > 0) this.write({ kind: "d1", statements: coalesceUpserts(this.statements) });
        return result;
      });
    } finally {
      this.statements = [];
    }
  }

  private write(effect: Effect): void {
    this.storage.sql.exec(`INSERT INTO outbox (body) VALUES (?)`, JSON.stringify(effect));
  }

  /** Delivers pending effects in order; on failure leaves them for the alarm to retry. True when all were delivered. */
  flush(): Promise<boolean> {
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
        return true;
      } catch (err) {
        console.error("coordinator outbox: delivery failed, retrying later", err);
        await this.storage.setAlarm(Date.now() + RETRY_MS);
        return false;
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  /**
   * Call right after the state's transaction, before any await, so the alarm commits with it: should
   * this object die before `flush` delivers, the alarm does (a caller that gives up never comes back).
   */
  armDelivery(): Promise<void> | null {
    return this.pending() > 0 ? this.storage.setAlarm(Date.now() + RETRY_MS) : null;
  }

  pending(): number {
    return this.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox`).one().n;
  }

  /**
   * Delivers up to BATCH effects: the D1 mirror rows as one D1 batch (one transaction), beside the
   * pool calls, so dispatching the next node never waits for the mirror. Pool calls keep their order
   * per resource group (a cancel after its dispatch). Each part that was delivered is deleted even if
   * another failed, so a retry repeats only the failed parts (D1 rows are idempotent but log lines).
   */
  private async deliverBatch(): Promise<boolean> {
    const rows = this.storage.sql
      .exec<{ id: number; body: string }>(`SELECT id, body FROM outbox ORDER BY id LIMIT ?`, BATCH)
      .toArray();
    if (rows.length === 0) return false;
    const statements: Statement[] = [];
    const d1Rows: number[] = [];
    const poolCalls = new Map<string, { ids: number[]; calls: PoolEffect[] }>();
    for (const row of rows) {
      const effect = JSON.parse(row.body) as Effect;
      if (effect.kind === "d1") {
        statements.push(...effect.statements);
        d1Rows.push(row.id);
        continue;
      }
      const group = poolCalls.get(poolAddress(effect)) ?? { ids: [], calls: [] };
      group.ids.push(row.id);
      group.calls.push(effect);
      poolCalls.set(poolAddress(effect), group);
    }
    const mirror = async () => {
      if (statements.length === 0) return;
      injectFault(this.env, "outbox.d1"); // test/faults: the D1 mirror write fails; the alarm retries it
      await this.env.DB.batch(compactStatements(statements).map((s) => this.env.DB.prepare(s.sql).bind(...s.params)));
    };
    const parts = [{ ids: d1Rows, deliver: mirror }, ...[...poolCalls].map(([group, { ids, calls }]) => ({ ids, deliver: () => this.callPool(group, calls) }))];
    const settled = await Promise.allSettled(parts.map((p) => p.deliver()));
    injectFault(this.env, "outbox.beforeDelete"); // test/faults: dies after delivering, before deleting the rows: they are sent again
    // A dispatch repeated after its attempt finished would put the attempt back in the pool (its row
    // there is gone once it completes) and run the node twice, so a delivered part never waits on another.
    const delivered = parts.filter((_, i) => settled[i]!.status === "fulfilled").flatMap((p) => p.ids);
    for (let i = 0; i < delivered.length; i += MAX_PARAMS) {
      const ids = delivered.slice(i, i + MAX_PARAMS);
      this.storage.sql.exec(`DELETE FROM outbox WHERE id IN (${ids.map(() => "?").join(", ")})`, ...ids);
    }
    const failed = settled.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    return true;
  }

  /** In order; consecutive dispatches go as one enqueue. */
  private async callPool(address: string, calls: PoolEffect[]): Promise<void> {
    const [workspaceId, resourceGroup] = JSON.parse(address) as [string, string];
    const pool = poolFor(this.env, workspaceId, resourceGroup);
    for (let i = 0; i < calls.length; ) {
      const call = calls[i]!;
      if (call.kind === "cancel") {
        await pool.cancel(call.attemptIds);
        i++;
        continue;
      }
      const tasks = [];
      for (; i < calls.length && calls[i]!.kind === "dispatch"; i++) tasks.push(...(calls[i] as Extract<Effect, { kind: "dispatch" }>).tasks);
      await pool.enqueue(tasks);
    }
  }
}

