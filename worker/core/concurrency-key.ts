// policy.concurrency.key (DESIGN §2.9): checked at save, resolved once per run at its start.
import type { WorkflowDefinition } from "./definition.ts";
import type { ErrorDetail } from "./errors.ts";
import { compileValueExpression, evaluateValueExpression } from "./expressions.ts";
import { resolveText, type RunClock } from "./params/index.ts";
import { scanReferences } from "./params/template.ts";

/** A key written `cel:<expression>` is CEL over `workflow.triggerMessage` and `workflow.params`: it reaches inside JSON strings (`bytes(s).json()`). */
export const CEL_KEY_PREFIX = "cel:";
/** The longest value a key may resolve to: an instance whose key resolves longer is skipped, saying so. */
export const MAX_KEY_VALUE_LENGTH = 512;
const PATH = "policy.concurrency.key";

/** What a key resolves against: the run's trigger message, its parameters (declared, with overrides) and its clock. */
export interface KeyContext {
  triggerMessage: unknown;
  params: Record<string, string>;
  clock: RunClock;
}

export type KeyResolution = { value: string } | { error: string };

/**
 * Problems that make the key unresolvable in every run, as 400 details naming policy.concurrency.key:
 * a CEL expression that does not compile; a template reference to a node (nothing has run when an
 * instance is admitted) or to an undeclared parameter.
 */
export function checkConcurrencyKey(def: WorkflowDefinition): ErrorDetail[] {
  const key = def.policy.concurrency?.key;
  if (key === undefined) return [];
  if (key.startsWith(CEL_KEY_PREFIX)) {
    const compiled = compileValueExpression(key.slice(CEL_KEY_PREFIX.length));
    return compiled.ok ? [] : [{ path: PATH, message: `${PATH}: the CEL expression does not compile: ${compiled.error}` }];
  }
  const details: ErrorDetail[] = [];
  const declared = (name: string) => Object.hasOwn(def.params, name);
  const visit = (text: string) => {
    for (const ref of scanReferences(text)) {
      const { target } = ref;
      let problem: string | null = null;
      if (target.type === "output") problem = "node outputs do not exist yet when an instance waits to start";
      else if (target.type === "workflow" && !declared(target.param)) problem = `the workflow has no parameter ${target.param}`;
      else if (target.type === "plain" && !declared(target.param) && target.param !== "bizdate" && target.param !== "cyctime") {
        problem = `no workflow parameter is named ${target.param} (a key sees the trigger message, workflow parameters and dates)`;
      }
      if (problem) details.push({ path: PATH, message: `${PATH}: ${ref.raw} cannot be resolved: ${problem}` });
      if (ref.default !== undefined) visit(ref.default);
    }
  };
  visit(key);
  return details;
}

/** The key's value for one run; an error says why it has none (the instance is then skipped). */
export function resolveConcurrencyKey(key: string, ctx: KeyContext): KeyResolution {
  const resolved = key.startsWith(CEL_KEY_PREFIX) ? celKey(key.slice(CEL_KEY_PREFIX.length), ctx) : templateKey(key, ctx);
  if ("error" in resolved) return { error: `${PATH} could not be resolved: ${resolved.error}` };
  if (resolved.value.length > MAX_KEY_VALUE_LENGTH) {
    return { error: `${PATH} resolved to ${resolved.value.length} characters; a key value is at most ${MAX_KEY_VALUE_LENGTH}` };
  }
  return resolved;
}

function templateKey(key: string, ctx: KeyContext): KeyResolution {
  const result = resolveText(key, { workflowParams: ctx.params, nodeParams: {}, nodeOutputs: {}, triggerMessage: ctx.triggerMessage, clock: ctx.clock });
  return result.ok ? { value: result.text } : { error: result.message };
}

function celKey(expression: string, ctx: KeyContext): KeyResolution {
  const result = evaluateValueExpression(expression, { workflow: { triggerMessage: ctx.triggerMessage ?? {}, params: ctx.params } });
  if ("error" in result) return result;
  const { value } = result;
  if (value === null || value === undefined) return { error: "the expression gave null" };
  if (typeof value === "string") return { value };
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean") return { value: String(value) };
  return { value: JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) };
}
