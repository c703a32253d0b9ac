import { describe, expect, it } from "vitest";
import { LogBook, logVersion } from "./log-book.ts";

describe("LogBook", () => {
  it("asks for a full read before appending streamed chunks", () => {
    const book = new LogBook();
    expect(book.chunk("a", 1, "line 3\n")).toBe("read");
    expect(book.text("a", 1)).toBeUndefined();
  });

  it("does not repeat a chunk that the full read already holds", () => {
    const book = new LogBook();
    book.chunk("a", 1, "line 2\n");
    expect(book.beginRead("a", 1)).toBe(true);
    expect(book.chunk("a", 1, "line 3\n")).toBe("held");
    expect(book.read("a", 1, "line 1\nline 2\nline 3\n")).toBe("line 1\nline 2\nline 3\n");
    expect(book.chunk("a", 1, "line 4\n")).toBe("appended");
    expect(book.text("a", 1)).toBe("line 1\nline 2\nline 3\nline 4\n");
  });

  it("appends a chunk written after the full read was taken", () => {
    const book = new LogBook();
    book.beginRead("a", 1);
    book.chunk("a", 1, "late\n");
    expect(book.read("a", 1, "early\n")).toBe("early\nlate\n");
  });

  it("keeps a chunk that arrives while a loaded log is read again", () => {
    const book = new LogBook();
    book.beginRead("a", 1);
    book.read("a", 1, "one\n");
    expect(book.beginRead("a", 1)).toBe(true);
    expect(book.chunk("a", 1, "three\n")).toBe("held");
    expect(book.read("a", 1, "one\ntwo\n")).toBe("one\ntwo\nthree\n");
    expect(book.chunk("a", 1, "four\n")).toBe("appended");
  });

  it("keeps attempts apart and allows one read at a time", () => {
    const book = new LogBook();
    expect(book.beginRead("a", 1)).toBe(true);
    expect(book.beginRead("a", 1)).toBe(false);
    book.read("a", 1, "first");
    book.read("a", 2, "second");
    expect([book.text("a", 1), book.text("a", 2)]).toEqual(["first", "second"]);
  });

  it("keeps held chunks for the next read when a read fails", () => {
    const book = new LogBook();
    book.beginRead("a", 1);
    book.chunk("a", 1, "x\n");
    book.readFailed("a", 1);
    expect(book.beginRead("a", 1)).toBe(true);
    expect(book.read("a", 1, "")).toBe("x\n");
  });
});

describe("logVersion", () => {
  it("changes with the attempt and the status", () => {
    expect(logVersion({ attempt: 1, status: "running" })).not.toBe(logVersion({ attempt: 1, status: "succeeded" }));
    expect(logVersion({ attempt: 1, status: "running" })).not.toBe(logVersion({ attempt: 2, status: "running" }));
  });
});
