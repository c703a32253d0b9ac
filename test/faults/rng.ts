// Seeded randomness for the fault suite: a stream for the plan, and per-key draws that do not depend on timing.

/** mulberry32: small, fast and good enough to spread faults; the same seed gives the same stream. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let x = this.next() * choices.reduce((sum, [, w]) => sum + w, 0);
    for (const [value, w] of choices) {
      x -= w;
      if (x < 0) return value;
    }
    return choices.at(-1)![0];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/**
 * A draw in [0, 1) fixed by the seed and a key (FNV-1a): what happens to a given attempt does not
 * depend on when a runner happened to claim it, so a seed replays the same faults on the same work.
 */
export function keyedDraw(seed: number, key: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return new Rng(h).next();
}
