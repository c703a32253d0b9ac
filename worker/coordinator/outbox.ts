// The coordinator's outbox: effects written in the same transaction as the state; pool calls delivered on the caller's path, D1 mirror rows in the background, each in order.
import { chunkBySize, dueEffects, isDeadLetter, retryDelayMs, withinSize, type Address, type Lane, type PendingEffect } from "../core/delivery.ts";
import type { QueuedTask } from "../core/runner-protocol.ts";
import { coalesceUpserts, compactStatements, type Statement } from "../db/mirror.ts";
import { DEFAULT_WORKSPACE } from "../core/tenancy.ts";
import { singleFlight } from "../core/single-flight.ts";
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
const poolAddress = (e: PoolEffect): Address => `pool:${JSON.stringify([e.workspaceId ?? DEFAULT_WORKSPACE, e.resourceGroup])}`;
const addressOf = (e: Effect): Address => (e.kind === "d1" ? "d1" : poolAddress(e));

interface OutboxRow {
  id: number;
  body: string;
  address: string | null;
  tries: number;
}
type PartOutcome = { delivered: number[]; failures: { row: OutboxRow; error: string }[] };

/** A dispatch given up as a dead letter: its attempts never reached their pool and must fail. */
export interface UndeliveredDispatch {
  attemptIds: string[];
  error: string;
}

const RETRY_MS = 2_000;
/**
 * Outbox rows per delivery. A row holds a whole transaction's D1 statements (a queue batch of 100 starts
 * is one row of a few hundred), so a backlog after a D1 outage goes out in bounded D1 batches.
 */
const BATCH = 50;
/** Durable Object SQL takes at most 100 bound parameters per statement. */
const MAX_PARAMS = 100;

/**
 * Delivers one lane's due effects, one delivery at a time (core/single-flight.ts). True when nothing due is
 * left undelivered; an object failing mid-way (not a failed delivery: those are counted) hands over to the alarm.
 */
function laneFlush(deliverBatch: () => Promise<"empty" | "delivered" | "failed">, interrupted: (err: unknown) => Promise<void>): () => Promise<boolean> {
  const flight = singleFlight(async () => {
    let clean = true;
    for (;;) {
      const batch = await deliverBatch();
      if (batch === "empty") return clean;
      if (batch === "failed") clean = false;
    }
  }, (a, b) => a && b);
  return () => flight().catch(async (err: unknown) => (await interrupted(err), false));
}

/** Pool rows read per delivery to find the due ones: those that back off are among them, so the due ones behind them are seen. */
const POOL_WINDOW = 1_000;

export class Outbox {
  /** The current transaction's D1 statements, written as one row (or a few, if large) when it seals. */
  private statements: Statement[] = [];
  private readonly undelivered: UndeliveredDispatch[] = [];
  private readonly pools: () => Promise<boolean>;
  private readonly mirrorLane: () => Promise<boolean>;

  private readonly storage: DurableObjectStorage;
  private readonly env: Env;

