import { describe, expect, it } from "vitest";
import { pythonBytes, pythonStr } from "./literals.ts";
import { prepareNodeCode } from "./prepare.ts";
import { context } from "./testing.ts";

const ctx = context({ workflowParams: { x: "V", n: "-12.5", word: "007" }, triggerMessage: { q: `a"b'c\\d\ne` } });
const script = (code: string) => {
  const prepared = prepareNodeCode("python", code, ctx);
  if (!prepared.ok) throw new Error(prepared.message);
  expect(prepared.prelude).toBe("");
  return prepared.script;
};

describe("python: the rewrite follows the tokenizer's context", () => {
  it.each([
    ["single-quoted string", "s = '${workflow.x}'", `s = '' "V" ''`],
    ["double-quoted string", 's = "a ${workflow.x} b"', `s = "a " "V" " b"`],
    ["f-string, beside a replacement field", 's = f"a {y} ${workflow.x} b"', `s = f"a {y} " "V" f" b"`],
    ["raw string keeps its prefix", "s = R'\\d ${workflow.x}'", `s = R'\\d ' "V" R''`],
    ["u-string", "s = u'${workflow.x}'", `s = u'' "V" u''`],
    ["triple-quoted string", "s = '''a\n${workflow.x}\n'''", `s = '''a\n''' "V" '''\n'''`],
    ["bytes", "s = b'${workflow.x}'", `s = b'' b"V" b''`],
    ["raw bytes", "s = Rb'${workflow.x}'", `s = Rb'' b"V" Rb''`],
    ["outside strings, a number as-is", "n = ${workflow.n}", "n = -12.5"],
    ["outside strings, anything else as a str literal", "s = ${workflow.word}", `s = "007"`],
    ["comment (left as written: no value reaches a comment)", "pass  # ${workflow.triggerMessage.q}", "pass  # ${workflow.triggerMessage.q}"],
    ["f-string replacement field (no backslash or quote, for Python < 3.12)", 's = f"{${workflow.x}}"', 's = f"{str().join(map(chr, (86,)))}"'],
    ["doubled braces in an f-string", "s = f'{{${workflow.x}}}'", `s = f'{{' "V" f'}}'`],
    ["string inside an f-string replacement field", `s = f"{d['\${workflow.x}']}"`, `s = f"{d['' + str().join(map(chr, (86,))) + '']}"`],
    ["line continuation then a string", "s = 1 + \\\n  len('${workflow.x}')", `s = 1 + \\\n  len('' "V" '')`],
  ])("%s", (_name, code, expected) => {
    expect(script(code)).toBe(expected);
  });

  it("escapes quotes, backslashes and newlines so the value stays inside its literal", () => {
    expect(script("s = '${workflow.triggerMessage.q}'")).toBe(`s = '' "a\\x22b\\x27c\\x5cd\\x0ae" ''`);
  });

  it("moves quote characters that would run into the closing triple quote", () => {
    expect(script("s = '''it''${workflow.x}'''")).toBe(`s = '''it''' "\\x27\\x27V" ''''''`);
    expect(script('s = r"""say "${workflow.x}" """')).toBe(`s = r"""say """ "\\x22V" r"""" """`);
    expect(script("s = '''it\\'${workflow.x}'''")).toBe(`s = '''it\\'''' "V" ''''''`);
  });

  it("does not take a # inside a string for a comment, nor a quote inside a comment for a string", () => {
    expect(script("s = '#${workflow.x}' # it's ${workflow.x}\nt = ${workflow.x}")).toBe(`s = '#' "V" '' # it's \${workflow.x}\nt = "V"`);
  });

  it("leaves a plain name without a default to Python, and resolves one with a default", () => {
    expect(script('print(f"${price} ${region:-eu} ${bizdate}")')).toBe('print(f"${price} " "eu" f" " "20260309" f"")');
  });

  it("leaves a backslash-escaped reference alone", () => {
    expect(script("s = '\\${workflow.x}'")).toBe("s = '\\${workflow.x}'");
  });

  it("refuses a reference in an f-string format spec", () => {
    expect(prepareNodeCode("python", 'f"{v:${workflow.x}}"', ctx)).toMatchObject({
      ok: false,
      unresolved: ["${workflow.x}"],
      message: expect.stringContaining("format spec"),
    });
  });

  it("fails before running when a reference cannot be resolved", () => {
    expect(prepareNodeCode("python", "print('${workflow.triggerMessage.value}')", context())).toEqual({
      ok: false,
      unresolved: ["${workflow.triggerMessage.value}"],
      message: "unresolved parameter reference ${workflow.triggerMessage.value} (the trigger message has no value)",
    });
  });
});

describe("python literals", () => {
  it("escape every control character, line separator and non-ASCII character in a str", () => {
    expect(pythonStr("\0\x07\t\r\n\x1b\x7f\x85\u2028ü🚀")).toBe('"\\x00\\x07\\x09\\x0d\\x0a\\x1b\\x7f\\x85\\u2028\\xfc\\U0001f680"');
  });

  it("keep only letters, digits, space and _ . , / - as themselves: no quote, brace, #, :, = or + that could form code or a coding: line", () => {
    expect(pythonStr(`a-Z_0.9,/ '"{}#:=+\\`)).toBe('"a-Z_0.9,/ \\x27\\x22\\x7b\\x7d\\x23\\x3a\\x3d\\x2b\\x5c"');
  });

  it("spell bytes as UTF-8, escaped the same way", () => {
    expect(pythonBytes("a'ü\n")).toBe(`b"a\\x27\\xc3\\xbc\\x0a"`);

  });
});
