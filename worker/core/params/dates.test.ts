import { describe, expect, it } from "vitest";
import { SluiceError } from "../errors.ts";
import { builtinParams, evaluateDateExpression, parseDateExpression, runClock, type RunClock } from "./dates.ts";

const at = (iso: string, timezone = "UTC"): RunClock => ({ cyctime: new Date(iso), timezone });
const onRunDate = (runDate: string, timezone = "UTC") => runClock({ runDate, receivedAt: new Date("2030-01-01T12:00:00Z"), timezone });

describe("runClock", () => {
  it("places a run date at midnight of that calendar day in the workflow's zone", () => {
    expect(onRunDate("20260310").cyctime.toISOString()).toBe("2026-03-10T00:00:00.000Z");
    expect(onRunDate("20260310", "Asia/Shanghai").cyctime.toISOString()).toBe("2026-03-09T16:00:00.000Z");
    expect(onRunDate("20260310", "America/New_York").cyctime.toISOString()).toBe("2026-03-10T04:00:00.000Z");
  });

  it("uses the received instant when no run date is given", () => {
    const receivedAt = new Date("2026-03-09T16:30:00Z");
    expect(runClock({ receivedAt, timezone: "Asia/Shanghai" })).toEqual({ cyctime: receivedAt, timezone: "Asia/Shanghai" });
  });

  it.each(["20260230", "2026031", "202603100", "2026-03-10", "20261301", "20260300", "2026031a", ""])(
    "refuses run date %j with a 400 bad_request",
    (runDate) => {
      const error = (() => {
        try {
          onRunDate(runDate);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(SluiceError);
      expect(error).toMatchObject({ status: 400, code: "bad_request" });
      expect((error as Error).message).toContain("yyyymmdd");
    },
  );

  it("accepts a leap day only in a leap year", () => {
    expect(onRunDate("20240229").cyctime.toISOString()).toBe("2024-02-29T00:00:00.000Z");
    expect(() => onRunDate("20250229")).toThrow(SluiceError);
  });

  it("refuses an unknown time zone", () => {
    expect(() => runClock({ receivedAt: new Date(), timezone: "Mars/Olympus" })).toThrow(/time zone/);
  });
});

describe("builtinParams", () => {
  it("gives bizdate as the run date minus one day and cyctime as the run's time", () => {
    expect(builtinParams(onRunDate("20260310"))).toEqual({ bizdate: "20260309", cyctime: "20260310000000" });
  });

  it("crosses month, leap-day and year boundaries", () => {
    expect(builtinParams(onRunDate("20260301")).bizdate).toBe("20260228");
    expect(builtinParams(onRunDate("20240301")).bizdate).toBe("20240229");
    expect(builtinParams(onRunDate("20260101")).bizdate).toBe("20251231");
  });

  it("reads the calendar date in the workflow's zone, not in UTC", () => {
    // 16:30 UTC on the 9th is already 00:30 on the 10th in Shanghai.
    expect(builtinParams(at("2026-03-09T16:30:00Z", "Asia/Shanghai"))).toEqual({ bizdate: "20260309", cyctime: "20260310003000" });
    expect(builtinParams(at("2026-03-09T16:30:00Z", "UTC"))).toEqual({ bizdate: "20260308", cyctime: "20260309163000" });
    // 03:30 UTC on the 10th is still the evening of the 9th in New York.
    expect(builtinParams(at("2026-03-10T03:30:00Z", "America/New_York"))).toEqual({ bizdate: "20260308", cyctime: "20260309233000" });
  });

  it("keeps a run date's midnight on the right day across a DST change", () => {
    // 2026-03-08 is the spring-forward day in New York; its midnight still exists (EST).
    expect(builtinParams(onRunDate("20260309", "America/New_York"))).toEqual({ bizdate: "20260308", cyctime: "20260309000000" });
  });
});

describe("evaluateDateExpression", () => {
  const clock = at("2026-03-10T14:05:09Z");

  it.each([
    ["yyyymmdd", "20260310"],
    ["yyyy-mm-dd", "2026-03-10"],
    ["yyyy/mm/dd", "2026/03/10"],
    ["hh24miss", "140509"],
    ["hh24:mi:ss", "14:05:09"],
    ["yyyymm", "202603"],
    ["yymmdd", "260310"],
    ["yyyymmddhh24miss", "20260310140509"],
    ["yyyy-mm-dd hh24:mi:ss", "2026-03-10 14:05:09"],
  ])("formats $[%s] as %s", (expr, expected) => {
    expect(evaluateDateExpression(expr, clock)).toBe(expected);
  });

  it.each([
    ["yyyymmdd-1", "20260309"],
    ["yyyymmdd-7", "20260303"],
    ["yyyymmdd+1", "20260311"],
    ["yyyy-mm-dd-10", "2026-02-28"],
    ["hh24miss-1/24", "130509"],
    ["hh24miss-15/24", "230509"],
    ["yyyymmddhh24-15/24", "2026030923"],
    ["hh24miss-30/24/60", "133509"],
    ["hh24miss+1/24/60", "140609"],
    ["add_months(yyyymmdd,-1)", "20260210"],
    ["add_months(yyyymm,+12)", "202703"],
    ["add_months(yyyymmdd, -3)", "20251210"],
  ])("shifts $[%s] to %s", (expr, expected) => {
    expect(evaluateDateExpression(expr, clock)).toBe(expected);
  });

  it("clamps add_months to the end of a shorter month", () => {
    expect(evaluateDateExpression("add_months(yyyymmdd,-1)", at("2026-03-31T00:00:00Z"))).toBe("20260228");
    expect(evaluateDateExpression("add_months(yyyymmdd,+12)", at("2024-02-29T00:00:00Z"))).toBe("20250228");
    expect(evaluateDateExpression("add_months(yyyymmdd,+1)", at("2024-01-31T00:00:00Z"))).toBe("20240229");
  });

  it("steps back over a leap day", () => {
    expect(evaluateDateExpression("yyyymmdd-1", at("2024-03-01T00:00:00Z"))).toBe("20240229");
    expect(evaluateDateExpression("yyyymmdd-1", at("2023-03-01T00:00:00Z"))).toBe("20230228");
  });

  it("evaluates in the workflow's zone", () => {
    const shanghai = at("2026-03-09T16:30:00Z", "Asia/Shanghai");
    expect(evaluateDateExpression("yyyymmdd", shanghai)).toBe("20260310");
    expect(evaluateDateExpression("yyyymmdd-1", shanghai)).toBe("20260309");
    expect(evaluateDateExpression("hh24miss", shanghai)).toBe("003000");
  });

  it("moves hours by elapsed time and days by calendar across New York's spring-forward", () => {
    // 07:30 UTC on 2026-03-08 is 03:30 EDT, half an hour after clocks jumped from 02:00 to 03:00.
    const afterJump = at("2026-03-08T07:30:00Z", "America/New_York");
    expect(evaluateDateExpression("hh24miss-1/24", afterJump)).toBe("013000");
    expect(evaluateDateExpression("yyyymmddhh24miss-1", afterJump)).toBe("20260307033000");
  });

  it("moves hours by elapsed time across New York's fall-back", () => {
    // 06:30 UTC on 2026-11-01 is 01:30 EST, the second 01:30 of that night.
    const secondPass = at("2026-11-01T06:30:00Z", "America/New_York");
    expect(evaluateDateExpression("hh24miss-1/24", secondPass)).toBe("013000");
    expect(evaluateDateExpression("hh24miss-2/24", secondPass)).toBe("003000");
  });

  it.each(["1+2", "i-1", "i+1", "", "hh", "yyyymmddx", "yyyymmdd-", "add_months(i,1)", "yyyymmdd*2", "$x"])(
    "is undefined for $[%s], which is not a date expression",
    (expr) => {
      expect(parseDateExpression(expr)).toBeUndefined();
      expect(evaluateDateExpression(expr, clock)).toBeUndefined();
    },
  );
});
