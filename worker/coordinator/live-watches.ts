// The coordinator's side of log watching: tells the pool which of its instances someone follows live (core/watch.ts).
import { nextRenewalAt, watchChange } from "../core/watch.ts";

/** Storage keys of the watches this coordinator holds on its pools: `watch:<instanceId>` → until. */
const PREFIX = "watch:";
/** When a pool could not be told, how soon the alarm tries again. */
const RETRY_MS = 5_000;

/** The pool an instance's log chunks are fenced in, or null for an instance this coordinator no longer holds. */
type PoolOf = (instanceId: string) => { watch(instanceId: string, until: number | null): Promise<void> } | null;

export class LiveWatches {
  private readonly ctx: DurableObjectState;
  private readonly poolOf: PoolOf;
  /** Set when a pool could not be told: the alarm tries again then. */
  private retryAt: number | null = null;

  constructor(ctx: DurableObjectState, poolOf: PoolOf) {
    this.ctx = ctx;
    this.poolOf = poolOf;
  }

  /**
   * Brings the pools' watches in line with the open sockets: a watch for every instance with one, renewed
   * before it lapses, ended when its last socket closes (`closing` is closing now).
   */
  async reconcile(closing?: WebSocket): Promise<void> {
    const now = Date.now();
    const sockets = new Map<string, number>();
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === closing || ws.readyState !== WebSocket.OPEN) continue;
      for (const tag of this.ctx.getTags(ws)) sockets.set(tag, (sockets.get(tag) ?? 0) + 1);
    }
    const held = this.held();
    this.retryAt = null;
    for (const instanceId of new Set([...sockets.keys(), ...held.keys()])) {
      const change = watchChange(held.get(instanceId) ?? null, sockets.get(instanceId) ?? 0, now);
      if (change === null) continue;
      try {
        await this.poolOf(instanceId)?.watch(instanceId, change.until);
        if (change.until === null) this.ctx.storage.kv.delete(PREFIX + instanceId);
        else this.ctx.storage.kv.put(PREFIX + instanceId, change.until);
      } catch (err) {
        console.error("coordinator: telling the pool about a live follower failed; retrying", instanceId, err);
        this.retryAt = now + RETRY_MS;
      }
    }
  }

  /** When the alarm must renew a watch (or retry telling a pool), or null. */
  nextAt(): number | null {
    const renewal = nextRenewalAt([...this.held().values()]);
    return renewal === null ? this.retryAt : this.retryAt === null ? renewal : Math.min(renewal, this.retryAt);
  }

  private held(): Map<string, number> {
    const held = new Map<string, number>();
    for (const [key, until] of this.ctx.storage.kv.list<number>({ prefix: PREFIX })) held.set(key.slice(PREFIX.length), until);
    return held;
  }
}
