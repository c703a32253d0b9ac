// Conditions written in CEL (a safe, non-Turing-complete expression language), for branch nodes and filters.
import { parse } from "@marcbachmann/cel-js";

type Compiled = ReturnType<typeof parse>;
const cache = new Map<string, Compiled>();
const CACHE_LIMIT = 1_000;

function compiled(expression: string): Compiled {
  let fn = cache.get(expression);
  if (!fn) {
    fn = parse(expression);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(expression, fn);
  }
  return fn;
}

/** Null when the expression parses; otherwise the parser's message (first line: the rest points at the column). */
export function conditionError(expression: string): string | null {
  try {
    compiled(expression);
    return null;
  } catch (err) {
    return firstLine(err);
  }
}

/** Evaluates a condition; anything but boolean true is false, and an evaluation error is reported, not thrown. */
export function evaluateCondition(expression: string, variables: Record<string, unknown>): { value: boolean } | { error: string } {
  try {
    return { value: compiled(expression)(variables) === true };
  } catch (err) {
    return { error: firstLine(err) };
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0]!.trim();
}
