import { describe, expect, it } from "vitest";
import {
  forgetVerdict,
  liveWindowMinutes,
  MAX_LIVE_WINDOW_MINUTES,
  MIRROR_WAIT_MS,
  nextDedupSweepAt,
  PRUNE_INTERVAL_MS,
  SEAL_MARGIN_MS,
} from "./live-window.ts";

describe("LIVE_WINDOW_MINUTES", () => {
  it("defaults to an hour and stays within zero and a week", () => {
    expect(liveWindowMinutes(undefined)).toBe(60);
    expect(liveWindowMinutes("")).toBe(60);
    expect(liveWindowMinutes("soon")).toBe(60);
    expect(liveWindowMinutes("15")).toBe(15);
    expect(liveWindowMinutes("2.7")).toBe(2);
    expect(liveWindowMinutes("0")).toBe(0);
    expect(liveWindowMinutes("-5")).toBe(0);
    expect(liveWindowMinutes("1000000")).toBe(MAX_LIVE_WINDOW_MINUTES);
  });
});

describe("forgetting a finished instance", () => {
  const WINDOW = 60_000;
  const finished = { status: "failed", finished_at: 1_000_000 };
  const after = finished.finished_at + WINDOW;

  it("forgets it once its window passed and its mirror rows are delivered", () => {
    expect(forgetVerdict({ instance: finished, oldestUnmirroredAt: null, exiting: false }, after, WINDOW)).toEqual({ kind: "forget" });
    // Rows written well after it finished hold none of its changes.
    expect(forgetVerdict({ instance: finished, oldestUnmirroredAt: finished.finished_at + SEAL_MARGIN_MS + 1, exiting: false }, after, WINDOW)).toEqual({ kind: "forget" });
  });

  it("waits while the D1 mirror still holds rows written up to its finish", () => {
    for (const writtenAt of [finished.finished_at - 5_000, finished.finished_at, finished.finished_at + 10]) {
      expect(forgetVerdict({ instance: finished, oldestUnmirroredAt: writtenAt, exiting: false }, after, WINDOW)).toEqual({ kind: "later", at: after + MIRROR_WAIT_MS });
    }
  });

  it("waits while a stopped process of it may still run", () => {
    expect(forgetVerdict({ instance: finished, oldestUnmirroredAt: null, exiting: true }, after, WINDOW).kind).toBe("later");
  });

  it("keeps an instance inside its window, one running again, and does nothing for one already gone", () => {
    expect(forgetVerdict({ instance: finished, oldestUnmirroredAt: null, exiting: false }, after - 1, WINDOW)).toEqual({ kind: "keep" });
    expect(forgetVerdict({ instance: { status: "waiting", finished_at: null }, oldestUnmirroredAt: null, exiting: false }, after, WINDOW)).toEqual({ kind: "keep" });
    expect(forgetVerdict({ instance: undefined, oldestUnmirroredAt: null, exiting: false }, after, WINDOW)).toEqual({ kind: "keep" });
  });
});

describe("the dedup sweep", () => {
  it("runs at the earliest expiry, at most once per interval, and not at all with no keys", () => {
    expect(nextDedupSweepAt(null, 0)).toBeNull();
    expect(nextDedupSweepAt(10 * PRUNE_INTERVAL_MS, 0)).toBe(10 * PRUNE_INTERVAL_MS);
    expect(nextDedupSweepAt(5, 0)).toBe(PRUNE_INTERVAL_MS);
  });
});
