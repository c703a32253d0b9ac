// Trigger filters: CEL conditions on the trigger message (a safe, non-Turing-complete library language).
import { Environment } from "@marcbachmann/cel-js";

export const MAX_FILTER_LENGTH = 4096;

type Program = (context: Record<string, unknown>) => unknown;
export type CompiledFilter = { ok: true; program: Program } | { ok: false; error: string };
export type FilterResult = { pass: true } | { pass: false; error?: string };

// The message's top-level fields are the variables, undeclared and of dynamic type, so one
// environment serves every trigger type (an R2 envelope's `data`, a record's `key`, a webhook body).
const environment = new Environment({
  unlistedVariablesAreDyn: true,
  homogeneousAggregateLiterals: false,
  enableOptionalTypes: true,
  limits: { maxAstNodes: 2_000, maxDepth: 50 },
});

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim();
const compiled = new Map<string, CompiledFilter>();

/** Compiles and type-checks a filter: a parse error or a non-boolean condition is refused at save. */
export function compileFilter(expression: string): CompiledFilter {
  const cached = compiled.get(expression);
  if (cached) return cached;
  let result: CompiledFilter;
  if (expression.length > MAX_FILTER_LENGTH) {
    result = { ok: false, error: `a filter is at most ${MAX_FILTER_LENGTH} characters` };
  } else {
    try {
      const parsed = environment.parse(expression);
      const checked = parsed.check();
      if (!checked.valid) result = { ok: false, error: firstLine(checked.error) };
      else if (checked.type !== "bool" && checked.type !== "dyn") result = { ok: false, error: `a filter must be a condition (bool); this one is ${checked.type}` };
      else result = { ok: true, program: parsed as Program };
    } catch (err) {
      result = { ok: false, error: firstLine(err) };
    }
  }
  if (compiled.size > 1000) compiled.clear();
  compiled.set(expression, result);
  return result;
}

/**
 * The CEL variables: the message's own fields, plus `message`, the whole message, for a field CEL
 * reserves (`type` of a CloudEvent: `message.type`) or a message that is not an object.
 */
function variables(message: unknown): Record<string, unknown> {
  const fields = message !== null && typeof message === "object" && !Array.isArray(message) ? (message as Record<string, unknown>) : {};
  return { ...fields, message };
}

/** Only `true` passes; `false`, a non-boolean or an evaluation error (e.g. a missing field) filters out. */
export function evaluateFilter(expression: string, message: unknown): FilterResult {
  const filter = compileFilter(expression);
  if (!filter.ok) return { pass: false, error: `the filter does not compile: ${filter.error}` };
  try {
    const result = filter.program(variables(message));
    if (result === true) return { pass: true };
    if (result === false) return { pass: false };
    return { pass: false, error: `the filter gave ${typeof result === "bigint" ? `${result}` : JSON.stringify(result)}, not true or false` };
  } catch (err) {
    return { pass: false, error: firstLine(err) };
  }
}
