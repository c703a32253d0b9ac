import { describe, expect, it } from "vitest";
import { isWatched, nextRenewalAt, RENEW_WITHIN_MS, WATCH_MS, watchChange } from "./watch.ts";

describe("watching an instance's logs", () => {
  const now = 1_000_000;

  it("sends chunks on only while a watch holds", () => {
    expect(isWatched(null, now)).toBe(false);
    expect(isWatched(now + 1, now)).toBe(true);
    expect(isWatched(now, now)).toBe(false);
  });

  it("starts a watch for the first socket and leaves a fresh one alone", () => {
    expect(watchChange(null, 1, now)).toEqual({ until: now + WATCH_MS });
    expect(watchChange(now + WATCH_MS - 1, 2, now)).toBeNull();
  });

  it("renews a watch before it lapses while sockets stay open", () => {
    expect(watchChange(now + RENEW_WITHIN_MS, 1, now)).toEqual({ until: now + WATCH_MS });
    expect(watchChange(now - 1, 1, now)).toEqual({ until: now + WATCH_MS });
    expect(nextRenewalAt([now + WATCH_MS, now + RENEW_WITHIN_MS + 10])).toBe(now + 10);
    expect(nextRenewalAt([])).toBeNull();
  });

  it("ends the watch when the last socket closes, and asks nothing when none was held", () => {
    expect(watchChange(now + WATCH_MS, 0, now)).toEqual({ until: null });
    expect(watchChange(null, 0, now)).toBeNull();
  });
});
