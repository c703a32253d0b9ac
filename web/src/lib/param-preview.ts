// Parameter preview: how each `${...}` of a node resolves for a run date, trigger message and params, before running.
import { Dag } from "../../../worker/core/dag.ts";
import { builtinParams, runClock, type RunClock } from "../../../worker/core/params/dates.ts";
import { codeReferences } from "../../../worker/core/params/prepare.ts";
import { Resolver, runSources, type Sources } from "../../../worker/core/params/resolve.ts";
import { scanReferences, type ParsedReference } from "../../../worker/core/params/template.ts";
import type { NodeDefinition, WorkflowDefinition } from "./api/types.ts";

export interface PreviewInput {
  /** `yyyymmdd`, or blank for "the time of the run" (then `now`). */
  runDate: string;
  triggerMessage: unknown;
  /** Run-time overrides of workflow parameters. */
  params?: Record<string, string>;
  now?: Date;
}

export type ClockPreview = { ok: true; clock: RunClock; bizdate: string; cyctime: string } | { ok: false; error: string };

/** The run's clock and its built-in dates (`20260310` → bizdate `20260309`) in the workflow's time zone. */
export function previewClock(runDate: string, timezone = "UTC", now: Date = new Date()): ClockPreview {
  try {
    const clock = runClock({ runDate: runDate.trim() || undefined, receivedAt: now, timezone });
    return { ok: true, clock, ...builtinParams(clock) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

export interface ReferencePreview {
  /** The reference as written, e.g. `${bizdate}`. */
  raw: string;
  /** Where it is: `code`, `params.target`, `http.url`, … */
  where: string;
  /** ok: known now; runtime: an upstream output, known when that node has run; unresolved: the node would fail. */
  status: "ok" | "runtime" | "unresolved";
  value?: string;
  message?: string;
}

const runtimeValue = (node: string, key: string) => `‹output ${key} of ${node}›`;

/** Where the node's references sit, each with its text. Code is scanned the way the runner substitutes it. */
function referenceSites(node: NodeDefinition, declared: ReadonlySet<string>): { where: string; refs: ParsedReference[] }[] {
  const sites: { where: string; refs: ParsedReference[] }[] = [];
  if (node.type === "shell" || node.type === "python") {
    const { refs, sites: contexts } = codeReferences(node.type, node.code, declared);
    sites.push({ where: "code", refs: refs.filter((_, i) => contexts[i]?.context !== "escaped") });
  }
  if (node.type === "http" && node.http) {
    sites.push({ where: "http.url", refs: scanReferences(node.http.url) });
    for (const [name, value] of Object.entries(node.http.headers)) sites.push({ where: `http.headers.${name}`, refs: scanReferences(value) });
    if (node.http.body) sites.push({ where: "http.body", refs: scanReferences(node.http.body) });
  }
  for (const [name, value] of Object.entries(node.params)) sites.push({ where: `params.${name}`, refs: scanReferences(value) });
  return sites.filter((s) => s.refs.length > 0);
}

function ancestorsOf(def: WorkflowDefinition, name: string): Set<string> {
  try {
    return new Dag(def.nodes.map((n) => n.name), def.edges).ancestors(name);
  } catch {
    return new Set(); // duplicate names or a cycle: nothing is reliably upstream yet
  }
}

/** Every reference of one node with its value for this run, or why it would not resolve. */
export function previewNode(def: WorkflowDefinition, nodeName: string, input: PreviewInput, clock: RunClock): ReferencePreview[] {
  const node = def.nodes.find((n) => n.name === nodeName);
  if (!node) return [];
  const workflowParams = { ...def.params, ...input.params };
  const upstream = ancestorsOf(def, node.name);
  const base = runSources({ workflowParams, nodeParams: node.params, triggerMessage: input.triggerMessage ?? {}, nodeOutputs: {}, clock });
  const sources: Sources = {
    ...base,
    output: (from, key) =>
      upstream.has(from) ? { value: runtimeValue(from, key) } : { missing: `node ${from} is not upstream of ${node.name}` },
  };
  const resolver = new Resolver(sources);
  const declared = new Set([...Object.keys(node.params), ...Object.keys(workflowParams)]);
  const previews: ReferencePreview[] = [];
  for (const { where, refs } of referenceSites(node, declared)) {
    for (const ref of refs) {
      if (ref.target.type === "output" && upstream.has(ref.target.node)) {
        previews.push({ raw: ref.raw, where, status: "runtime", value: runtimeValue(ref.target.node, ref.target.key) });
        continue;
      }
      const result = resolver.reference(ref);
      previews.push(
        result.ok
          ? { raw: ref.raw, where, status: "ok", value: result.value }
          : { raw: ref.raw, where, status: "unresolved", message: result.problems.map((p) => p.message).join("; ") },
      );
    }
  }
  return previews;
}

/** The preview of every node that has references, in definition order. */
export function previewWorkflow(def: WorkflowDefinition, input: PreviewInput, clock: RunClock): { node: string; refs: ReferencePreview[] }[] {
  return def.nodes
    .map((node) => ({ node: node.name, refs: previewNode(def, node.name, input, clock) }))
    .filter((entry) => entry.refs.length > 0);
}

/** How many references would fail a node before it runs. */
export function unresolvedCount(preview: readonly { refs: readonly ReferencePreview[] }[]): number {
  return preview.reduce((sum, entry) => sum + entry.refs.filter((r) => r.status === "unresolved").length, 0);
}
