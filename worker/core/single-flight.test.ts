import { describe, expect, it } from "vitest";
import { singleFlight } from "./single-flight.ts";

describe("singleFlight", () => {
  it("runs one round at a time: calls during a round join it and get exactly one more round", async () => {
    const releases: (() => void)[] = [];
    let rounds = 0;
    let concurrent = 0;
    let most = 0;
    const run = singleFlight(
      async () => {
        rounds++;
        most = Math.max(most, ++concurrent);
        await new Promise<void>((resolve) => releases.push(resolve));
        concurrent--;
        return rounds;
      },
      (a, b) => a + b,
    );
    const first = run();
    const second = run();
    const third = run();
    expect(second).toBe(first);
    expect(third).toBe(first);
    releases.shift()!();
    await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
    releases.shift()!();
    expect(await first).toBe(1 + 2);
    expect(rounds).toBe(2);
    expect(most).toBe(1);
    // Idle again: the next call starts a fresh run.
    const fourth = run();
    expect(fourth).not.toBe(first);
    releases.shift()!();
    expect(await fourth).toBe(3);
  });

  it("rejects every caller of a run whose round throws, and the next call starts afresh", async () => {
    let fail = true;
    const run = singleFlight(async () => {
      if (fail) throw new Error("broken");
      return true;
    }, (a, b) => a && b);
    await expect(run()).rejects.toThrow("broken");
    fail = false;
    expect(await run()).toBe(true);
  });
});