  constructor(storage: DurableObjectStorage, env: Env) {
    this.storage = storage;
    this.env = env;
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)`);
    const columns = new Set(storage.sql.exec<{ name: string }>(`PRAGMA table_info(outbox)`).toArray().map((c) => c.name));
    if (!columns.has("address")) {
      storage.sql.exec(`ALTER TABLE outbox ADD COLUMN address TEXT`);
      storage.sql.exec(`ALTER TABLE outbox ADD COLUMN kind TEXT`);
      storage.sql.exec(`ALTER TABLE outbox ADD COLUMN tries INTEGER NOT NULL DEFAULT 0`);
      storage.sql.exec(`ALTER TABLE outbox ADD COLUMN next_at INTEGER NOT NULL DEFAULT 0`);
    }
    // When a row was written: a finished instance leaves live state only once the rows written by then are delivered.
    if (!columns.has("written_at")) storage.sql.exec(`ALTER TABLE outbox ADD COLUMN written_at INTEGER NOT NULL DEFAULT 0`);
    storage.sql.exec(`CREATE TABLE IF NOT EXISTS outbox_dead (id INTEGER PRIMARY KEY, body TEXT NOT NULL, error TEXT NOT NULL, at INTEGER NOT NULL)`);
    // Rows from before delivery tries were counted name their address and kind only in their body.
    for (const row of storage.sql.exec<{ id: number; body: string }>(`SELECT id, body FROM outbox WHERE address IS NULL OR kind IS NULL`).toArray()) {
      try {
        const effect = JSON.parse(row.body) as Effect;
        storage.sql.exec(`UPDATE outbox SET address = ?, kind = ? WHERE id = ?`, addressOf(effect), effect.kind, row.id);
      } catch (err) {
        storage.sql.exec(`INSERT OR REPLACE INTO outbox_dead (id, body, error, at) VALUES (?, ?, ?, ?)`, row.id, row.body, String(err), Date.now());
        storage.sql.exec(`DELETE FROM outbox WHERE id = ?`, row.id);
      }
    }
    // Not a failed delivery (those are counted) but this object failing mid-way: the alarm takes over.
    const interrupted = async (err: unknown) => {
      console.error("coordinator outbox: delivery interrupted, retrying later", err);
      await this.storage.setAlarm(Date.now() + RETRY_MS);
    };
    this.pools = laneFlush(() => this.deliverPoolBatch(), interrupted);
    this.mirrorLane = laneFlush(() => this.deliverMirrorBatch(), interrupted);
  }

  /** Dispatches given up since the last call, to be failed by the engine. */
  takeUndelivered(): UndeliveredDispatch[] {
    return this.undelivered.splice(0);
  }

  /** When the next effect that waits out a backoff is due (null: none waits; one due now is the flush's, or armDelivery's alarm's). */
  nextDeliveryAt(): number | null {
    return this.storage.sql.exec<{ t: number | null }>(`SELECT MIN(next_at) AS t FROM outbox WHERE next_at > ?`, Date.now()).one().t;
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
        // A row stays far below what Durable Object SQLite holds, however large the transaction.
        for (const statements of chunkBySize(coalesceUpserts(this.statements))) this.write({ kind: "d1", statements });
        return result;
      });
    } finally {
      this.statements = [];
    }
  }

  private write(effect: Effect): void {
    this.storage.sql.exec(
      `INSERT INTO outbox (body, address, kind, written_at) VALUES (?, ?, ?, ?)`,
      JSON.stringify(effect),
      addressOf(effect),
      effect.kind,
      Date.now(),
    );
  }

  /**
   * Delivers the due pool calls (what a commit's caller waits for), in order per pool. A failed one waits
   * out its backoff and holds back only that pool's later cancels; past its tries it becomes a dead letter.
   * True when nothing due is left undelivered.
   */
  flushPools(): Promise<boolean> {
    return this.pools();
  }

  /**
   * Delivers the due D1 mirror rows, in order, as few D1 batches as the rows allow: rows of the commits made
   * while one batch is in flight go together in the next. A failed batch holds back every later row.
   */
  flushMirror(): Promise<boolean> {
    return this.mirrorLane();
  }

  /** Both: everything due, pool calls and mirror rows. */
  async flush(): Promise<boolean> {
    const [pools, mirror] = await Promise.all([this.flushPools(), this.flushMirror()]);
    return pools && mirror;
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

  mirrorPending(): number {
    return this.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox WHERE address = 'd1'`).one().n;
  }

  /** When the oldest D1 mirror row not yet delivered was written (null: none is pending). */
  oldestMirrorWrittenAt(): number | null {
    return this.storage.sql.exec<{ t: number | null }>(`SELECT MIN(written_at) AS t FROM outbox WHERE address = 'd1'`).one().t;
  }

  /** The oldest rows of a lane, without their bodies, for the delivery rules (core/delivery.ts). */
  private oldest(lane: Lane, limit: number): (PendingEffect & { size: number })[] {
    return this.storage.sql
      .exec<{ id: number; address: string; kind: string; next_at: number; size: number }>(
        `SELECT id, address, kind, next_at, length(body) AS size FROM outbox WHERE ${lane === "mirror" ? "address = 'd1'" : "address <> 'd1'"} ORDER BY id LIMIT ?`,
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id, address: r.address as Address, kind: r.kind as PendingEffect["kind"], nextAt: r.next_at, size: r.size }));
  }

  private rows(ids: number[]): OutboxRow[] {
    const out: OutboxRow[] = [];
    for (let i = 0; i < ids.length; i += MAX_PARAMS) {
      const chunk = ids.slice(i, i + MAX_PARAMS);
      out.push(
        ...this.storage.sql
          .exec<OutboxRow & Record<string, SqlStorageValue>>(`SELECT id, body, address, tries FROM outbox WHERE id IN (${chunk.map(() => "?").join(", ")}) ORDER BY id`, ...chunk)
          .toArray(),
      );
    }
    return out;
  }

  /** Up to BATCH due pool calls, each pool's in one go, the pools side by side. */
  private async deliverPoolBatch(): Promise<"empty" | "delivered" | "failed"> {
    const now = Date.now();
    const due = dueEffects(this.oldest("pools", POOL_WINDOW), now).slice(0, BATCH);
    if (due.length === 0) return "empty";
    const parts = new Map<Address, OutboxRow[]>();
    for (const row of this.rows(due.map((e) => e.id))) {
      const address = row.address as Address;
      parts.set(address, [...(parts.get(address) ?? []), row]);
    }
    const outcomes = await Promise.all([...parts].map(([address, part]) => this.deliverPool(address, part)));
    return this.settle([...parts.keys()], outcomes, now);
  }

  /** Up to BATCH due mirror rows, and a few MB of them, as one D1 batch (one transaction). */
  private async deliverMirrorBatch(): Promise<"empty" | "delivered" | "failed"> {
    const now = Date.now();
    const due = withinSize(dueEffects(this.oldest("mirror", BATCH), now));
    if (due.length === 0) return "empty";
    const outcome = await this.deliverMirror(this.rows(due.map((e) => e.id)));
    return this.settle(["d1"], [outcome], now);
  }

  /**
   * Each part that was delivered is deleted even if another failed, so a retry repeats only what failed
   * (D1 rows are idempotent but log lines); a failed row waits out its backoff.
   */
  private settle(addresses: Address[], outcomes: PartOutcome[], now: number): "delivered" | "failed" {
    injectFault(this.env, "outbox.beforeDelete"); // test/faults: dies after delivering, before deleting the rows: they are sent again
    let failed = false;
    addresses.forEach((address, i) => {
      const { delivered, failures } = outcomes[i]!;
      this.delete(delivered);
      for (const { row, error } of failures) this.deliveryFailed(address, row, error, now);
      failed ||= failures.length > 0;
    });
    return failed ? "failed" : "delivered";
  }

  /** The D1 rows as one batch: all delivered, or all wait (mostly an outage). */
  private async deliverMirror(rows: OutboxRow[]): Promise<PartOutcome> {
    const statements = rows.flatMap((r) => (JSON.parse(r.body) as Extract<Effect, { kind: "d1" }>).statements);
    try {
      await this.mirror(statements);
      return { delivered: rows.map((r) => r.id), failures: [] };
    } catch (err) {
      return { delivered: [], failures: rows.map((row) => ({ row, error: String(err) })) };
    }
  }

  /**
   * A pool's calls in one go; if that fails, one by one, so a poison call fails alone. After a failed
   * call that pool's later cancels wait (left as they are); dispatches go on.
   */
  private async deliverPool(address: Address, rows: OutboxRow[]): Promise<PartOutcome> {
    const effects = rows.map((r) => JSON.parse(r.body) as PoolEffect);
    try {
      await this.callPool(address, effects);
      return { delivered: rows.map((r) => r.id), failures: [] };
    } catch (err) {
      if (rows.length === 1) return { delivered: [], failures: [{ row: rows[0]!, error: String(err) }] };
    }
    const outcome: PartOutcome = { delivered: [], failures: [] };
    for (const [i, row] of rows.entries()) {
      if (outcome.failures.length > 0 && effects[i]!.kind === "cancel") continue;
      try {
        await this.callPool(address, [effects[i]!]);
        outcome.delivered.push(row.id);
      } catch (err) {
        outcome.failures.push({ row, error: String(err) });
      }
    }
    return outcome;
  }

  private async mirror(statements: Statement[]): Promise<void> {
    if (statements.length === 0) return;
    injectFault(this.env, "outbox.d1"); // test/faults: the D1 mirror write fails; the alarm retries it
    await this.env.DB.batch(compactStatements(statements).map((s) => this.env.DB.prepare(s.sql).bind(...s.params)));
  }

  /** A failed row waits out a backoff; past its tries it moves to the dead letters (a dispatch's attempts then fail). */
  private deliveryFailed(address: Address, row: OutboxRow, error: string, now: number): void {
    console.error(`coordinator outbox: delivery to ${address} failed, retrying later`, error);
    const tries = row.tries + 1;
    if (!isDeadLetter(address, tries)) {
      this.storage.sql.exec(`UPDATE outbox SET tries = ?, next_at = ? WHERE id = ?`, tries, now + retryDelayMs(tries), row.id);
      return;
    }
    this.storage.sql.exec(`INSERT OR REPLACE INTO outbox_dead (id, body, error, at) VALUES (?, ?, ?, ?)`, row.id, row.body, error, now);
    this.delete([row.id]);
    const effect = JSON.parse(row.body) as Effect;
    if (effect.kind === "dispatch") {
      // A dead letter may be malformed (that may be why it died): take the attempt ids it does name.
      const attemptIds = (effect.tasks ?? []).flatMap((t) => (typeof t?.task?.attemptId === "string" ? [t.task.attemptId] : []));
      this.undelivered.push({ attemptIds, error: `could not hand it to resource group ${effect.resourceGroup} after ${tries} tries: ${error}` });
    }
  }

  private delete(ids: number[]): void {
    for (let i = 0; i < ids.length; i += MAX_PARAMS) {
      const chunk = ids.slice(i, i + MAX_PARAMS);
      this.storage.sql.exec(`DELETE FROM outbox WHERE id IN (${chunk.map(() => "?").join(", ")})`, ...chunk);
    }
  }

  /** In order; consecutive dispatches go as one enqueue. */
  private async callPool(address: Address, calls: PoolEffect[]): Promise<void> {
    const [workspaceId, resourceGroup] = JSON.parse(address.slice("pool:".length)) as [string, string];
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

