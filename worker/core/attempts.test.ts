import { describe, expect, it } from "vitest";
import { exitDeadline, holdsPlace, INFRA_RETRIES, lostAttempt, nextOwnAttemptAt } from "./attempts.ts";

describe("lost attempts", () => {
  it("are retried as infrastructure while fewer than the limit were lost, saying which retry follows", () => {
    expect(INFRA_RETRIES).toBe(2);
    expect(lostAttempt("the runner stopped heartbeating", 0)).toEqual({
      retry: "infrastructure",
      error: "lost: the runner stopped heartbeating (infrastructure retry 1 of 2 follows)",
      log: "[sluice] attempt lost: the runner stopped heartbeating; infrastructure retry 1 of 2 starts now\n",
    });
    expect(lostAttempt("gone", 1).retry).toBe("infrastructure");
  });

  it("fail like a script failure once the infrastructure retries are used", () => {
    expect(lostAttempt("gone", 2)).toMatchObject({ retry: "none", error: "lost: gone (all 2 infrastructure retries used)" });
    expect(lostAttempt("gone", 0, 0).retry).toBe("none");
  });
});

describe("a node's own retries", () => {
  const retry = { count: 1, delaySeconds: 10, backoff: "fixed" as const };

  it("do not count attempts lost to the machine", () => {
    // Attempts 1 and 2 were lost, attempt 3 is the first the script failed: one own retry remains.
    expect(nextOwnAttemptAt(retry, 3, 2, 1_000)).toBe(11_000);
    expect(nextOwnAttemptAt(retry, 4, 2, 1_000)).toBeNull();
    expect(nextOwnAttemptAt(retry, 2, 0, 1_000)).toBeNull();
  });
});

describe("places in maxParallel", () => {
  it("are held by a running instance and by a finished one whose stopped processes may still live", () => {
    expect(holdsPlace("running", 0)).toBe(true);
    expect(holdsPlace("terminated", 1)).toBe(true);
    expect(holdsPlace("failed", 2)).toBe(true);
    expect(holdsPlace("terminated", 0)).toBe(false);
    expect(holdsPlace("waiting", 0)).toBe(false);
  });

  it("are given up two lease periods after the stop at the latest", () => {
    expect(exitDeadline(1_000, 30_000)).toBe(61_000);
  });
});
