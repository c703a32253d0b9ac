// The differential fuzzer of DESIGN §2.3: generated script shapes × hostile values, run under real bash and python3.
import fc from "fast-check";
import { rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bashShape, hostileValue, judgeCase, pythonShape, type Shape } from "./fuzz-shapes.ts";
import { prepareNodeCode } from "./prepare.ts";
import { canaryPath, context, runPrepared } from "./testing.ts";

// CI runs a fixed seeded subset (a failure there replays exactly); SLUICE_FUZZ_SEED=random explores,
// SLUICE_FUZZ_CASES sets the size. scripts/fuzz-substitution.ts runs the long recorded runs.
const seedSetting = process.env.SLUICE_FUZZ_SEED ?? "20261206";
const seed = seedSetting === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(seedSetting);
const cases = (n: number) => Number(process.env.SLUICE_FUZZ_CASES ?? n);

function property(shapes: fc.Arbitrary<Shape>, canary: ReturnType<typeof canaryPath>) {
  return fc.property(shapes, hostileValue(canary.path), (shape, value) => {
    const prepared = prepareNodeCode(shape.language, shape.code, context({ triggerMessage: { v: value } }));
    const verdict = judgeCase(shape, value, prepared, () => runPrepared(shape.language, prepared), canary.exists);
    rmSync(canary.path, { force: true });
    expect(verdict, `shape:\n${shape.code}\nvalue: ${JSON.stringify(value)}`).toBeUndefined();
  });
}

describe(`substitution never executes a value (fast-check seed ${seed}; replay with SLUICE_FUZZ_SEED=${seed})`, () => {
  it("bash: every generated shape is refused with a reason, or prints the value literally and runs none of it", () => {
    console.log(`substitution fuzz seed: ${seed}`);
    fc.assert(property(bashShape, canaryPath()), { seed, numRuns: cases(2000) });
  }, 600_000);

  it("python: every generated shape is refused with a reason, or prints the value literally and runs none of it", () => {
    fc.assert(property(pythonShape, canaryPath()), { seed, numRuns: cases(1000) });
  }, 600_000);
});
