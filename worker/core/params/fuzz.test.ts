// Property tests: any value substituted into bash or Python comes out literally; templating never throws.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { prepareNodeCode, resolveText, referencesIn } from "./index.ts";
import { context, runPrepared } from "./testing.ts";

/** Printable and control characters, quotes, backslashes, `$`, backticks, unicode; no NUL (no process takes it). */
const value = fc.string({ unit: fc.oneof(fc.constantFrom("'", '"', "`", "\\", "$", "(", ")", "{", "}", "\n", "'''", '"""', "#", "%", "EOF"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })), maxLength: 40 })
  .filter((s) => !s.includes("\0"));

// Python starts slowly (~0.2 s a run), so it gets fewer runs by default; SLUICE_FUZZ_RUNS raises both.
const runs = (n: number) => ({ numRuns: Number(process.env.SLUICE_FUZZ_RUNS ?? n), seed: process.env.SLUICE_FUZZ_SEED ? Number(process.env.SLUICE_FUZZ_SEED) : undefined });

const SHELL_CONTEXTS = [
  'printf "%s" "${workflow.triggerMessage.v}"',
  "printf '%s' '${workflow.triggerMessage.v}'",
  'x=${workflow.triggerMessage.v}; printf "%s" "$x"',
  // Command substitution drops trailing newlines: that is bash, not the substitution.
  'printf "%s" "$(printf "%s" "${workflow.triggerMessage.v}")"',
];

const PYTHON_CONTEXTS = [
  "import sys; sys.stdout.write('${workflow.triggerMessage.v}')",
  'import sys; sys.stdout.write("${workflow.triggerMessage.v}")',
  "import sys; sys.stdout.write('''${workflow.triggerMessage.v}''')",
  "import sys; sys.stdout.write(f'${workflow.triggerMessage.v}')",
  "import sys; sys.stdout.write(r'${workflow.triggerMessage.v}')",
];

describe("substitution is literal for any value (fast-check; replay with SLUICE_FUZZ_SEED)", () => {
  it.each(SHELL_CONTEXTS)("bash: %s", (code) => {
    fc.assert(
      fc.property(value, (v) => {
        const prepared = prepareNodeCode("shell", code, context({ triggerMessage: { v } }));
        const ran = runPrepared("shell", prepared);
        expect(ran.stderr).toBe("");
        expect(ran.stdout).toBe(code.includes("$(") ? v.replace(/\n+$/, "") : v);
      }),
      runs(60),
    );
  }, 120_000);

  it.each(PYTHON_CONTEXTS)("python: %s", (code) => {
    fc.assert(
      fc.property(value, (v) => {
        const prepared = prepareNodeCode("python", code, context({ triggerMessage: { v } }));
        const ran = runPrepared("python", prepared);
        expect(ran.stderr).toBe("");
        expect(ran.stdout).toBe(v);
      }),
      runs(20),
    );
  }, 120_000);
});

describe("templating never throws", () => {
  it("finds references and resolves any text without an exception", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom("$", "{", "}", "[", "]", ":", "-", ".", "workflow", "nodes", "triggerMessage"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })), maxLength: 80 }), (text) => {
        referencesIn(text);
        const result = resolveText(text, context({ triggerMessage: { a: { b: [1, "x"] } } }));
        expect(typeof result.ok).toBe("boolean");
      }),
      { numRuns: 500 },
    );
  });
});
