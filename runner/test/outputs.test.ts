// Parsing $SLUICE_OUTPUT: which lines become outputs, and the 64 KB read cap.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { MAX_OUTPUT_FILE_BYTES, parseOutputLines, readOutputFile } from "../src/outputs.ts";

describe("outputs", () => {
  test("takes key=value lines, keeps '=' in values, ignores other lines, and the last value of a key wins", () => {
    const text = ["a=1", "url=x?y=z", "no equals here", "=novalue", "1bad=2", "bad-key=3", "a=2", "empty=", "crlf=v\r", ""].join("\n");
    expect(parseOutputLines(text)).toEqual({ url: "x?y=z", a: "2", empty: "", crlf: "v" });
  });

  test("a key named __proto__ is plain data, not a prototype", () => {
    const outputs = parseOutputLines("__proto__=polluted\n");
    expect(Object.getPrototypeOf(outputs)).toBe(Object.prototype);
    expect(Object.keys(outputs)).toEqual(["__proto__"]);
  });

  test("reads at most 64 KB and drops the line the cap cuts through", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-outputs-"));
    try {
      const file = join(dir, "out");
      await writeFile(file, `first=1\nlong=${"x".repeat(MAX_OUTPUT_FILE_BYTES)}\nafter=2\n`);
      expect(await readOutputFile(file)).toEqual({ first: "1" });
      expect(await readOutputFile(join(dir, "missing"))).toEqual({});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
