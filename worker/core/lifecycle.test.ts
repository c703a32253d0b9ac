// Tests for retry timing and the choice of nodes a rerun repeats.
import { describe, expect, it } from "vitest";
import { MAX_RETRY_DELAY_MS, nextAttemptAt, nodesToRerun, rerunRequest } from "./lifecycle.ts";

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
  const above: Record<string, string[]> = { a: [], b: ["a"], c: ["a", "b"], x: [] };
  const dag = { descendants: (n: string) => below[n]!, ancestors: (n: string) => above[n]! };

  it("reruns every node in mode all", () => {
    expect(nodesToRerun({ mode: "all" }, { a: "succeeded", b: "failed", c: "skipped", x: "succeeded" }, dag)).toEqual(["a", "b", "c", "x"]);
  });

  it("reruns failed and terminated nodes and everything below them in mode failed", () => {
    expect(nodesToRerun({ mode: "failed" }, { a: "succeeded", b: "failed", c: "skipped", x: "succeeded" }, dag)).toEqual(["b", "c"]);
    expect(nodesToRerun({ mode: "failed" }, { a: "terminated", b: "terminated", c: "terminated", x: "succeeded" }, dag)).toEqual(["a", "b", "c"]);
  });

  it("reruns nothing when nothing failed", () => {
    expect(nodesToRerun({ mode: "failed" }, { a: "succeeded", b: "succeeded", c: "succeeded", x: "succeeded" }, dag)).toEqual([]);
  });

  it("reruns a node and everything below it in mode from, reusing what is upstream", () => {
    expect(nodesToRerun({ mode: "from", node: "b" }, { a: "succeeded", b: "succeeded", c: "succeeded", x: "succeeded" }, dag)).toEqual(["b", "c"]);
  });

  it("refuses mode from on a node that is not in the workflow, or whose upstream did not succeed", () => {
    const status = { a: "failed", b: "skipped", c: "skipped", x: "succeeded" } as const;
    expect(() => nodesToRerun({ mode: "from", node: "zz" }, status, dag)).toThrow(/node 'zz' is not a node/);
    expect(() => nodesToRerun({ mode: "from", node: "c" }, status, dag)).toThrow(/reuses the outputs of 'a', which is failed/);
  });

  it("takes node only with mode from, and needs it there", () => {
    expect(rerunRequest("from", "b")).toEqual({ mode: "from", node: "b" });
    expect(() => rerunRequest("from")).toThrow(/mode 'from' needs node/);
    expect(() => rerunRequest("all", "b")).toThrow(/node is only for mode 'from'/);
  });
});
