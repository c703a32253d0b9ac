import { describe, expect, it } from "vitest";
import { forgetRunnersSeenBefore, RUNNER_MEMORY_MS } from "./runner-roster.ts";

describe("forgetting gone runners", () => {
  it("keeps a runner an hour after it was last seen, or ten lease periods when those are longer", () => {
    const now = 10 * RUNNER_MEMORY_MS;
    expect(forgetRunnersSeenBefore(now, 30_000)).toBe(now - RUNNER_MEMORY_MS);
    expect(forgetRunnersSeenBefore(now, 600_000)).toBe(now - 6_000_000);
  });
});
