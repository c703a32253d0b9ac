// Trigger filters: a CEL condition on the trigger message, whose top-level fields are the variables.
import { compileCondition, evaluateCondition, MAX_CONDITION_LENGTH, type CompiledCondition } from "../expressions.ts";

export const MAX_FILTER_LENGTH = MAX_CONDITION_LENGTH;
export type CompiledFilter = CompiledCondition;
export type FilterResult = { pass: true } | { pass: false; error?: string };

export const compileFilter = compileCondition;

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
  const result = evaluateCondition(expression, variables(message));
  if ("error" in result) return { pass: false, error: result.error.replace("the condition", "the filter") };
  return result.value ? { pass: true } : { pass: false };
}
