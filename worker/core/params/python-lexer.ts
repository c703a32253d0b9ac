// A tokenizer of Python strings and comments: which context each reference in a script sits in.
import type { PythonQuote } from "./literals.ts";

export type PythonSite =
  /** Outside any string; `inField`: inside an f-string replacement field. */
  | { context: "code"; inField: boolean }
  /** Inside a string literal, which is closed and reopened around an inserted literal. */
  | {
      context: "string";
      prefix: string;
      /** The quote as written: `'`, `"`, `'''` or `"""`. */
      delimiter: string;
      bytes: boolean;
      /** Unescaped quote characters right before the reference; moved into the inserted literal. */
      trailingQuotes: number;
      inField: boolean;
    }
  | { context: "comment" | "escaped" }
  /** No literal can stand there: an f-string format spec. */
  | { context: "refused"; reason: string };

const FORMAT_SPEC = "it is inside an f-string format spec, where no literal can stand; copy it to a variable first (w = '${…}') and write f'{x:{w}}'";

type StringFrame = {
  kind: "string";
  prefix: string;
  quote: PythonQuote;
  triple: boolean;
  /** f- and t-strings: braces open replacement fields. */
  fields: boolean;
  bytes: boolean;
  run: number;
};
type Frame = { kind: "code" } | { kind: "comment" } | StringFrame | { kind: "field"; depth: number; spec: boolean };

const PREFIXES = new Set(["r", "u", "b", "f", "t", "br", "rb", "fr", "rf", "tr", "rt"]);
const IDENT_CHAR = /[A-Za-z0-9_\u0080-\uffff]/;
const NEWLINE = /[\r\n]/;

/** The context of each reference (same order as `refs`), as Python's tokenizer would read the script. */
export function pythonSites(code: string, refs: ReadonlyArray<{ start: number; end: number }>): PythonSite[] {
  const refAt = new Map(refs.map((r, n) => [r.start, n]));
  const sites: PythonSite[] = refs.map(() => ({ context: "code", inField: false }));
  const stack: Frame[] = [{ kind: "code" }];
  let i = 0;

  const site = (): PythonSite => {
    const top = stack.at(-1)!;
    const inField = stack.some((f) => f.kind === "field");
    switch (top.kind) {
      case "comment":
        return { context: "comment" };
      case "string": {
        const delimiter = top.triple ? top.quote.repeat(3) : top.quote;
        return { context: "string", prefix: top.prefix, delimiter, bytes: top.bytes, trailingQuotes: top.run, inField };
      }
      case "field":
        return top.spec ? { context: "refused", reason: FORMAT_SPEC } : { context: "code", inField: true };
      case "code":
        return { context: "code", inField };
    }
  };
  const openString = (prefix: string, at: number) => {
    const quote = code[at] as PythonQuote;
    const triple = code.startsWith(quote.repeat(3), at);
    const lower = prefix.toLowerCase();
    stack.push({ kind: "string", prefix, quote, triple, fields: /[ft]/.test(lower), bytes: lower.includes("b"), run: 0 });
    i = at + (triple ? 3 : 1);
  };

  while (i < code.length) {
    const ref = refAt.get(i);
    const top = stack.at(-1)!;
    if (ref !== undefined) {
      sites[ref] = site();
      i = refs[ref]!.end;
      if (top.kind === "string") top.run = 0;
      continue;
    }
    const c = code[i]!;
    if (top.kind === "comment") {
      if (NEWLINE.test(c)) stack.pop();
      else i++;
    } else if (top.kind === "string") {
      if (c === "\\") {
        // Raw strings too: a backslash keeps the next character from ending the string.
        const escaped = refAt.get(i + 1);
        if (escaped !== undefined) sites[escaped] = { context: "escaped" };
        i += code.startsWith("\r\n", i + 1) ? 3 : 2;
        top.run = 0;
      } else if (c === top.quote && (!top.triple || code.startsWith(c.repeat(3), i))) {
        stack.pop();
        i += top.triple ? 3 : 1;
      } else if (NEWLINE.test(c) && !top.triple) {
        stack.pop(); // an unterminated string: Python refuses the script anyway
      } else if (top.fields && (c === "{" || c === "}") && code[i + 1] === c) {
        i += 2;
        top.run = 0;
      } else if (top.fields && c === "{") {
        stack.push({ kind: "field", depth: 0, spec: false });
        i++;
      } else {
        top.run = c === top.quote ? top.run + 1 : 0;
        i++;
      }
    } else if (top.kind === "field" && top.spec) {
      if (c === "{") stack.push({ kind: "field", depth: 0, spec: false });
      else if (c === "}") stack.pop();
      i++;
    } else {
      // Code, or an f-string replacement field's expression.
      if (c === "#" && top.kind === "code") {
        stack.push({ kind: "comment" });
      } else if (c === "'" || c === '"') {
        openString("", i);
      } else if (IDENT_CHAR.test(c)) {
        let end = i;
        while (end < code.length && IDENT_CHAR.test(code[end]!)) end++;
        const word = code.slice(i, end);
        if (PREFIXES.has(word.toLowerCase()) && (code[end] === "'" || code[end] === '"')) openString(word, end);
        else i = end;
      } else if (c === "\\") {
        i += code.startsWith("\r\n", i + 1) ? 3 : 2; // a line continuation
      } else if (top.kind === "field") {
        if ("([{".includes(c)) top.depth++;
        else if (top.depth > 0 && ")]}".includes(c)) top.depth--;
        else if (c === "}") stack.pop();
        else if (c === ":" && top.depth === 0) top.spec = true;
        i++;
      } else {
        i++;
      }
    }
  }
  return sites;
}
