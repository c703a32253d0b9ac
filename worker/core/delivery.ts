// When the coordinator's outbox tries an effect again, and when it gives one up as a dead letter (issue 11, item 5).

/** Effects of one address are delivered in order; a failing one holds back only its own address. */
export type Address = "d1" | `pool:${string}`;

/**
 * Who waits for a delivery. A commit answers its caller (a runner's result, a run request, a terminate)
 * once its pool calls are delivered; the D1 mirror follows in the background, many commits in one batch.
 */
export type Lane = "pools" | "mirror";
export const laneOf = (address: Address): Lane => (address === "d1" ? "mirror" : "pools");

/** An outbox row as the delivery rules see it. */
export interface PendingEffect {
  id: number;
  address: Address;
  kind: "d1" | "dispatch" | "cancel";
  /** When its backoff is over (0: due at once). */
  nextAt: number;
}

/**
 * The effects due at `now`, in order, from the oldest pending ones of a lane (in id order, from the first:
 * an effect's elders are always among them). An effect is due once its backoff is over, unless an older
 * effect of its address still waits one out: an older mirror row never lands after a newer one, and a
 * cancel never overtakes its dispatch. Dispatches, each its own attempts, wait for nothing.
 */
export function dueEffects<T extends PendingEffect>(oldest: readonly T[], now: number): T[] {
  const backingOff = new Set<Address>();
  const due: T[] = [];
  for (const effect of oldest) {
    if (effect.nextAt > now) backingOff.add(effect.address);
    else if (effect.kind === "dispatch" || !backingOff.has(effect.address)) due.push(effect);
  }
  return due;
}

const BASE_DELAY_MS = 2_000;
const MAX_DELAY_MS = 5 * 60_000;
/** Failures tried again at once: mostly an object restarting, so a caller's answer can still follow its effects. */
const IMMEDIATE_TRIES = 2;
/**
 * Tries before an effect becomes a dead letter. A pool call that keeps failing (a poison task) gives
 * up after about two minutes so the group's later calls go on; the D1 mirror waits out an outage of
 * over an hour before it drops rows.
 */
export const MAX_TRIES: Record<"d1" | "pool", number> = { d1: 22, pool: 9 };

/** The delay before try `tries + 1`, after `tries` failed ones: at once twice, then 2 s doubling, at most 5 minutes. */
export function retryDelayMs(tries: number): number {
  if (tries <= IMMEDIATE_TRIES) return 0;
  return Math.min(BASE_DELAY_MS * 2 ** (tries - IMMEDIATE_TRIES - 1), MAX_DELAY_MS);
}


/** Whether an effect that has now failed `tries` times is given up. */
export function isDeadLetter(address: Address, tries: number): boolean {
  return tries >= MAX_TRIES[address === "d1" ? "d1" : "pool"];
}

/** Durable Object SQLite holds values up to 2 MB: an outbox row's body stays well under it. */
export const MAX_ROW_CHARS = 512 * 1024;

/**
 * The D1 mirror rows delivered in one batch, by their bodies' size: a run definition's row may be near 2 MB,
 * and 50 of them at once would not fit a Worker's memory.
 */
export const MAX_MIRROR_BATCH_CHARS = 4 * 1024 * 1024;

/** The first effects whose bodies together stay within `limit` characters; the first one always (it is sent alone). */
export function withinSize<T extends { size: number }>(effects: readonly T[], limit = MAX_MIRROR_BATCH_CHARS): T[] {
  let size = 0;
  const taken: T[] = [];
  for (const effect of effects) {
    size += effect.size;
    if (taken.length > 0 && size > limit) break;
    taken.push(effect);
  }
  return taken;
}

/** Durable Object SQLite's limit on a row, in bytes. */
const MAX_STORED_ROW_BYTES = 2_000_000;

/** Whether an item alone fits one outbox row as JSON (an outbox row's other columns are small). */
export function fitsOneOutboxRow(item: unknown): boolean {
  return new TextEncoder().encode(JSON.stringify(item)).length < MAX_STORED_ROW_BYTES - 1024;
}

/** Splits items into runs whose JSON stays under `limit` characters (an item larger than that goes alone). */
export function chunkBySize<T>(items: readonly T[], limit = MAX_ROW_CHARS): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const length = JSON.stringify(item).length + 1;
    if (current.length > 0 && size + length > limit) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += length;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
