// At-least-once queues for the fault suite: duplicate and re-ordered deliveries, retries, and a dead-letter count.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import worker from "../../worker/index.ts";
import { armFault } from "../../worker/faults.ts";
import type { Rng } from "./rng.ts";

/** wrangler.toml: max_retries = 5, so a message is delivered at most 6 times before the dead-letter queue. */
const MAX_DELIVERIES = 6;

export interface Pending {
  id: string;
  body: unknown;
  timestamp: Date;
  attempts: number;
}

export interface BrokerStats {
  deliveries: number;
  duplicateDeliveries: number;
  reorderedBatches: number;
  retried: number;
  deadLettered: string[];
}

export class Broker {
  private readonly queues = new Map<string, Pending[]>();
  readonly stats: BrokerStats = { deliveries: 0, duplicateDeliveries: 0, reorderedBatches: 0, retried: 0, deadLettered: [] };

  /** Sends a message: its copies land at random places in the backlog (duplicates arrive out of order too). */
  publish(rng: Rng, queue: string, copies: Pending[]): void {
    const backlog = this.backlog(queue);
    for (const [i, copy] of copies.entries()) {
      if (i > 0) this.stats.duplicateDeliveries++;
      backlog.splice(i === 0 ? backlog.length : rng.int(backlog.length + 1), 0, { ...copy });
    }
  }

  pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  pendingIn(queue: string): number {
    return this.backlog(queue).length;
  }

  queueNames(): string[] {
    return [...this.queues.keys()];
  }

  /**
   * Takes up to `size` messages (one copy of an id per batch, as Queues does), shuffles them, and
   * may arm a consumer failure on one of them. Decided now, delivered later, so the plan stays seeded.
   */
  takeBatch(rng: Rng, queue: string, size: number, failOne: boolean): Pending[] {
    const backlog = this.backlog(queue);
    const batch: Pending[] = [];
    const ids = new Set<string>();
    for (let i = 0; i < backlog.length && batch.length < size; ) {
      if (ids.has(backlog[i]!.id)) {
        i++;
        continue;
      }
      ids.add(backlog[i]!.id);
      batch.push(...backlog.splice(i, 1));
    }
    const before = batch.map((m) => m.id).join();
    rng.shuffle(batch);
    if (batch.length > 1 && batch.map((m) => m.id).join() !== before) this.stats.reorderedBatches++;
    if (failOne && batch.length > 0) {
      const victim = rng.pick(batch).id;
      armFault(`ingest:${victim}`);
    }
    return batch;
  }

  /**
   * Hands a batch to the Worker's queue handler as the Queues runtime would. A handler that throws
   * gets every message it did not ack back; a retried message returns with one more attempt.
   */
  async deliver(queue: string, batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    this.stats.deliveries += batch.length;
    const messageBatch = createMessageBatch(queue, batch.map((m) => ({ id: m.id, timestamp: m.timestamp, attempts: m.attempts, body: m.body })));
    const ctx = createExecutionContext();
    let threw = false;
    try {
      await worker.queue(messageBatch, env);
    } catch {
      threw = true;
    }
    const result = await getQueueResult(messageBatch, ctx);
    const acked = new Set(result.explicitAcks);
    const retried = new Set(result.retryMessages.map((r) => r.msgId));
    for (const m of batch) {
      const again = threw || result.retryBatch.retry ? !acked.has(m.id) : retried.has(m.id) && !acked.has(m.id);
      if (!again) continue;
      this.stats.retried++;
      if (m.attempts >= MAX_DELIVERIES) this.stats.deadLettered.push(m.id);
      else this.backlog(queue).push({ ...m, attempts: m.attempts + 1 });
    }
  }

  private backlog(queue: string): Pending[] {
    let q = this.queues.get(queue);
    if (!q) this.queues.set(queue, (q = []));
    return q;
  }
}
