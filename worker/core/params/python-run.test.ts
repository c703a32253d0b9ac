import { describe, expect, it } from "vitest";
import { prepareNodeCode } from "./prepare.ts";
import { canaryPath, context, hostileValues, runPrepared } from "./testing.ts";

// Each snippet prints `[<value of KEY>]`; a hostile value must come out exactly as it went in.
const CONTEXTS: Array<[string, string]> = [
  ["single-quoted string", "print('[${KEY}]')"],
  ["double-quoted string", 'print("[${KEY}]")'],
  ["triple single-quoted string", "print('''[${KEY}]''')"],
  ["triple double-quoted string", 'print("""[${KEY}]""")'],
  ["triple-quoted string with a quote right before the reference", "print('''x'${KEY}]'''[1:].replace(\"'\", '[', 1))"],
  ["raw string", "print(r'[${KEY}]')"],
  ["raw triple-quoted string", 'print(R"""[${KEY}]""")'],
  ["u-string", "print(u'[${KEY}]')"],
  ["f-string", "print(f'{\"[\"}${KEY}]{1}'[:-1])"],
  ["f-string with doubled braces", "print(f'{{${KEY}}}'.replace('{', '[', 1)[:-1] + ']')"],
  ["bytes string", "print(b'[${KEY}]'.decode())"],
  ["raw bytes string", 'print(rb"[${KEY}]".decode())'],
  ["bare reference outside strings", "v = ${KEY}\nprint('[' + v + ']')"],
  ["string formatted with %", "print('[%s]' % '${KEY}')"],
  ["string formatted with str.format", "print('[{}]'.format('${KEY}'))"],
];

// Real interpreters, many runs: slower than the default timeout allows on a busy machine.
describe("python: hostile trigger data reaches python3 as a literal string", { timeout: 60_000 }, () => {
  const canary = canaryPath();
  const values = hostileValues(canary.path);
  const triggerMessage = Object.fromEntries(values.map((v, i) => [`k${i}`, v]));
  /** One script per context, the snippet repeated once per hostile value, run by one python3. */
  const runAll = (snippet: string) => {
    const code = values.map((_v, i) => snippet.replaceAll("${KEY}", `\${workflow.triggerMessage.k${i}}`)).join("\n");
    return runPrepared("python", prepareNodeCode("python", code, context({ triggerMessage })));
  };

  it.each(CONTEXTS)("in a %s", (_name, snippet) => {
    const ran = runAll(snippet);
    expect({ stdout: ran.stdout, stderr: ran.stderr }).toEqual({ stdout: values.map((v) => `[${v}]\n`).join(""), stderr: "" });
    expect(canary.exists()).toBe(false);
  });

  it("in a comment, where the value is shown with its newlines escaped", () => {
    expect(runAll("# got ${KEY}\nprint('ok')")).toEqual({ stdout: "ok\n".repeat(values.length), stderr: "", status: 0 });
    expect(canary.exists()).toBe(false);
  });

  it("in an f-string replacement field, either as the value or as a syntax error, never as code", () => {
    for (const [i, value] of values.entries()) {
      const prepared = prepareNodeCode("python", `print(f"[{\${workflow.triggerMessage.k${i}}}]")`, context({ triggerMessage }));
      const ran = runPrepared("python", prepared);
      // Python before 3.12 forbids backslashes in f-string expressions, so escaped values fail to compile.
      if (ran.status === 0) expect(ran.stdout).toBe(`[${value}]\n`);
      else expect(ran.stderr).toContain("SyntaxError");
    }
    expect(canary.exists()).toBe(false);
  });
});

describe("python: substituted code behaves like the script as written", { timeout: 60_000 }, () => {
  const run = (code: string, k: string) => runPrepared("python", prepareNodeCode("python", code, context({ triggerMessage: { k } })));

  it("keeps line numbers when a value spans lines", () => {
    const ran = run("s = '''${workflow.triggerMessage.k}'''\nprint(s.count(chr(10)))\nraise ValueError('boom')", "a\nb\nc");
    expect(ran.stdout).toBe("2\n");
    expect(ran.stderr).toMatch(/line 3, in <module>\n\s+raise ValueError\('boom'\)/);
  });

  it("renders a plain number bare and anything else as a str outside strings", () => {
    const code = "v = ${workflow.triggerMessage.k}\nprint(type(v).__name__, v)";
    expect(run(code, "-12.5").stdout).toBe("float -12.5\n");
    expect(run(code, "42").stdout).toBe("int 42\n");
    expect(run(code, "1e3").stdout).toBe("str 1e3\n");
    expect(run(code, "007").stdout).toBe("str 007\n");
  });

  it("keeps the script's own f-string fields and ${...} text", () => {
    expect(run('price = 3\nprint(f"${price} {price} ${workflow.triggerMessage.k}")', "{price}").stdout).toBe("$3 3 {price}\n");
  });
});
