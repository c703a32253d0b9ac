import { describe, expect, it } from "vitest";
import { auditRetentionDays, MIN_RETENTION_DAYS, PURGE_QUERY_BUDGET, PURGE_TIME_BUDGET_MS, purgeMayContinue, retentionDays } from "./retention.ts";

describe("retention settings", () => {
  it("keeps run history at least as long as the longest dedup window", () => {
    expect(retentionDays(undefined)).toBe(30);
    expect(retentionDays("90")).toBe(90);
    expect(retentionDays("3")).toBe(MIN_RETENTION_DAYS);
    expect(retentionDays("soon")).toBe(MIN_RETENTION_DAYS);
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
    expect(purgeMayContinue(0, 0, 0)).toBe(true);
    expect(purgeMayContinue(0, PURGE_TIME_BUDGET_MS - 1, PURGE_QUERY_BUDGET - 1)).toBe(true);
    expect(purgeMayContinue(0, PURGE_TIME_BUDGET_MS, 0)).toBe(false);
    expect(purgeMayContinue(0, 0, PURGE_QUERY_BUDGET)).toBe(false);
  });
});
