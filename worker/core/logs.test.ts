import { describe, expect, it } from "vitest";
import {
  ARCHIVE_QUERIES_PER_BATCH,
  ARCHIVE_QUERY_BUDGET,
  ARCHIVE_TIME_BUDGET_MS,
  archiveMayContinue,
  chunksToArchive,
  contentRange,
  instanceLogPrefix,
  logObjectKey,
  parseByteRange,
} from "./logs.ts";

describe("log object keys", () => {
  it("puts one attempt's log under its workspace and instance, named by node and attempt", () => {
    expect(logObjectKey("ws_1", "ins_a.wf_b", "load-data_2", 3)).toBe("logs/ws_1/ins_a.wf_b/load-data_2/3.log");
  });

  it("keeps every attempt of an instance under the instance's prefix", () => {
    const prefix = instanceLogPrefix("default", "ins_x");
    expect(logObjectKey("default", "ins_x", "n", 1).startsWith(prefix)).toBe(true);
    expect(logObjectKey("default", "ins_xy", "n", 1).startsWith(prefix)).toBe(false);
  });

  it("encodes a part that is not an identifier, so it cannot add a level of its own", () => {
    expect(logObjectKey("ws", "ins", "a/../b", 1)).toBe("logs/ws/ins/a%2F..%2Fb/1.log");
  });
});

describe("what an archive write takes", () => {
  const chunks = [
    { id: 4, text: "a\n" },
    { id: 7, text: "b\n" },
    { id: 9, text: "c\n" },
  ];

  it("takes every chunk into a new object, through the last id", () => {
    expect(chunksToArchive(chunks, 0)).toEqual({ text: "a\nb\nc\n", through: 9 });
  });

  it("skips chunks the object already holds (a write whose delete never happened)", () => {
    expect(chunksToArchive(chunks, 7)).toEqual({ text: "c\n", through: 9 });
  });

  it("has nothing to write when the object holds every chunk", () => {
    expect(chunksToArchive(chunks, 9)).toBeNull();
    expect(chunksToArchive([], 0)).toBeNull();
  });
});

describe("Range headers", () => {
  it("serves the whole log without a Range, with another unit, or with several ranges", () => {
    expect(parseByteRange(null, 100)).toBe("whole");
    expect(parseByteRange("lines=0-5", 100)).toBe("whole");
    expect(parseByteRange("bytes=0-1,5-6", 100)).toBe("whole");
  });

  it("reads bytes=a-b with both ends included, cut at the end of the log", () => {
    expect(parseByteRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseByteRange("bytes=90-200", 100)).toEqual({ start: 90, end: 99 });
  });

  it("reads bytes=a- to the end", () => {
    expect(parseByteRange("bytes=95-", 100)).toEqual({ start: 95, end: 99 });
  });

  it("reads bytes=-n as the last n bytes, or all of a shorter log", () => {
    expect(parseByteRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseByteRange("bytes=-500", 100)).toEqual({ start: 0, end: 99 });
  });

  it("finds a range past the end, reversed, empty or malformed unsatisfiable", () => {
    for (const header of ["bytes=100-", "bytes=100-120", "bytes=9-3", "bytes=-0", "bytes=-", "bytes=x-3", "bytes=1.5-3"]) {
      expect(parseByteRange(header, 100), header).toBe("unsatisfiable");
    }
    expect(parseByteRange("bytes=-5", 0)).toBe("unsatisfiable");
  });

  it("writes Content-Range for a 206 and a 416", () => {
    expect(contentRange({ start: 0, end: 9 }, 100)).toBe("bytes 0-9/100");
    expect(contentRange(null, 100)).toBe("bytes */100");
  });
});

describe("a sweep's budget", () => {
  it("takes a batch while it has time and the whole batch fits in its queries", () => {
    expect(archiveMayContinue(0, 0, 0)).toBe(true);
    expect(archiveMayContinue(0, 0, ARCHIVE_QUERY_BUDGET - ARCHIVE_QUERIES_PER_BATCH)).toBe(true);
    expect(archiveMayContinue(0, 0, ARCHIVE_QUERY_BUDGET - ARCHIVE_QUERIES_PER_BATCH + 1)).toBe(false);
    expect(archiveMayContinue(0, ARCHIVE_TIME_BUDGET_MS, 0)).toBe(false);
  });
});
