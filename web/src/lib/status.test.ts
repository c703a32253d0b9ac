import { describe, expect, it } from "vitest";
import { hasStarted, isEnv, isInstanceStatus, isLive, toneOf } from "./status.ts";

describe("instance liveness", () => {
  it("keeps refreshing waiting and running instances only", () => {
    expect(isLive("waiting")).toBe(true);
    expect(isLive("running")).toBe(true);
    expect(isLive("succeeded")).toBe(false);
    expect(isLive("failed")).toBe(false);
    expect(isLive("terminated")).toBe(false);
  });
});

describe("toneOf", () => {
  it("gives failures and successes different tones", () => {
    expect(toneOf("failed")).toBe("bad");
    expect(toneOf("succeeded")).toBe("ok");
    expect(toneOf("running")).toBe("live");
    expect(toneOf("skipped")).toBe("muted");
  });
});

describe("parsing filter values", () => {
  it("accepts only known statuses and environments", () => {
    expect(isInstanceStatus("running")).toBe(true);
    expect(isInstanceStatus("queued")).toBe(false);
    expect(isInstanceStatus(null)).toBe(false);
    expect(isEnv("prod")).toBe(true);
    expect(isEnv("staging")).toBe(false);
  });
});

describe("hasStarted", () => {
  it("is false for a node that has not been handed out", () => {
    expect(hasStarted({ status: "pending", startedAt: null })).toBe(false);
    expect(hasStarted({ status: "queued", startedAt: null })).toBe(false);
    expect(hasStarted({ status: "skipped", startedAt: null })).toBe(false);
  });

  it("is true once it ran or was stopped while running", () => {
    expect(hasStarted({ status: "running", startedAt: "2026-03-10T00:00:00Z" })).toBe(true);
    expect(hasStarted({ status: "failed", startedAt: null })).toBe(true);
    expect(hasStarted({ status: "queued", startedAt: "2026-03-10T00:00:00Z" })).toBe(true);
  });
});
