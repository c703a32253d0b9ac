// Save-time checks (DESIGN §2.2, §2.3): parameter references that can never resolve, malformed ones, and ones no value may reach.
import type { WorkflowDefinition } from "../definition.ts";
import type { ErrorDetail } from "../errors.ts";
import { codeReferences, refusalMessage, refusedReferences } from "./prepare.ts";
import { Resolver, type Lookup, type Problem, type Sources } from "./resolve.ts";
import { referenceAt } from "./template.ts";

// Dates and the trigger message always resolve at run time; their values do not matter here.
const CHECK_CLOCK = { cyctime: new Date(0), timezone: "UTC" };
const SOME_VALUE: Lookup = { value: "" };

/**
 * Every reference that cannot resolve in any run: an undeclared `${workflow.p}`, a
 * `${nodes.x.outputs.k}` where x is not upstream, an unknown plain name in a param value, a cycle
 * between params, a malformed `${workflow.…}`/`${nodes.…}`. A reference with a default is fine as
 * long as its default is. `ancestorsOf(node)` is every node upstream of `node`.
 */
export function checkReferences(def: WorkflowDefinition, ancestorsOf: (node: string) => Set<string>): ErrorDetail[] {
  const nodeNames = new Set(def.nodes.map((n) => n.name));
  const details: ErrorDetail[] = [];
  const workflowMessages = new Set<string>();

  // Workflow params are evaluated in each node's context; here only what fails in every context.
  const anyNodeParam = Object.fromEntries(def.nodes.flatMap((n) => Object.keys(n.params)).map((p) => [p, ""]));
  const workflowLevel = new Resolver(
    sources(def.params, anyNodeParam, (node) => (nodeNames.has(node) ? SOME_VALUE : { missing: `there is no node ${node}` })),
  );
  for (const [name, value] of Object.entries(def.params)) {
    const path = `params.${name}`;
    details.push(...malformed(value, path));
    for (const p of problemsOf(workflowLevel.template(value, [{ key: `workflow:${name}`, label: `workflow.${name}` }]))) {
      workflowMessages.add(p.message);
      details.push({ path, message: p.message });
    }
  }

  def.nodes.forEach((node, i) => {
    const upstream = ancestorsOf(node.name);
    const resolver = new Resolver(
      sources(def.params, node.params, (from) => {
        if (upstream.has(from)) return SOME_VALUE;
        if (from === node.name) return { missing: "a node cannot read its own outputs" };
        if (!nodeNames.has(from)) return { missing: `there is no node ${from}` };
        return { missing: `node ${from} is not upstream of ${node.name}, so its outputs are never available to it` };
      }),
    );
    const seen = new Set<string>();
    const report = (path: string, problems: Problem[]) => {
      for (const { message } of problems) {
        if (workflowMessages.has(message) || seen.has(message)) continue;
        seen.add(message);
        details.push({ path, message });
      }
    };
    for (const [name, value] of Object.entries(node.params)) {
      const path = `nodes[${i}].params.${name}`;
      details.push(...malformed(value, path));
      report(path, problemsOf(resolver.template(value, [{ key: `node:${name}`, label: name }])));
    }
    if (node.type !== "shell" && node.type !== "python") return;
    const path = `nodes[${i}].code`;
    details.push(...malformed(node.code, path));
    const declared = new Set([...Object.keys(node.params), ...Object.keys(def.params)]);
    const { refs, sites } = codeReferences(node.type, node.code, declared);
    for (const refused of refusedReferences(refs, sites, node.code)) details.push({ path, message: `node ${node.name}, ${refusalMessage(refused)}` });
    refs.forEach((ref, n) => {
      const { context } = sites[n]!;
      // Escaped references and those in comments are left as written; refused ones are reported above.
      if (context !== "escaped" && context !== "comment" && context !== "refused") report(path, problemsOf(resolver.reference(ref)));
    });
  });
  return details;
}

function sources(workflowParams: Record<string, string>, nodeParams: Record<string, string>, output: (node: string) => Lookup): Sources {
  return { workflowParams, nodeParams, clock: CHECK_CLOCK, trigger: () => SOME_VALUE, output };
}

const problemsOf = (result: { ok: true } | { ok: false; problems: Problem[] }) => (result.ok ? [] : result.problems);

/** `${workflow.…` or `${nodes.…` that is no reference at all: bash would fail on it at run time. */
function malformed(text: string, path: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const match of text.matchAll(/\$\{(workflow|nodes)\./g)) {
    if (text[match.index - 1] === "\\" || referenceAt(text, match.index)) continue;
    const shown = text.slice(match.index, match.index + 60).split(/[}\n]/)[0];
    const form = match[1] === "nodes" ? "${nodes.<node>.outputs.<key>}" : "${workflow.<param>} or ${workflow.triggerMessage.<path>}";
    details.push({ path, message: `${shown}… is not a valid reference; write ${form}` });
  }
  return details;
}
