// Running and operating: run, instances, logs, terminate, rerun, events, trigger test, replay, send, upload.
import { readFileSync } from "node:fs";
import pc from "picocolors";
import { data, type Api } from "./api.ts";
import { parseMessage, parseParams, resolveByName } from "./args.ts";
import { UsageError } from "./config.ts";
import { follow, type FollowSink, type Instance } from "./follow.ts";
import { status, table, type Out } from "./output.ts";
import type { components, paths } from "../web/src/lib/api/client.ts";

type RunRequest = components["schemas"]["RunRequest"];
type InstanceQuery = NonNullable<paths["/api/v1/instances"]["get"]["parameters"]["query"]>;
type RerunRequest = NonNullable<paths["/api/v1/instances/{id}/rerun"]["post"]["requestBody"]>["content"]["application/json"];
type TriggerEvent = components["schemas"]["TriggerEvent"];
type Trigger = components["schemas"]["Trigger"];

export async function workflowId(api: Api, nameOrId: string): Promise<string> {
  return resolveByName(await api.all("/api/v1/workflows"), nameOrId, "workflow", "wf_").id;
}
export async function triggerId(api: Api, nameOrId: string): Promise<string> {
  return resolveByName(await api.all("/api/v1/triggers"), nameOrId, "trigger", "trg_").id;
}

/** Node states and log lines, each line prefixed with its node (logs arrive in chunks, not lines). */
export function printingSink(out: Out, prefix = true): FollowSink {
  const partial = new Map<string, string>();
  const flush = (node: string, text: string) => {
    const lines = (partial.get(node) ?? "") + text;
    const parts = lines.split("\n");
    partial.set(node, parts.pop()!);
    for (const line of parts) out.line(prefix ? `${pc.dim(`[${node}]`)} ${line}` : line);
  };
  return {
    node: (n) => out.error(`${pc.dim("●")} ${n.name}${n.attempt > 1 ? ` (attempt ${n.attempt})` : ""}: ${status(n.status)}${n.error ? ` — ${n.error}` : ""}`),
    log: flush,
    notice: (text) => out.error(pc.yellow(text)),
    instance: (i) => {
      for (const [node, rest] of partial) if (rest !== "") out.line(prefix ? `${pc.dim(`[${node}]`)} ${rest}` : rest);
      partial.clear();
      out.error(`instance ${i.id}: ${status(i.status)}${i.reason ? ` (${i.reason})` : ""}`);
    },
  };
}

/** With JSON output the stream is quiet and the end state is printed once. */
const quietSink: FollowSink = { node: () => {}, log: () => {}, instance: () => {}, notice: () => {} };

export interface RunOptions {
  env: "dev" | "prod";
  runDate?: string;
  message?: string;
  param: string[];
  priority?: number;
  follow: boolean;
}

/** Starts a run; following, the exit code is the run's: 0 when it succeeded, 1 otherwise. */
export async function run(api: Api, out: Out, workflow: string, opts: RunOptions): Promise<number> {
  const id = await workflowId(api, workflow);
  const body: RunRequest = { env: opts.env };
  if (opts.runDate) body.runDate = opts.runDate;
  if (opts.message !== undefined) body.triggerMessage = parseMessage(opts.message);
  if (opts.param.length > 0) body.params = parseParams(opts.param);
  if (opts.priority !== undefined) body.priority = opts.priority;
  // One run asked for, one instance answered (only a batch of runs is answered with `items`).
  const started = (await data(api.client.POST("/api/v1/workflows/{id}/runs", { params: { path: { id } }, body }))) as components["schemas"]["StartedRun"];
  if (!opts.follow) {
    out.line(out.json ? JSON.stringify(started) : `started instance ${started.id} (${started.status})`);
    return 0;
  }
  if (!out.json) out.error(`started instance ${started.id}`);
  return finish(out, await follow(api, started.id, out.json ? quietSink : printingSink(out)));
}

const finish = (out: Out, instance: Instance) => {
  if (out.json) out.line(JSON.stringify(instance));
  return instance.status === "succeeded" ? 0 : 1;
};

export async function instances(api: Api, out: Out, opts: { workflow?: string; status?: string; env?: string; limit: number }): Promise<void> {
  const query: InstanceQuery = {
    limit: opts.limit,
    workflowId: opts.workflow ? await workflowId(api, opts.workflow) : undefined,
    // As typed by the user: the API's 400 names the values it accepts.
    status: opts.status as InstanceQuery["status"],
    env: opts.env as InstanceQuery["env"],
  };
  const { items } = await data(api.client.GET("/api/v1/instances", { params: { query } }));
  if (out.json) return out.line(JSON.stringify(items));
  out.line(table(["id", "workflow", "env", "status", "run date", "trigger", "created"], items.map((i) => [i.id, i.workflowName, i.env, status(i.status), i.runDate, i.triggerType, i.createdAt])));
}

/** Every node's log (or one node's); `-f` follows the instance until it ends. */
export async function logs(api: Api, out: Out, instanceId: string, opts: { node?: string; follow: boolean }): Promise<number> {
  if (opts.follow) return finish(out, await follow(api, instanceId, out.json ? quietSink : printingSink(out, opts.node === undefined), opts.node));
  const instance: Instance = await data(api.client.GET("/api/v1/instances/{id}", { params: { path: { id: instanceId } } }));
  const nodes = instance.nodes.filter((n) => opts.node === undefined || n.name === opts.node);
  if (opts.node !== undefined && nodes.length === 0) throw new UsageError(`instance ${instanceId} has no node '${opts.node}' that ran (nodes: ${instance.nodes.map((n) => n.name).join(", ")})`);
  const texts: Record<string, string> = {};
  for (const node of nodes) texts[node.name] = (await api.log(instanceId, node.name).catch(() => ({ text: "" }))).text;
  if (out.json) out.line(JSON.stringify(texts));
  else if (opts.node !== undefined) process.stdout.write(texts[opts.node] ?? "");
  else for (const [node, text] of Object.entries(texts)) out.line(`${pc.bold(`== ${node} ==`)}\n${text.trimEnd()}`);
  return 0;
}

