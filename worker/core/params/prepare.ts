// Preparing a shell or python node's code: resolve its references and substitute them safely.
import { pythonSites, type PythonSite } from "./python-lexer.ts";
import { renderPython } from "./python.ts";
import { Resolver, runSources, unresolvedResult, type Problem, type ResolveContext, type Substitution } from "./resolve.ts";
import { shellSites, type ShellSite } from "./shell-lexer.ts";
import { renderShell } from "./shell.ts";
import { isCodeReference, scanReferences, type ParsedReference } from "./template.ts";

export type PreparedCode =
  /** prelude: bash code sourced before the script (shell); "" for python. */
  | { ok: true; script: string; prelude: string }
  | { ok: false; unresolved: string[]; message: string };

export type CodeLanguage = "shell" | "python";

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

/**
 * Resolves the node's references and rewrites its code so that every value reaches the program as
 * a literal string. Any reference that cannot be resolved (or safely placed) fails the node before
 * it runs, naming every such reference.
 */
export function prepareNodeCode(type: CodeLanguage, code: string, ctx: ResolveContext): PreparedCode {
  const declared = new Set([...Object.keys(ctx.nodeParams), ...Object.keys(ctx.workflowParams)]);
  const { refs, sites } = codeReferences(type, code, declared);
  const resolver = new Resolver(runSources(ctx));
  const problems: Problem[] = [];
  const subs: Substitution[] = [];
  const placed: (ShellSite | PythonSite)[] = [];
  refs.forEach((ref, n) => {
    const site = sites[n]!;
    if (site.context === "escaped") return; // `\${…}` is the language's literal text, not a reference
    const result = resolver.reference(ref);
    if (!result.ok) return void problems.push(...result.problems);
    subs.push({ raw: ref.raw, start: ref.start, end: ref.end, value: result.value });
    placed.push(site);
  });
  if (problems.length) return unresolvedResult(problems);
  const rendered = type === "shell" ? renderShell(code, subs, placed as ShellSite[]) : renderPython(code, subs, placed as PythonSite[]);
  return rendered.ok ? rendered : { ok: false, unresolved: rendered.refused, message: rendered.message };
}
