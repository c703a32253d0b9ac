// Substituting values into Python: each value becomes an escaped ASCII literal, never raw text.
import { pythonBytes, pythonCharCodes, pythonStr } from "./literals.ts";
import type { PythonSite } from "./python-lexer.ts";
import type { Substitution } from "./resolve.ts";

export type PythonPrepared = { ok: true; script: string; prelude: ""; values: [] };

/** Outside strings only a plain number goes in bare; anything else becomes a str literal. */
const PLAIN_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/**
 * Rewrites each placeable substitution for where it sits. Inside a string literal the literal is
 * closed, an escaped literal inserted and the literal reopened with its own prefix and quote, so
 * Python joins them by implicit concatenation: `'a ${x} b'` → `'a ' "…" ' b'`. No inserted text
 * holds a newline, so line numbers in tracebacks stay those of the script as written. References in
 * comments stay as written: no value's text ever reaches a comment, where it could form a
 * `coding:` line.
 */
export function renderPython(code: string, subs: Substitution[], sites: PythonSite[]): PythonPrepared {
  let script = "";
  let last = 0;
  subs.forEach((sub, n) => {
    const edit = rewrite(code, sub, sites[n]!);
    if (edit === undefined) return;
    script += code.slice(last, edit.start) + edit.text;
    last = sub.end;
  });
  return { ok: true, script: script + code.slice(last), prelude: "", values: [] };
}

function rewrite(code: string, sub: Substitution, site: PythonSite): { start: number; text: string } | undefined {
  const { value } = sub;
  switch (site.context) {
    case "code":
      if (PLAIN_NUMBER.test(value)) return { start: sub.start, text: value };
      // Before Python 3.12 an f-string field holds no backslash (nor its f-string's quote): spelled with chr() there.
      return { start: sub.start, text: site.inField ? pythonCharCodes(value, false) : pythonStr(value) };
    case "string": {
      // Quote characters just before the reference would run into the closing quote (`'''a'` + `'''`),
      // so they move into the inserted literal, where they mean the same.
      const start = sub.start - site.trailingQuotes;
      const text = code.slice(start, sub.start) + value;
      const reopen = `${site.prefix}${site.delimiter}`;
      if (site.inField) return { start, text: `${site.delimiter} + ${pythonCharCodes(text, site.bytes)} + ${reopen}` };
      const literal = site.bytes ? pythonBytes(text) : pythonStr(text);
      return { start, text: `${site.delimiter} ${literal} ${reopen}` };
    }
    default:
      return undefined;
  }
}
