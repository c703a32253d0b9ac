// Substituting values into bash: each reference becomes the expansion of a variable that holds its value.
import type { Substitution } from "./resolve.ts";
import type { ShellSite } from "./shell-syntax.ts";

export type ShellPrepared = { ok: true; script: string; prelude: string; values: string[] } | { ok: false; refused: string[]; message: string };

/** The variable that holds the n-th value (1-based). */
const variableName = (n: number) => `SLUICE_P_${n}`;

/**
 * Bash code that the runner sources through BASH_ENV before the script: it reads each value from
 * the file `$SLUICE_VALUES/<n>` the runner wrote, byte for byte (no value text is in any script).
 */
export function shellPrelude(count: number): string {
  const reads = Array.from({ length: count }, (_, k) => `IFS= read -r -d '' ${variableName(k + 1)} < "$SLUICE_VALUES/${k + 1}"`);
  return [...reads, "unset BASH_ENV SLUICE_VALUES", ""].join("\n");
}

/**
 * Rewrites each placeable reference as an expansion spelled for its quoting context. Bash never
 * reads an expanded value as code there, so a context misjudged can only print the wrong text.
 * The same reference written twice shares one variable.
 */
export function renderShell(code: string, subs: Substitution[], sites: ShellSite[]): ShellPrepared {
  const variables = new Map<string, string>();
  const values: string[] = [];
  const refused: string[] = [];
  const variable = (sub: Substitution) => {
    let name = variables.get(sub.raw);
    if (name === undefined) {
      values.push(sub.value);
      name = variableName(values.length);
      variables.set(sub.raw, name);
    }
    return name;
  };

  let script = "";
  let last = 0;
  subs.forEach((sub, n) => {
    const { context } = sites[n]!;
    if (context !== "unquoted" && context !== "double" && context !== "single" && context !== "ansi") return;
    if (sub.value.includes("\0")) return void refused.push(sub.raw);
    const name = variable(sub);
    const replacement = { unquoted: `"\${${name}}"`, double: `\${${name}}`, single: `'"\${${name}}"'`, ansi: `'"\${${name}}"$'` }[context];
    script += code.slice(last, sub.start) + replacement;
    last = sub.end;
  });
  if (refused.length) {
    return { ok: false, refused, message: refused.map((raw) => `${raw} cannot be substituted: its value contains a NUL character, which bash cannot hold`).join("; ") };
  }
  return { ok: true, script: script + code.slice(last), prelude: values.length ? shellPrelude(values.length) : "", values };
}
