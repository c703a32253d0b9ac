// Turning a ready node into work: inline completion (noop, merge, branch, unresolved reference), an HTTP request, or a runner task.
import type { HttpRequest, NodeDefinition, Priority, WorkflowDefinition } from "./definition.ts";
import { evaluateCondition } from "./expressions.ts";
import { DEFAULT_BRANCH } from "./node-rules.ts";
import { builtinParams, prepareNodeCode, referencesIn, resolveText, type ResolveContext } from "./params/index.ts";
import type { NodeStatus } from "./progress.ts";
import { effectivePriority } from "./runs.ts";
import type { QueuedTask } from "./runner-protocol.ts";

export interface ReadyNode {
  instance: {
    id: string;
    workflow_id: string;
    env: string;
    trigger_message: string;
    params: string;
    cyctime: number;
    priority_override: number | null;
  };
  def: WorkflowDefinition;
  node: NodeDefinition;
  /** Current attempts of the instance's nodes, for upstream outputs (or `parsed` instead). */
  runs?: readonly { node_name: string; status: string; outputs: string | null }[];
  /** The instance's parameters, trigger message and node outputs already parsed (the scheduler keeps them). */
  parsed?: Pick<ResolveContext, "workflowParams" | "triggerMessage" | "nodeOutputs">;
  attemptId: string;
  attempt: number;
  weight: number;
}

export type NodeRunOutcome =
  | { kind: "done"; status: Extract<NodeStatus, "succeeded" | "failed">; error: string | null; log: string[]; chosen?: string[] }
  | { kind: "queued"; queued: QueuedTask }
  | { kind: "http"; request: Required<Omit<HttpRequest, "body">> & { body?: string }; timeoutSeconds: number };

const fail = (message: string): NodeRunOutcome => ({ kind: "done", status: "failed", error: message, log: [`[sluice] ${message}\n`] });

export function prepareNodeRun(ready: ReadyNode): NodeRunOutcome {
  const { node } = ready;
  if (node.type === "noop" || node.type === "merge") return { kind: "done", status: "succeeded", error: null, log: [] };
  const ctx = resolveContext(ready);
  if (node.type === "branch") return chooseBranches(node, ctx);
  if (node.type === "http") return prepareHttp(node, ctx);
  return prepareRunnerTask(ready, ctx);
}

function resolveContext({ instance, def, node, runs = [], parsed }: ReadyNode): ResolveContext {
  const clock = { cyctime: new Date(instance.cyctime), timezone: def.policy.timezone };
  if (parsed) return { ...parsed, nodeParams: node.params, clock };
  const nodeOutputs: Record<string, Record<string, string>> = {};
  for (const r of runs) {
    if (r.status === "succeeded" && r.outputs) nodeOutputs[r.node_name] = JSON.parse(r.outputs) as Record<string, string>;
  }
  return {
    workflowParams: JSON.parse(instance.params) as Record<string, string>,
    nodeParams: node.params,
    triggerMessage: JSON.parse(instance.trigger_message) as unknown,
    nodeOutputs,
    clock,
  };
}

function prepareRunnerTask(ready: ReadyNode, ctx: ResolveContext): NodeRunOutcome {
  const { instance, def, node } = ready;
  const prepared = prepareNodeCode(node.type as "shell" | "python", node.code, ctx);
  // The node fails before it executes; its log says which reference could not be resolved.
  if (!prepared.ok) return fail(prepared.message);
  return {
    kind: "queued",
    queued: {
      priority: effectivePriority(instance.priority_override as Priority | null, node, def),
      weight: ready.weight,
      // Definitions stored before policy.share existed lack it.
      share: def.policy.share ?? 1,
      task: {
        attemptId: ready.attemptId,
        instanceId: instance.id,
        workflowId: instance.workflow_id,
        nodeName: node.name,
        attempt: ready.attempt,
        type: node.type as "shell" | "python",
        script: prepared.script,
        prelude: prepared.prelude,
        values: prepared.values,
        env: {
          SLUICE_INSTANCE_ID: instance.id,
          SLUICE_WORKFLOW_ID: instance.workflow_id,
          SLUICE_NODE: node.name,
          SLUICE_ATTEMPT: String(ready.attempt),
          SLUICE_ENV: instance.env,
        },
        timeoutSeconds: node.timeoutSeconds,
      },
    },
  };
}

/** Values from trigger data are percent-encoded in the URL, so they can change neither host nor path structure. */
function resolveUrl(url: string, ctx: ResolveContext): { ok: true; text: string } | { ok: false; message: string } {
  let out = "";
  let last = 0;
  for (const ref of referencesIn(url)) {
    const value = resolveText(ref.raw, ctx);
    if (!value.ok) return value;
    out += url.slice(last, ref.start) + encodeURIComponent(value.text);
    last = ref.end;
  }
  return { ok: true, text: out + url.slice(last) };
}

function prepareHttp(node: NodeDefinition, ctx: ResolveContext): NodeRunOutcome {
  const http = node.http!;
  const url = resolveUrl(http.url, ctx);
  if (!url.ok) return fail(url.message);
  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(http.headers)) {
    const value = resolveText(template, ctx);
    if (!value.ok) return fail(value.message);
    if (/[\r\n]/.test(value.text)) return fail(`header ${name} would contain a line break after substitution`);
    headers[name] = value.text;
  }
  let body: string | undefined;
  if (http.body !== undefined) {
    const value = resolveText(http.body, ctx);
    if (!value.ok) return fail(value.message);
    body = value.text;
  }
  return { kind: "http", request: { method: http.method, url: url.text, headers, body }, timeoutSeconds: node.timeoutSeconds };
}

/** The CEL variables a branch condition sees. */
function conditionVariables(node: NodeDefinition, ctx: ResolveContext): Record<string, unknown> {
  const params: Record<string, string> = {};
  for (const name of new Set([...Object.keys(ctx.workflowParams), ...Object.keys(node.params)])) {
    const value = resolveText(`\${${name}}`, ctx);
    if (value.ok) params[name] = value.text;
  }
  const workflowParams = Object.fromEntries(Object.keys(ctx.workflowParams).map((p) => [p, params[p] ?? ctx.workflowParams[p]]));
  return {
    params,
    workflow: { ...workflowParams, triggerMessage: ctx.triggerMessage },
    nodes: Object.fromEntries(Object.entries(ctx.nodeOutputs).map(([n, outputs]) => [n, { outputs }])),
    ...builtinParams(ctx.clock),
  };
}

function chooseBranches(node: NodeDefinition, ctx: ResolveContext): NodeRunOutcome {
  const variables = conditionVariables(node, ctx);
  const chosen: string[] = [];
  const log: string[] = [];
  let fallback: string | null = null;
  for (const condition of node.conditions ?? []) {
    if (condition.when === DEFAULT_BRANCH) {
      fallback = condition.to;
      continue;
    }
    const result = evaluateCondition(condition.when, variables);
    if ("error" in result) log.push(`[sluice] condition ${condition.when} could not be evaluated (${result.error}); treated as false\n`);
    else log.push(`[sluice] condition ${condition.when} is ${result.value}\n`);
    if ("value" in result && result.value && !chosen.includes(condition.to)) chosen.push(condition.to);
  }
  if (chosen.length === 0 && fallback !== null) {
    chosen.push(fallback);
    log.push(`[sluice] no condition held; taking the default path to ${fallback}\n`);
  }
  log.push(`[sluice] chosen: ${chosen.join(", ") || "nothing"}\n`);
  return { kind: "done", status: "succeeded", error: null, log, chosen };
}
