// Tests for retry timing and the choice of nodes a rerun repeats.
import { describe, expect, it } from "vitest";
import { MAX_RETRY_DELAY_MS, nextAttemptAt, nodesToRerun } from "./lifecycle.ts";

describe("nextAttemptAt", () => {
  it("has no retry without a policy or once the count is used", () => {
    expect(nextAttemptAt(undefined, 1, 0)).toBeNull();
    expect(nextAttemptAt({ count: 2, delaySeconds: 0, backoff: "fixed" }, 3, 0)).toBeNull();
  });

  it("waits the same delay each time with fixed backoff", () => {
    const retry = { count: 3, delaySeconds: 10, backoff: "fixed" as const };
    expect([1, 2, 3].map((a) => nextAttemptAt(retry, a, 1_000))).toEqual([11_000, 11_000, 11_000]);
  });

  it("doubles the delay with exponential backoff and caps it at a day", () => {
    const retry = { count: 10, delaySeconds: 30, backoff: "exponential" as const };
    expect([1, 2, 3].map((a) => nextAttemptAt(retry, a, 0))).toEqual([30_000, 60_000, 120_000]);
    expect(nextAttemptAt({ count: 10, delaySeconds: 86_400, backoff: "exponential" }, 5, 0)).toBe(MAX_RETRY_DELAY_MS);
  });
});

describe("nodesToRerun", () => {
  const below: Record<string, string[]> = { a: ["b", "c"], b: ["c"], c: [], x: [] };
  const descendants = (n: string) => below[n]!;

  it("reruns every node in mode all", () => {
    expect(nodesToRerun("all", { a: "succeeded", b: "failed", c: "skipped", x: "succeeded" }, descendants)).toEqual(["a", "b", "c", "x"]);
  });

  it("reruns failed and terminated nodes and everything below them in mode failed", () => {
    expect(nodesToRerun("failed", { a: "succeeded", b: "failed", c: "skipped", x: "succeeded" }, descendants)).toEqual(["b", "c"]);
    expect(nodesToRerun("failed", { a: "terminated", b: "terminated", c: "terminated", x: "succeeded" }, descendants)).toEqual(["a", "b", "c"]);
  });

  it("reruns nothing when nothing failed", () => {
    expect(nodesToRerun("failed", { a: "succeeded", b: "succeeded", c: "succeeded", x: "succeeded" }, descendants)).toEqual([]);
  });
});
