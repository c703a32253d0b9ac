import { describe, expect, it } from "vitest";
import { auditRetentionDays, MIN_RETENTION_DAYS, PURGE_QUERY_BUDGET, PURGE_R2_CALL_BUDGET, PURGE_TIME_BUDGET_MS, purgeMayContinue, retentionDays } from "./retention.ts";

describe("retention settings", () => {
  it("keeps run history 30 days unless told, in days or fractions of a day, never less than a minute", () => {
    expect(retentionDays(undefined)).toBe(30);
    expect(retentionDays("")).toBe(30);
    expect(retentionDays("soon")).toBe(30);
    expect(retentionDays("90")).toBe(90);
    expect(retentionDays("0.5")).toBe(0.5);
    expect(retentionDays("0.00001")).toBe(MIN_RETENTION_DAYS);
    expect(retentionDays("-3")).toBe(MIN_RETENTION_DAYS);
    expect(MIN_RETENTION_DAYS * 24 * 60).toBeCloseTo(1);
  });

  it("keeps audit rows a year by default and never fewer days than the run history they name", () => {
    expect(auditRetentionDays(undefined, 30)).toBe(365);
    expect(auditRetentionDays("730", 30)).toBe(730);
    expect(auditRetentionDays("7", 30)).toBe(30);
    expect(auditRetentionDays("never", 60)).toBe(365);
  });
});

describe("a purge's budget", () => {
  it("takes batches while it has time and queries left, and stops at either limit", () => {
    const none = { queries: 0, r2Calls: 0 };
    expect(purgeMayContinue(0, 0, none)).toBe(true);
    expect(purgeMayContinue(0, PURGE_TIME_BUDGET_MS - 1, { queries: PURGE_QUERY_BUDGET - 1, r2Calls: PURGE_R2_CALL_BUDGET - 1 })).toBe(true);
    expect(purgeMayContinue(0, PURGE_TIME_BUDGET_MS, none)).toBe(false);
    expect(purgeMayContinue(0, 0, { queries: PURGE_QUERY_BUDGET, r2Calls: 0 })).toBe(false);
    expect(purgeMayContinue(0, 0, { queries: 0, r2Calls: PURGE_R2_CALL_BUDGET })).toBe(false);
  });
});
