// Substituting values into Python: each value becomes an escaped literal, never code.
import { escapeControls, pythonBytes, pythonStr } from "./literals.ts";
import type { PythonSite } from "./python-lexer.ts";
import type { Substitution } from "./resolve.ts";

export type PythonPrepared = { ok: true; script: string; prelude: "" } | { ok: false; refused: string[]; message: string };

/** Outside strings only a plain number goes in bare; anything else becomes a str literal. */
const PLAIN_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/**
 * Rewrites each substitution for where it sits. Inside a string literal the literal is closed, an
 * escaped literal inserted and the literal reopened with its own prefix and quote, so Python joins
 * them by implicit concatenation: `'a ${x} b'` → `'a ' "…" ' b'`. No inserted text holds a raw
 * newline, so line numbers in tracebacks stay those of the script as written.
 */
export function renderPython(code: string, subs: Substitution[], sites: PythonSite[]): PythonPrepared {
  const refused: string[] = [];
  const reasons: string[] = [];
  let script = "";
  let last = 0;
  subs.forEach((sub, n) => {
    const site = sites[n]!;
    const edit = rewrite(code, sub, site);
    if (edit === undefined) return;
    if ("refuse" in edit) {
      refused.push(sub.raw);
      reasons.push(`${sub.raw} cannot be substituted: ${edit.refuse}`);
      return;
    }
    script += code.slice(last, edit.start) + edit.text;
    last = sub.end;
  });
  if (refused.length) return { ok: false, refused, message: reasons.join("; ") };
  return { ok: true, script: script + code.slice(last), prelude: "" };
}

type Edit = { start: number; text: string } | { refuse: string } | undefined;

const NESTED_QUOTES = "it sits inside f-strings that use both quote characters, so no literal can be placed there";

function rewrite(code: string, sub: Substitution, site: PythonSite): Edit {
  const { value } = sub;
  switch (site.context) {
    case "escaped":
      return undefined;
    case "comment":
      return { start: sub.start, text: escapeControls(value) };
    case "format-spec":
      return { refuse: "it is inside an f-string format spec; put it in a variable or the expression instead" };
    case "code":
      if (PLAIN_NUMBER.test(value)) return { start: sub.start, text: value };
      return site.quote ? { start: sub.start, text: pythonStr(value, site.quote) } : { refuse: NESTED_QUOTES };
    case "string": {
      if (!site.quote) return { refuse: NESTED_QUOTES };
      // Quote characters just before the reference would run into the closing quote (`'''a'` + `'''`),
      // so they move into the inserted literal, where they mean the same.
      const start = sub.start - site.trailingQuotes;
      const text = code.slice(start, sub.start) + value;
      const literal = site.bytes ? pythonBytes(text, site.quote) : pythonStr(text, site.quote);
      return { start, text: `${site.delimiter} ${literal} ${site.prefix}${site.delimiter}` };
    }
  }
}
