// The recorded run of the substitution fuzzer: `node scripts/fuzz-substitution.ts shell|python CASES [SEED]`.
// Prints one summary line (cases, refused, ran, executions, failures, seed) for bench/RESULTS.md.
import fc from "fast-check";
import { rmSync } from "node:fs";
import { bashShape, hostileValue, judgeCase, pythonShape } from "../worker/core/params/fuzz-shapes.ts";
import { prepareNodeCode } from "../worker/core/params/prepare.ts";
import { canaryPath, context, runPrepared } from "../worker/core/params/testing.ts";

const [language = "shell", casesArg = "1000", seedArg] = process.argv.slice(2);
const cases = Number(casesArg);
const seed = seedArg ? Number(seedArg) : Math.floor(Math.random() * 2 ** 31);
const canary = canaryPath();
const counts = { cases: 0, refused: 0, ran: 0, executions: 0, failures: 0 };
const started = Date.now();

const result = fc.check(
  fc.property(language === "python" ? pythonShape : bashShape, hostileValue(canary.path), (shape, value) => {
    counts.cases++;
    const prepared = prepareNodeCode(shape.language, shape.code, context({ triggerMessage: { v: value } }));
    if (prepared.ok) counts.ran++;
    else counts.refused++;
    const verdict = judgeCase(shape, value, prepared, () => runPrepared(shape.language, prepared), canary.exists);
    if (canary.exists()) counts.executions++;
    rmSync(canary.path, { force: true });
    if (verdict) {
      counts.failures++;
      console.error(`FAILED (${verdict})\n${shape.code}\nvalue: ${JSON.stringify(value)}`);
    }
    if (counts.cases % 5000 === 0) console.error(`${counts.cases} cases, ${Math.round((Date.now() - started) / 1000)} s`);
    return true; // count every failure rather than stop at the first
  }),
  { seed, numRuns: cases },
);
const seconds = Math.round((Date.now() - started) / 1000);
console.log(`${language}: ${counts.cases} cases (${counts.ran} ran, ${counts.refused} refused), executions ${counts.executions}, failures ${counts.failures}, seed ${seed}, ${seconds} s${result.failed ? " (property error)" : ""}`);
process.exitCode = counts.failures || counts.executions ? 1 : 0;
