// Resolving references to values: precedence node > workflow > builtin, defaults, nesting and cycles.
import { builtinParams, formatDateExpression, parseDateExpression, type RunClock } from "./dates.ts";
import { BUILTIN_PARAMS, pathText, scanReferences, type ParsedReference, type PathSegment } from "./template.ts";

export interface ResolveContext {
  /** Workflow params, already merged with run-time overrides. */
  workflowParams: Record<string, string>;
  nodeParams: Record<string, string>;
  /** Parsed JSON; a manual run without one passes {}. */
  triggerMessage: unknown;
  /** Outputs of upstream nodes by node name. */
  nodeOutputs: Record<string, Record<string, string>>;
  clock: RunClock;
}

/** Param values may reference params; deeper than this is treated as a definition error. */
export const MAX_PARAM_DEPTH = 5;

export type Lookup = { value: string } | { missing: string };

/** Where values come from: the run's data at run time, stand-ins when checking a definition. */
export interface Sources {
  nodeParams: Record<string, string>;
  workflowParams: Record<string, string>;
  trigger(path: PathSegment[]): Lookup;
  output(node: string, key: string): Lookup;
  clock: RunClock;
}

/** `fatal` problems (cycles, runaway nesting) are definition bugs that a default must not hide. */
export interface Problem {
  ref: string;
  message: string;
  fatal?: boolean;
}
export type Resolution = { ok: true; value: string } | { ok: false; problems: Problem[] };
/** A reference in code with its resolved value, ready to be placed. */
export interface Substitution {
  /** The reference as written, for messages. */
  raw: string;
  start: number;
  end: number;
  value: string;
}

export type Unresolved = { ok: false; unresolved: string[]; message: string };

const has = (record: object, key: string) => Object.hasOwn(record, key);

/** Strings raw; numbers, booleans and null as JSON text; objects and arrays as compact JSON. */
export function renderValue(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Walks a trigger-message path; a numeric key also indexes an array and an index also keys an object. */
export function lookupPath(message: unknown, path: PathSegment[]): Lookup {
  if (message === undefined) return { missing: "the run has no trigger message" };
  let at: unknown = message;
  for (const [i, segment] of path.entries()) {
    const key = "index" in segment ? String(segment.index) : segment.key;
    const next = Array.isArray(at)
      ? /^\d+$/.test(key) ? at[Number(key)] : undefined
      : at !== null && typeof at === "object" && has(at, key) ? (at as Record<string, unknown>)[key] : undefined;
    if (next === undefined) return { missing: `the trigger message has no ${pathText(path.slice(0, i + 1))}` };
    at = next;
  }
  return { value: renderValue(at) };
}

/** Sources for a real run. */
export function runSources(ctx: ResolveContext): Sources {
  return {
    nodeParams: ctx.nodeParams,
    workflowParams: ctx.workflowParams,
    clock: ctx.clock,
    trigger: (path) => lookupPath(ctx.triggerMessage, path),
    output: (node, key) => {
      const outputs = has(ctx.nodeOutputs, node) ? ctx.nodeOutputs[node] : undefined;
      if (!outputs) return { missing: `node ${node} has no outputs here (it is not upstream of this node, or it wrote none)` };
      return has(outputs, key) ? { value: outputs[key]! } : { missing: `node ${node} wrote no output named ${key}` };
    },
  };
}

interface ChainLink {
  key: string;
  label: string;
}

export class Resolver {
  private builtins?: Record<string, string>;
  private readonly sources: Sources;
  constructor(sources: Sources) {
    this.sources = sources;
  }

  /** Resolves every reference in a param value or plain text; unknown plain names are unresolved. */
  template(text: string, chain: ChainLink[] = []): Resolution {
    const refs = scanReferences(text);
    const problems: Problem[] = [];
    let out = "";
    let last = 0;
    for (const ref of refs) {
      const result = this.reference(ref, chain);
      out += text.slice(last, ref.start);
      last = ref.end;
      if (result.ok) out += result.value;
      else problems.push(...result.problems);
    }
    return problems.length ? { ok: false, problems } : { ok: true, value: out + text.slice(last) };
  }

  reference(ref: ParsedReference, chain: ChainLink[] = []): Resolution {
    const found = this.lookup(ref, chain);
    if ("value" in found) return { ok: true, value: found.value };
    const problems = "problems" in found ? found.problems : [this.unresolved(ref, found.missing, chain)];
    if (ref.default !== undefined && !problems.some((p) => p.fatal)) return this.template(ref.default, chain);
    return { ok: false, problems };
  }

  private unresolved(ref: ParsedReference, why: string, chain: ChainLink[]): Problem {
    const where = chain.length ? ` in the value of parameter ${chain.at(-1)!.label}` : "";
    return { ref: ref.raw, message: `unresolved parameter reference ${ref.raw} (${why})${where}` };
  }

  private lookup(ref: ParsedReference, chain: ChainLink[]): Lookup | { problems: Problem[] } {
    const { target } = ref;
    const { nodeParams, workflowParams } = this.sources;
    switch (target.type) {
      case "date":
        return { value: formatDateExpression(parseDateExpression(target.expr)!, this.sources.clock) };
      case "trigger":
        return this.sources.trigger(target.path);
      case "output":
        return this.sources.output(target.node, target.key);
      case "workflow":
        if (has(workflowParams, target.param)) {
          return this.paramValue(ref, `workflow:${target.param}`, `workflow.${target.param}`, workflowParams[target.param]!, chain);
        }
        return { missing: `the workflow has no parameter ${target.param}` };
      case "plain": {
        const name = target.param;
        if (has(nodeParams, name)) return this.paramValue(ref, `node:${name}`, name, nodeParams[name]!, chain);
        if (has(workflowParams, name)) return this.paramValue(ref, `workflow:${name}`, `workflow.${name}`, workflowParams[name]!, chain);
        if ((BUILTIN_PARAMS as readonly string[]).includes(name)) {
          this.builtins ??= builtinParams(this.sources.clock);
          return { value: this.builtins[name]! };
        }
        return { missing: `no node or workflow parameter is named ${name}` };
      }
    }
  }

  private paramValue(ref: ParsedReference, key: string, label: string, value: string, chain: ChainLink[]): Lookup | { problems: Problem[] } {
    const seen = chain.findIndex((link) => link.key === key);
    if (seen >= 0) {
      const cycle = [...chain.slice(seen).map((l) => l.label), label].join(" → ");
      return { problems: [{ ref: ref.raw, message: `parameter reference cycle: ${cycle}`, fatal: true }] };
    }
    if (chain.length >= MAX_PARAM_DEPTH) {
      const path = [...chain.map((l) => l.label), label].join(" → ");
      return { problems: [{ ref: ref.raw, message: `parameter values nest more than ${MAX_PARAM_DEPTH} levels deep: ${path}`, fatal: true }] };
    }
    const result = this.template(value, [...chain, { key, label }]);
    return result.ok ? { value: result.value } : { problems: result.problems };
  }
}

/** Collapses problems into the public failure shape, each reference and message named once. */
export function unresolvedResult(problems: Problem[]): Unresolved {
  const unresolved = [...new Set(problems.map((p) => p.ref))];
  const message = [...new Set(problems.map((p) => p.message))].join("; ");
  return { ok: false, unresolved, message };
}

/** Plain substitution for non-code text (HTTP URL/headers/body): every reference replaced by its value. */
export function resolveText(text: string, ctx: ResolveContext): { ok: true; text: string } | Unresolved {
  const result = new Resolver(runSources(ctx)).template(text);
  return result.ok ? { ok: true, text: result.value } : unresolvedResult(result.problems);
}
