// The reference grammar: finding `${name}`, `${name:-default}` and `$[date expression]` in text.
import { parseDateExpression } from "./dates.ts";

export interface Reference {
  raw: string;
  start: number;
  end: number;
  kind: "param" | "date";
  name: string;
  default?: string;
}

export type PathSegment = { key: string } | { index: number };

/** What a reference points at, parsed once so resolution never re-reads the name. */
export type Target =
  | { type: "trigger"; path: PathSegment[] }
  | { type: "workflow"; param: string }
  | { type: "output"; node: string; key: string }
  | { type: "plain"; param: string }
  | { type: "date"; expr: string };

export interface ParsedReference extends Reference {
  target: Target;
}

export const BUILTIN_PARAMS = ["bizdate", "cyctime"] as const;
export const TRIGGER_MESSAGE = "workflow.triggerMessage";

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const NODE = /[A-Za-z0-9_][A-Za-z0-9_-]*/y;
const OUTPUT_KEY = /[A-Za-z0-9_][A-Za-z0-9_.-]*/y;
// A dotted path key stops at anything that could end the reference or start another segment.
const PATH_KEY = /[^.[\]{}:\s"'$\\()]+/y;
const INDEX = /\[(\d{1,9})\]/y;

/** How far past `${` a reference may reach; bounds the work per `$` on hostile or broken text. */
const MAX_REFERENCE_LENGTH = 4096;
const MAX_DATE_EXPRESSION_LENGTH = 64;

const match = (re: RegExp, text: string, at: number) => {
  re.lastIndex = at;
  return re.exec(text)?.[0];
};

/** Parses `["a.b"]` / `['a']` with backslash escapes; returns the key and where it ends. */
function quotedKey(text: string, at: number, limit: number): { key: string; end: number } | undefined {
  const quote = text[at + 1];
  if (text[at] !== "[" || (quote !== '"' && quote !== "'")) return undefined;
  let key = "";
  for (let i = at + 2; i < limit; i++) {
    const c = text[i]!;
    if (c === "\\" && i + 1 < text.length) key += text[++i];
    else if (c === quote) return text[i + 1] === "]" ? { key, end: i + 2 } : undefined;
    else key += c;
  }
  return undefined;
}

function triggerPath(text: string, at: number, limit: number): { path: PathSegment[]; end: number } {
  const path: PathSegment[] = [];
  let i = at;
  for (;;) {
    const key = text[i] === "." ? match(PATH_KEY, text, i + 1) : undefined;
    if (key !== undefined) {
      path.push({ key });
      i += 1 + key.length;
      continue;
    }
    const index = match(INDEX, text, i);
    if (index !== undefined) {
      path.push({ index: Number(index.slice(1, -1)) });
      i += index.length;
      continue;
    }
    const quoted = quotedKey(text, i, limit);
    if (quoted === undefined) return { path, end: i };
    path.push({ key: quoted.key });
    i = quoted.end;
  }
}

/** The name part of `${...}` starting at `at` (just after `${`). */
function parseName(text: string, at: number, limit: number): { target: Target; end: number } | undefined {
  if (text.startsWith(TRIGGER_MESSAGE, at)) {
    const { path, end } = triggerPath(text, at + TRIGGER_MESSAGE.length, limit);
    if (text[end] === "}" || text.startsWith(":-", end)) return { target: { type: "trigger", path }, end };
  }
  if (text.startsWith("workflow.", at)) {
    const param = match(IDENT, text, at + 9);
    return param === undefined ? undefined : { target: { type: "workflow", param }, end: at + 9 + param.length };
  }
  if (text.startsWith("nodes.", at)) {
    const node = match(NODE, text, at + 6);
    const afterNode = at + 6 + (node?.length ?? 0);
    if (node === undefined || !text.startsWith(".outputs.", afterNode)) return undefined;
    const key = match(OUTPUT_KEY, text, afterNode + 9);
    return key === undefined ? undefined : { target: { type: "output", node, key }, end: afterNode + 9 + key.length };
  }
  const param = match(IDENT, text, at);
  return param === undefined ? undefined : { target: { type: "plain", param }, end: at + param.length };
}

/** Index of the `}` closing a default, counting nested `${`; -1 when unbalanced. */
function defaultEnd(text: string, at: number, limit: number): number {
  let depth = 0;
  for (let i = at; i < limit; i++) {
    if (text[i] === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (text[i] === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

/** A syntactic reference starting at `start` (a `$`), or undefined. */
export function referenceAt(text: string, start: number): ParsedReference | undefined {
  if (text[start] !== "$") return undefined;
  const limit = Math.min(text.length, start + MAX_REFERENCE_LENGTH);
  if (text[start + 1] === "[") {
    const close = text.indexOf("]", start + 2);
    if (close < 0 || close - start > MAX_DATE_EXPRESSION_LENGTH) return undefined;
    const expr = text.slice(start + 2, close);
    if (!parseDateExpression(expr)) return undefined;
    const end = close + 1;
    return { raw: text.slice(start, end), start, end, kind: "date", name: expr, target: { type: "date", expr } };
  }
  if (text[start + 1] !== "{") return undefined;
  const parsed = parseName(text, start + 2, limit);
  if (!parsed) return undefined;
  const name = text.slice(start + 2, parsed.end);
  if (text[parsed.end] === "}") {
    const end = parsed.end + 1;
    return { raw: text.slice(start, end), start, end, kind: "param", name, target: parsed.target };
  }
  if (!text.startsWith(":-", parsed.end)) return undefined;
  const close = defaultEnd(text, parsed.end + 2, limit);
  if (close < 0) return undefined;
  const end = close + 1;
  const fallback = text.slice(parsed.end + 2, close);
  return { raw: text.slice(start, end), start, end, kind: "param", name, default: fallback, target: parsed.target };
}

/**
 * Every reference in `text` that `accept` takes, left to right and never overlapping. A refused
 * candidate (e.g. the bash variable in `${FILE:-${workflow.x}}`) is looked inside, so a reference
 * nested in it is still found.
 */
export function scanReferences(text: string, accept: (ref: ParsedReference) => boolean = () => true): ParsedReference[] {
  const found: ParsedReference[] = [];
  for (let i = text.indexOf("$"); i >= 0 && i < text.length; i = text.indexOf("$", i)) {
    const ref = referenceAt(text, i);
    if (ref && accept(ref)) {
      found.push(ref);
      i = ref.end;
    } else {
      i += 1;
    }
  }
  return found;
}

/** All references in text (plain names included, whether declared or not). */
export function referencesIn(text: string): Reference[] {
  return scanReferences(text).map(({ target: _target, ...ref }) => ref);
}

/**
 * Whether `${...}` in node code is Sluice's: `workflow.*`, `nodes.*`, builtins, date expressions and
 * declared parameters. Other plain names belong to the language (bash variables, f-string fields);
 * only Python, which has no `${x:-d}` of its own, takes an unknown name that carries a default.
 */
export function isCodeReference(ref: ParsedReference, declared: ReadonlySet<string>, language: "shell" | "python"): boolean {
  if (ref.target.type !== "plain") return true;
  const name = ref.target.param;
  if (declared.has(name) || (BUILTIN_PARAMS as readonly string[]).includes(name)) return true;
  return language === "python" && ref.default !== undefined;
}

/** Human form of a trigger-message path, e.g. `data.object.key` or `a["x.y"][0]`. */
export function pathText(path: PathSegment[]): string {
  return path
    .map((s, i) =>
      "index" in s ? `[${s.index}]` : /^[^.[\]{}:\s"'$\\()]+$/.test(s.key) ? `${i ? "." : ""}${s.key}` : `[${JSON.stringify(s.key)}]`,
    )
    .join("");
}
