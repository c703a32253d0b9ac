import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatTime, formatVersion, shortId } from "./format.ts";

describe("formatTime", () => {
  it("writes an ISO time as a 24-hour local time in the given zone", () => {
    expect(formatTime("2026-03-10T14:05:09Z", "UTC")).toBe("2026-03-10 14:05:09");
    expect(formatTime("2026-03-10T23:05:09Z", "Asia/Shanghai")).toBe("2026-03-11 07:05:09");
    expect(formatTime("2026-03-10T00:00:00Z", "UTC")).toBe("2026-03-10 00:00:00");
  });

  it("shows a dash for no time and the raw text for an unparseable one", () => {
    expect(formatTime(null)).toBe("—");
    expect(formatTime("yesterday")).toBe("yesterday");
  });
});

describe("formatDuration", () => {
  const start = "2026-03-10T12:00:00.000Z";
  const after = (ms: number) => new Date(Date.parse(start) + ms).toISOString();

  it("scales its unit with the length", () => {
    expect(formatDuration(start, after(850))).toBe("850 ms");
    expect(formatDuration(start, after(12_400))).toBe("12.4 s");
    expect(formatDuration(start, after(184_000))).toBe("3 m 04 s");
    expect(formatDuration(start, after(7_500_000))).toBe("2 h 05 m");
    expect(formatDuration(start, after(90_000_000))).toBe("1 d 01 h");
  });

  it("counts up to now while unfinished", () => {
    expect(formatDuration(start, null, new Date(after(3000)))).toBe("3.0 s");
  });

  it("is a dash before the start", () => {
    expect(formatDuration(null, null)).toBe("—");
  });
});

describe("shortId and formatVersion", () => {
  it("shortens long ids only", () => {
    expect(shortId("ins_0123456789abcdef")).toBe("ins_0123…");
    expect(shortId("ins_1")).toBe("ins_1");
  });

  it("names a null version the draft", () => {
    expect(formatVersion(null)).toBe("draft");
    expect(formatVersion(3)).toBe("v3");
  });
});

describe("formatBytes", () => {
  it("says a storage size in binary units with one decimal", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(4096)).toBe("4.0 KiB");
    expect(formatBytes(1_258_291)).toBe("1.2 MiB");
    expect(formatBytes(2.5 * 1024 ** 3)).toBe("2.5 GiB");
  });
});
