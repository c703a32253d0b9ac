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
const compiled = new Map<string, CompiledCondition>();

/** Parses and type-checks a condition: a parse error or a non-boolean expression is refused at save. */
export function compileCondition(expression: string): CompiledCondition {
  const cached = compiled.get(expression);
  if (cached) return cached;
  let result: CompiledCondition;
  if (expression.length > MAX_CONDITION_LENGTH) {
    result = { ok: false, error: `a condition is at most ${MAX_CONDITION_LENGTH} characters` };
  } else {
    try {
      const parsed = environment.parse(expression);
      const checked = parsed.check();
      if (!checked.valid) result = { ok: false, error: firstLine(checked.error) };
      else if (checked.type !== "bool" && checked.type !== "dyn") result = { ok: false, error: `a condition must be true or false (bool); this one is ${checked.type}` };
      else result = { ok: true, program: parsed as Program };
    } catch (err) {
      result = { ok: false, error: firstLine(err) };
    }
  }
  if (compiled.size > 1000) compiled.clear();
  compiled.set(expression, result);
  return result;
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
const compiledValues = new Map<string, CompiledCondition>();

/** Parses and type-checks an expression whose value may be of any type (a concurrency key, DESIGN §2.9). */
export function compileValueExpression(expression: string): CompiledCondition {
  const cached = compiledValues.get(expression);
  if (cached) return cached;
  let result: CompiledCondition;
  if (expression.length > MAX_CONDITION_LENGTH) {
    result = { ok: false, error: `an expression is at most ${MAX_CONDITION_LENGTH} characters` };
  } else {
    try {
      const parsed = environment.parse(expression);
      const checked = parsed.check();
      result = checked.valid ? { ok: true, program: parsed as Program } : { ok: false, error: firstLine(checked.error) };
    } catch (err) {
      result = { ok: false, error: firstLine(err) };
    }
  }
  if (compiledValues.size > 1000) compiledValues.clear();
  compiledValues.set(expression, result);
  return result;
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
