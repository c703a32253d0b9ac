// Property tests: any input to definition validation is accepted or refused with a 400 naming problems, never a crash.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SluiceError } from "./errors.ts";
import { parseDefinition } from "./validate.ts";

const seed = process.env.SLUICE_FUZZ_SEED ? Number(process.env.SLUICE_FUZZ_SEED) : undefined;

function acceptsOrExplains(input: unknown): void {
  try {
    parseDefinition(input);
  } catch (err) {
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).status).toBe(400);
    expect((err as SluiceError).details.length).toBeGreaterThan(0);
  }
}

const name = fc.constantFrom("a", "b", "c", "d", "constructor", "__proto__", "x-y", "", "a b");
const node = fc.record(
  {
    name,
    type: fc.constantFrom("shell", "python", "http", "noop", "branch", "merge", "flink-sql-streaming", "weird", 3),
    code: fc.oneof(fc.string(), fc.constantFrom("echo ${bizdate}", "${workflow.nope}", "${nodes.a.outputs.k}", "$[yyyymmdd-1]")),
    priority: fc.constantFrom(1, 3, 4, 5, 7, 8, -1, "5"),
    params: fc.dictionary(fc.constantFrom("p", "q", "1bad"), fc.constantFrom("v", "${p}", "${q}", "$[yyyymmdd]")),
    http: fc.record({ url: fc.constantFrom("https://x.test/${p}", "${p}", "ftp://x"), method: fc.constantFrom("GET", "BREW") }),
    conditions: fc.array(fc.record({ when: fc.constantFrom("true", "default", "1 +", "params.p == 'v'"), to: name })),
  },
  { requiredKeys: [] },
);
const definition = fc.record(
  {
    name: fc.oneof(fc.string(), fc.constant("w")),
    params: fc.dictionary(fc.constantFrom("p", "q"), fc.constantFrom("v", "${q}", "${p}")),
    policy: fc.record({ priority: fc.integer({ min: -1, max: 9 }), maxParallel: fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 200_000 })), timezone: fc.constantFrom("UTC", "Asia/Shanghai", "Mars/Base") }, { requiredKeys: [] }),
    nodes: fc.array(node, { maxLength: 6 }),
    edges: fc.array(fc.record({ from: name, to: name }), { maxLength: 8 }),
  },
  { requiredKeys: [] },
);

describe("parseDefinition under fuzzing (replay with SLUICE_FUZZ_SEED)", () => {
  it("answers any JSON value with a definition or a 400 that names problems", () => {
    fc.assert(fc.property(fc.jsonValue(), acceptsOrExplains), { numRuns: 500, seed });
  });

  it("answers near-valid definitions (cycles, odd names, bad types and references) the same way", () => {
    fc.assert(fc.property(definition, acceptsOrExplains), { numRuns: 1_000, seed });
  });
});
