import { describe, expect, it } from "vitest";
import { bizdateOf, displayDay, isRunDate, todayIn } from "./dates.ts";

describe("bizdateOf", () => {
  it("is the run date minus one day", () => {
    expect(bizdateOf("20260310")).toBe("20260309");
  });

  it("crosses month and year boundaries", () => {
    expect(bizdateOf("20260301")).toBe("20260228");
    expect(bizdateOf("20260101")).toBe("20251231");
  });

  it("lands on 29 February in a leap year", () => {
    expect(bizdateOf("20240301")).toBe("20240229");
    expect(bizdateOf("20000301")).toBe("20000229");
    expect(bizdateOf("19000301")).toBe("19000228");
  });

  it("is null for a run date that is not a real yyyymmdd date", () => {
    for (const text of ["", "2026031", "202603100", "2026-03-10", "20261301", "20260230", "20260000", "abcdefgh", "00010101"]) {
      expect(bizdateOf(text), text).toBeNull();
    }
  });
});

describe("isRunDate", () => {
  it("accepts real dates only", () => {
    expect(isRunDate("20240229")).toBe(true);
    expect(isRunDate("20250229")).toBe(false);
  });
});

describe("todayIn", () => {
  const now = new Date("2026-03-10T23:30:00Z");

  it("is the calendar day in the given time zone", () => {
    expect(todayIn("UTC", now)).toBe("20260310");
    expect(todayIn("Asia/Shanghai", now)).toBe("20260311");
    expect(todayIn("America/Los_Angeles", now)).toBe("20260310");
  });

  it("falls back to UTC for an unknown time zone", () => {
    expect(todayIn("Not/AZone", now)).toBe("20260310");
  });
});

describe("displayDay", () => {
  it("adds dashes to a yyyymmdd day and leaves anything else alone", () => {
    expect(displayDay("20260310")).toBe("2026-03-10");
    expect(displayDay("soon")).toBe("soon");
  });
});
