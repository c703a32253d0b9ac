// Conditions in CEL (a safe, non-Turing-complete expression language): trigger filters and branch nodes.
import { Environment } from "@marcbachmann/cel-js";

export const MAX_CONDITION_LENGTH = 4096;

type Program = (variables: Record<string, unknown>) => unknown;
export type CompiledCondition = { ok: true; program: Program } | { ok: false; error: string };
export type ConditionResult = { value: boolean } | { error: string };

// Variables are undeclared and dynamic, so one environment serves every caller (a trigger message's
// fields, a branch node's params and outputs). Limits keep a hostile expression cheap to reject.
const environment = new Environment({
  unlistedVariablesAreDyn: true,
  homogeneousAggregateLiterals: false,
  enableOptionalTypes: true,
  limits: { maxAstNodes: 2_000, maxDepth: 50 },
});

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim();
/** Compiled expressions by kind and text, so a filter checked per event is parsed once. */
const compiled = { condition: new Map<string, CompiledCondition>(), value: new Map<string, CompiledCondition>() };

/** Parses and type-checks an expression once; `what` names it in errors, `typeError` refuses a checked type it cannot be. */
function compile(kind: keyof typeof compiled, expression: string, what: string, typeError: (type: string) => string | null): CompiledCondition {
  const cache = compiled[kind];
  const cached = cache.get(expression);
  if (cached) return cached;
  let result: CompiledCondition;
  if (expression.length > MAX_CONDITION_LENGTH) {
    result = { ok: false, error: `${what} is at most ${MAX_CONDITION_LENGTH} characters` };
  } else {
    try {
      const parsed = environment.parse(expression);
      const checked = parsed.check();
      const refused = checked.valid ? typeError(String(checked.type)) : firstLine(checked.error);
      result = refused === null ? { ok: true, program: parsed as Program } : { ok: false, error: refused };
    } catch (err) {
      result = { ok: false, error: firstLine(err) };
    }
  }
  if (cache.size > 1000) cache.clear();
  cache.set(expression, result);
  return result;
}

/** Parses and type-checks a condition: a parse error or a non-boolean expression is refused at save. */
export function compileCondition(expression: string): CompiledCondition {
  return compile("condition", expression, "a condition", (type) =>
    type === "bool" || type === "dyn" ? null : `a condition must be true or false (bool); this one is ${type}`,
  );
}

/** Only `true` is true; `false`, another value or an evaluation error (e.g. a missing field) is reported, not thrown. */
export function evaluateCondition(expression: string, variables: Record<string, unknown>): ConditionResult {
  const condition = compileCondition(expression);
  if (!condition.ok) return { error: `the condition does not compile: ${condition.error}` };
  try {
    const result = condition.program(variables);
    if (typeof result === "boolean") return { value: result };
    return { error: `the condition gave ${typeof result === "bigint" ? `${result}` : JSON.stringify(result)}, not true or false` };
  } catch (err) {
    return { error: firstLine(err) };
  }
}

export type ValueResult = { value: unknown } | { error: string };

/** Parses and type-checks an expression whose value may be of any type (a concurrency key, DESIGN §2.9). */
export function compileValueExpression(expression: string): CompiledCondition {
  return compile("value", expression, "an expression", () => null);
}

/** The expression's value; an evaluation error (e.g. a missing field) is reported, not thrown. */
export function evaluateValueExpression(expression: string, variables: Record<string, unknown>): ValueResult {
  const compiledExpression = compileValueExpression(expression);
  if (!compiledExpression.ok) return { error: `the expression does not compile: ${compiledExpression.error}` };
  try {
    return { value: compiledExpression.program(variables) };
  } catch (err) {
    return { error: firstLine(err) };
  }
}
