import { describe, expect, it } from "vitest";
import { chunkBySize, dueEffects, fitsOneOutboxRow, withinSize, isDeadLetter, laneOf, MAX_TRIES, retryDelayMs, type PendingEffect } from "./delivery.ts";

describe("outbox deliveries", () => {
  it("are tried again at once twice, then back off from 2 s, doubling, to at most 5 minutes", () => {
    expect([1, 2, 3, 4, 5].map(retryDelayMs)).toEqual([0, 0, 2_000, 4_000, 8_000]);
    expect(retryDelayMs(30)).toBe(300_000);
  });

  it("give a pool call up after its tries, and the D1 mirror only after a long outage", () => {
    expect(isDeadLetter("pool:[\"ws\",\"g\"]", MAX_TRIES.pool - 1)).toBe(false);
    expect(isDeadLetter("pool:[\"ws\",\"g\"]", MAX_TRIES.pool)).toBe(true);
    expect(isDeadLetter("d1", MAX_TRIES.pool)).toBe(false);
    expect(isDeadLetter("d1", MAX_TRIES.d1)).toBe(true);
    const d1Patience = Array.from({ length: MAX_TRIES.d1 - 1 }, (_, k) => retryDelayMs(k + 1)).reduce((a, b) => a + b, 0);
    expect(d1Patience).toBeGreaterThan(3_600_000);
    const poolPatience = Array.from({ length: MAX_TRIES.pool - 1 }, (_, k) => retryDelayMs(k + 1)).reduce((a, b) => a + b, 0);
    expect(poolPatience).toBeGreaterThanOrEqual(60_000);
    expect(poolPatience).toBeLessThanOrEqual(180_000);

  });
});

describe("outbox rows", () => {
  it("are split so that no row's JSON passes the limit", () => {
    const items = Array.from({ length: 10 }, (_, k) => ({ sql: "x".repeat(30), k }));
    const chunks = chunkBySize(items, 100);
    expect(chunks.flat()).toEqual(items);
    for (const chunk of chunks) expect(JSON.stringify(chunk).length).toBeLessThanOrEqual(100);
    expect(chunks.length).toBeGreaterThan(1);
  });

  it("put an item larger than the limit in a row of its own", () => {
    expect(chunkBySize([{ a: "x".repeat(200) }, { b: 1 }], 100)).toEqual([[{ a: "x".repeat(200) }], [{ b: 1 }]]);
  });

  it("a 1 MiB definition fits one row; one whose escaping doubles it past Durable Object SQLite's 2 MB does not", () => {
    expect(fitsOneOutboxRow({ params: ["x".repeat(1024 * 1024)] })).toBe(true);
    expect(fitsOneOutboxRow({ params: ['"'.repeat(1024 * 1024)] })).toBe(false);
  });

  it("delivers the oldest mirror rows within a batch's size, and a larger row alone", () => {
    const rows = [{ id: 1, size: 60 }, { id: 2, size: 30 }, { id: 3, size: 20 }];
    expect(withinSize(rows, 100).map((r) => r.id)).toEqual([1, 2]);
    expect(withinSize([{ id: 1, size: 500 }, { id: 2, size: 1 }], 100).map((r) => r.id)).toEqual([1]);
  });
});

describe("which outbox effects are due", () => {
  const pool = 'pool:["ws","g"]' as const;
  const other = 'pool:["ws","h"]' as const;
  const ids = (effects: PendingEffect[]) => effects.map((e) => e.id);

  it("sends pool calls on the caller's path and the D1 mirror in the background", () => {
    expect(laneOf(pool)).toBe("pools");
    expect(laneOf("d1")).toBe("mirror");
  });

  it("holds every later mirror row behind one that waits out a backoff, so an older row never lands after a newer one", () => {
    const rows: PendingEffect[] = [
      { id: 1, address: "d1", kind: "d1", nextAt: 5_000 },
      { id: 2, address: "d1", kind: "d1", nextAt: 0 },
      { id: 3, address: "d1", kind: "d1", nextAt: 0 },
    ];
    expect(ids(dueEffects(rows, 1_000))).toEqual([]);
    expect(ids(dueEffects(rows, 5_000))).toEqual([1, 2, 3]);
  });

  it("lets dispatches pass a pool call that backs off, but never a cancel of that pool", () => {
    const rows: PendingEffect[] = [
      { id: 1, address: pool, kind: "dispatch", nextAt: 5_000 },
      { id: 2, address: pool, kind: "dispatch", nextAt: 0 },
      { id: 3, address: pool, kind: "cancel", nextAt: 0 },
      { id: 4, address: other, kind: "cancel", nextAt: 0 },
    ];
    expect(ids(dueEffects(rows, 1_000))).toEqual([2, 4]);
    expect(ids(dueEffects(rows, 5_000))).toEqual([1, 2, 3, 4]);
  });

  it("holds back only what comes after the effect that backs off", () => {
    const rows: PendingEffect[] = [
      { id: 1, address: pool, kind: "cancel", nextAt: 0 },
      { id: 2, address: pool, kind: "cancel", nextAt: 9_000 },
      { id: 3, address: pool, kind: "cancel", nextAt: 0 },
    ];
    expect(ids(dueEffects(rows, 1_000))).toEqual([1]);
  });
});
