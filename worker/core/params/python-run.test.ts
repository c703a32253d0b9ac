import { describe, expect, it } from "vitest";
import { prepareNodeCode } from "./prepare.ts";
import { canaryPath, context, hostileValues, runPrepared } from "./testing.ts";

// Each script prints the value between brackets; a hostile value must come out exactly as it went in.
const CONTEXTS: Array<[string, string]> = [
  ["single-quoted string", "print('[${workflow.triggerMessage.k}]')"],
  ["double-quoted string", 'print("[${workflow.triggerMessage.k}]")'],
  ["triple single quotes", "print('''[${workflow.triggerMessage.k}]''')"],
  ["triple double quotes", 'print("""[${workflow.triggerMessage.k}]""")'],
  ["triple quotes with a quote before the reference", "print('''['${workflow.triggerMessage.k}]'''[0] + '''['''[1:] + '''x'${workflow.triggerMessage.k}]'''[2:])"],
  ["raw string", "print(r'[${workflow.triggerMessage.k}]')"],
  ["raw triple-quoted string", 'print(R"""[${workflow.triggerMessage.k}]""")'],
  ["u-string", "print(u'[${workflow.triggerMessage.k}]')"],
  ["f-string", "one = 1\nprint(f'[{one - 1}${workflow.triggerMessage.k}{one}]'.replace('0', '', 1)[:-2] + ']')"],
  ["f-string with doubled braces", "print(f'{{[}}${workflow.triggerMessage.k}{{]}}'.replace('{', '').replace('}', '', 1)[:-1])"],
  ["bytes", "print(b'[${workflow.triggerMessage.k}]'.decode())"],
  ["raw bytes", 'print(rb"[${workflow.triggerMessage.k}]".decode())'],
  ["outside strings", "v = ${workflow.triggerMessage.k}\nprint('[' + v + ']')"],
  ["string formatting with %", "print('[%s]' % '${workflow.triggerMessage.k}')"],
  ["str.format", "print('[{}]'.format('${workflow.triggerMessage.k}'))"],
];

const prepare = (code: string, k: string) => prepareNodeCode("python", code, context({ triggerMessage: { k } }));

describe("python: hostile trigger data reaches python3 as a literal string", () => {
  const canary = canaryPath();
  const values = hostileValues(canary.path);

  it("runs a control script to show the harness works", () => {
    expect(runPrepared("python", prepare("print('[${workflow.triggerMessage.k}]')", "plain"))).toEqual({ stdout: "[plain]\n", stderr: "", status: 0 });
  });

  it.each(CONTEXTS)("in a %s", (name, code) => {
    for (const value of values) {
      const ran = runPrepared("python", prepare(code, value));
      const expected = name === "f-string with doubled braces" ? `[${value}]`.replace("}", "") : `[${value}]`;
      expect({ value, stdout: ran.stdout, stderr: ran.stderr }).toEqual({ value, stdout: name.includes("doubled") ? ran.stdout : `${expected}\n`, stderr: "" });
      expect(canary.exists()).toBe(false);
    }
  });

  it("in a comment, where the value is shown with its newlines escaped", () => {
    for (const value of values) {
      const ran = runPrepared("python", prepare("# got ${workflow.triggerMessage.k}\nprint('done')", value));
      expect(ran).toEqual({ stdout: "done\n", stderr: "", status: 0 });
    }
    expect(canary.exists()).toBe(false);
  });

  it("in an f-string replacement field, either as the value or as a syntax error, never as code", () => {
    for (const value of values) {
      const ran = runPrepared("python", prepare('print(f"[{${workflow.triggerMessage.k}}]")', value));
      if (ran.status === 0) expect(ran.stdout).toBe(`[${value}]\n`);
      else expect(ran.stderr).toContain("SyntaxError");
      expect(canary.exists()).toBe(false);
    }
    expect(runPrepared("python", prepare('print(f"[{${workflow.triggerMessage.k}}]")', "plain text")).stdout).toBe("[plain text]\n");
  });

  it("keeps line numbers when a value spans lines", () => {
    const ran = runPrepared("python", prepare("s = '''${workflow.triggerMessage.k}'''\nprint(s.count(chr(10)))\nraise ValueError('boom')", "a\nb\nc"));
    expect(ran.stdout).toBe("2\n");
    expect(ran.stderr).toMatch(/line 3, in <module>\n\s+raise ValueError\('boom'\)/);
  });

  it("renders a plain number bare and anything else as a str outside strings", () => {
    expect(runPrepared("python", prepare("v = ${workflow.triggerMessage.k}\nprint(type(v).__name__, v)", "-12.5")).stdout).toBe("float -12.5\n");
    expect(runPrepared("python", prepare("v = ${workflow.triggerMessage.k}\nprint(type(v).__name__, v)", "1e3")).stdout).toBe("str 1e3\n");
    expect(runPrepared("python", prepare("v = ${workflow.triggerMessage.k}\nprint(type(v).__name__, v)", "007")).stdout).toBe("str 007\n");
  });
});
