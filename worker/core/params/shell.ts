// Substituting values into bash: each value becomes a variable set by a prelude, never script text.
import { bashSingleQuoted, inertText } from "./literals.ts";
import type { Substitution } from "./resolve.ts";
import type { ShellSite } from "./shell-syntax.ts";

export type ShellPrepared = { ok: true; script: string; prelude: string } | { ok: false; refused: string[]; message: string };

const INTEGER = /^[+-]?\d+$/;
const preview = (value: string) => JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);

/**
 * Rewrites each substitution for the quoting context bash will read it in. The values travel in
 * the prelude, which the runner sources through BASH_ENV so the script's line numbers stay intact.
 */
export function renderShell(code: string, subs: Substitution[], sites: ShellSite[]): ShellPrepared {
  const variables = new Map<string, string>();
  const assignments: string[] = [];
  const refused: string[] = [];
  const reasons: string[] = [];
  const refuse = (sub: Substitution, reason: string) => {
    refused.push(sub.raw);
    reasons.push(`${sub.raw} cannot be substituted: ${reason}`);
  };
  const variable = (value: string) => {
    let name = variables.get(value);
    if (name === undefined) {
      name = `SLUICE_P_${variables.size + 1}`;
      variables.set(value, name);
      assignments.push(`${name}=${bashSingleQuoted(value)}`);
    }
    return name;
  };

  let script = "";
  let last = 0;
  subs.forEach((sub, n) => {
    const site = sites[n]!;
    if (site.context === "escaped") return;
    const replacement = rewrite(sub, site, variable, (reason) => refuse(sub, reason));
    if (replacement === undefined) return;
    script += code.slice(last, sub.start) + replacement;
    last = sub.end;
  });
  if (refused.length) return { ok: false, refused, message: reasons.join("; ") };
  return { ok: true, script: script + code.slice(last), prelude: [...assignments, "unset BASH_ENV", ""].join("\n") };
}

function rewrite(sub: Substitution, site: ShellSite, variable: (value: string) => string, refuse: (reason: string) => void): string | undefined {
  const { value } = sub;
  if (value.includes("\0")) return void refuse("its value contains a NUL character, which bash cannot hold");
  switch (site.context) {
    case "unquoted":
      return `"\${${variable(value)}}"`;
    case "double":
      return `\${${variable(value)}}`;
    case "single":
      return `'"\${${variable(value)}}"'`;
    case "ansi":
      return `'"\${${variable(value)}}"$'`;
    case "comment":
      // Spelled so that even if bash did not read a comment here, the text could not act.
      return inertText(value);
    case "arithmetic":
      // Bash evaluates a variable's text again as an expression there (`a[$(cmd)]` runs cmd).
      if (!INTEGER.test(value)) {
        return void refuse(`bash evaluates it as arithmetic here, which would run code hidden in a value, and its value ${preview(value)} is not an integer`);
      }
      return `\${${variable(value)}}`;
    case "heredoc-literal": {
      const lines = value.split("\n").map((line) => (site.stripTabs ? line.replace(/^\t+/, "") : line));
      if (lines.includes(site.delimiter)) return void refuse(`its value contains a line "${site.delimiter}", which would end the heredoc`);
      if (site.backticks && /[`\\]/.test(value)) {
        return void refuse("it is in a quoted heredoc inside `…`, where a backquote or backslash in its value would end the substitution early; use $(…)");
      }
      return value;
    }
    case "escaped":
      return undefined;
  }
}
