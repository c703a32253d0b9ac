// Preparing a shell or python node's code: where each reference sits, what is refused, and the script with values placed.
import { pythonSites, type PythonSite } from "./python-lexer.ts";
import { renderPython } from "./python.ts";
import { Resolver, runSources, unresolvedResult, type Problem, type ResolveContext, type Substitution } from "./resolve.ts";
import { shellSites, type ShellSite } from "./shell-lexer.ts";
import { renderShell } from "./shell.ts";
import { isCodeReference, scanReferences, type ParsedReference } from "./template.ts";

export type PreparedCode =
  /** prelude: bash sourced before the script (shell), reading `values` from the files the runner writes; "" for python. */
  | { ok: true; script: string; prelude: string; values: string[] }
  | { ok: false; unresolved: string[]; message: string };

export type CodeLanguage = "shell" | "python";

/** A reference that no value may reach, where it is and why. */
export interface RefusedReference {
  raw: string;
  line: number;
  reason: string;
}

/** Scripts are run with LF line endings, as they are stored (definitions saved before that may hold CRs). */
export const toLf = (code: string) => code.replace(/\r\n?/g, "\n");

/** The Sluice references in node code with the context each sits in (backslash-escaped ones included). */
export function codeReferences(
  language: CodeLanguage,
  code: string,
  declared: ReadonlySet<string>,
): { refs: ParsedReference[]; sites: (ShellSite | PythonSite)[] } {
  const refs = scanReferences(code, (ref) => isCodeReference(ref, declared, language));
  const sites = language === "shell" ? shellSites(code, refs) : pythonSites(code, refs);
  return { refs, sites };
}

/** The references the code places where no value is safe; they do not depend on any value. */
export function refusedReferences(refs: ParsedReference[], sites: (ShellSite | PythonSite)[], code: string): RefusedReference[] {
  return refs.flatMap((ref, n) => {
    const site = sites[n]!;
    if (site.context !== "refused") return [];
    return [{ raw: ref.raw, line: code.slice(0, ref.start).split("\n").length, reason: site.reason }];
  });
}

export const refusalMessage = (r: RefusedReference) => `line ${r.line}: ${r.raw} cannot be substituted: ${r.reason}`;

/**
 * Resolves the node's references and rewrites its code so that every value reaches the program as
 * a literal string. A reference that cannot be resolved, or sits where no value is safe, fails the
 * node before it runs, naming every such reference.
 */
export function prepareNodeCode(type: CodeLanguage, code: string, ctx: ResolveContext): PreparedCode {
  code = toLf(code);
  const declared = new Set([...Object.keys(ctx.nodeParams), ...Object.keys(ctx.workflowParams)]);
  const { refs, sites } = codeReferences(type, code, declared);
  const refused = refusedReferences(refs, sites, code);
  if (refused.length) return { ok: false, unresolved: refused.map((r) => r.raw), message: refused.map(refusalMessage).join("; ") };
  const resolver = new Resolver(runSources(ctx));
  const problems: Problem[] = [];
  const subs: Substitution[] = [];
  const placed: (ShellSite | PythonSite)[] = [];
  refs.forEach((ref, n) => {
    const site = sites[n]!;
    if (site.context === "escaped" || site.context === "comment") return; // left as written
    const result = resolver.reference(ref);
    if (!result.ok) return void problems.push(...result.problems);
    subs.push({ raw: ref.raw, start: ref.start, end: ref.end, value: result.value });
    placed.push(site);
  });
  if (problems.length) return unresolvedResult(problems);
  if (type === "python") return renderPython(code, subs, placed as PythonSite[]);
  const rendered = renderShell(code, subs, placed as ShellSite[]);
  return rendered.ok ? rendered : { ok: false, unresolved: rendered.refused, message: rendered.message };
}