export async function terminate(api: Api, out: Out, instanceId: string): Promise<void> {
  const result = await data(api.client.POST("/api/v1/instances/{id}/terminate", { params: { path: { id: instanceId } } }));
  out.line(out.json ? JSON.stringify(result) : `instance ${result.id}: ${status(result.status)}`);
}

export async function rerun(api: Api, out: Out, instanceId: string, body: RerunRequest): Promise<void> {
  const result = await data(api.client.POST("/api/v1/instances/{id}/rerun", { params: { path: { id: instanceId } }, body }));
  out.line(out.json ? JSON.stringify(result) : `instance ${result.id}: ${status(result.status)}`);
}

const eventRows = (items: TriggerEvent[]) => items.map((e) => [e.id, e.receivedAt, e.outcome, e.detail, (e.instanceIds ?? []).join(" ")]);

/** The trigger's event log, newest first; `-f` prints new events as they arrive until interrupted. */
export async function events(api: Api, out: Out, trigger: string, opts: { follow: boolean; limit: number }): Promise<void> {
  const id = await triggerId(api, trigger);
  const page = async () => (await data(api.client.GET("/api/v1/triggers/{id}/events", { params: { path: { id }, query: { limit: opts.limit } } }))).items;
  const first = await page();
  if (out.json && !opts.follow) return out.line(JSON.stringify(first));
  if (!opts.follow) return out.line(table(["event", "received", "outcome", "detail", "instances"], eventRows(first)));
  const seen = new Set<string>();
  const print = (items: TriggerEvent[]) => {
    for (const e of [...items].reverse()) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      out.line(out.json ? JSON.stringify(e) : `${e.receivedAt}  ${e.id}  ${e.outcome}  ${e.detail}${e.instanceIds?.length ? `  → ${e.instanceIds.join(" ")}` : ""}`);
    }
  };
  print(first);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    print(await page());
  }
}

export async function triggerTest(api: Api, out: Out, trigger: string, message: string): Promise<number> {
  const id = await triggerId(api, trigger);
  const result = await data(api.client.POST("/api/v1/triggers/{id}/test", { params: { path: { id } }, body: { message: parseMessage(message) } }));
  if (out.json) {
    out.line(JSON.stringify(result));
  } else {
    out.line(`${result.matches ? pc.green("matches") : pc.yellow("does not match")}: ${result.outcome} — ${result.detail}`);
    for (const wf of result.workflows) {
      out.line(`workflow ${wf.name}${wf.version === null ? " (draft)" : ` v${wf.version}`}: ${wf.wouldStart ? "would start" : "would not start"}`);
      for (const r of wf.references) out.line(`  ${r.node}: ${r.ref} → ${r.error ? pc.red(r.error) : JSON.stringify(r.value)}${r.note ? ` (${r.note})` : ""}`);
    }
  }
  return result.matches ? 0 : 1;
}

export async function replay(api: Api, out: Out, trigger: string, eventId: string): Promise<void> {
  const id = await triggerId(api, trigger);
  const r = await data(api.client.POST("/api/v1/triggers/{id}/events/{eventId}/replay", { params: { path: { id, eventId } } }));
  out.line(out.json ? JSON.stringify(r) : `replayed as ${r.id}: ${r.outcome} — ${r.detail}${r.instanceIds.length ? ` → ${r.instanceIds.join(" ")}` : ""}`);
}

export async function send(api: Api, out: Out, queue: string, opts: { key?: string; value: string }): Promise<void> {
  const r = await data(api.client.POST("/api/v1/queues/{queue}/messages", { params: { path: { queue } }, body: { key: opts.key ?? null, value: opts.value } }));
  out.line(out.json ? JSON.stringify(r) : `sent ${r.count} message to ${r.queue}`);
}

export async function upload(api: Api, out: Out, bucket: string, key: string, file: string, contentType: string): Promise<void> {
  const r = await api.upload(bucket, key, readFileSync(file), contentType);
  out.line(out.json ? JSON.stringify(r) : `uploaded ${bucket}/${key} (etag ${r.eTag})`);
}

export async function listWorkflows(api: Api, out: Out): Promise<void> {
  const items = await api.all("/api/v1/workflows");
  if (out.json) return out.line(JSON.stringify(items));
  out.line(table(["id", "name", "published", "trigger", "last run"], items.map((w) => [w.id, w.name, w.publishedVersion ?? "-", w.triggerId ?? "", w.lastRun ? `${status(w.lastRun.status)} ${w.lastRun.createdAt}` : ""])));
}

export async function listTriggers(api: Api, out: Out): Promise<void> {
  const items = await api.all("/api/v1/triggers");
  if (out.json) return out.line(JSON.stringify(items));
  const source = ({ config, hookUrl }: Trigger) =>
    "bucket" in config ? `${config.bucket} ${config.keyPattern ?? ""}` : "queue" in config ? `${config.queue}${config.key ? ` key=${config.key}` : ""}` : (hookUrl ?? "");
  out.line(table(["id", "name", "type", "source", "enabled"], items.map((t) => [t.id, t.name, t.type, source(t), t.paused ? "paused" : t.enabled ? "yes" : "no"])));
}
