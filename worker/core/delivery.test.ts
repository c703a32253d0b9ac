import { describe, expect, it } from "vitest";
import { chunkBySize, isDeadLetter, MAX_TRIES, retryDelayMs } from "./delivery.ts";

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
});
