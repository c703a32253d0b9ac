// The fault suite's world: mixed workflows on R2, queue, webhook and API triggers, and the seeded run requests sent to them.
import { api, createWorkflow, runnerToken, shellNode } from "../workers/helpers.ts";
import { createTrigger, publish } from "../workers/trigger-helpers.ts";
import { Rng } from "./rng.ts";

export const QUEUE = "user-behavior";
export const R2_QUEUE = "sluice-r2-events";
export const BUCKET = "uploads";
/** The host of the fake target that http nodes call (see http-target.ts). */
export const TARGET_HOST = "target.faults.test";
/** The timeout of the nodes that time out on purpose: shorter than a lease (2 s) and the coordinator's grace. */
export const SHORT_TIMEOUT_SECONDS = 1;

/** Where a run request comes from; each source starts one or more of the workflows below. */
export type Source = "r2" | "fanout" | "ordered" | "api" | "webhook";

export interface WorkflowUnderTest {
  name: string;
  id: string;
  maxParallel: number | null;
  /** Ordering key template in use: instances with equal keys must run one at a time. */
  ordered: boolean;
  group: string;
}

export interface World {
  tag: string;
  groups: string[];
  workflows: WorkflowUnderTest[];
  /** The workflows each source starts, and the trigger it goes through (none for API runs). */
  sources: Record<Source, { workflows: WorkflowUnderTest[]; triggerId: string | null }>;
  runnerTokens: Record<string, string>;
  keyPrefix: string;
  queueKeys: { fanout: string; ordered: string };
  /** The webhook trigger's whsec_ secret, to sign deliveries with. */
  webhookSecret: string;
}

/** One distinct run request: one event (or one API call) that must start exactly one instance per workflow of its source. */
export interface RunRequest {
  /** `ev-<n>`: found again in each instance's trigger message and in each node's resolved values. */
  tag: string;
  source: Source;
  /** How many times the event is delivered (or the API call sent): 2 and 3 are injected duplicates. */
  copies: number;
  /** R2 only: a duplicate sent as a new queue message (R2 may notify twice), caught by the dedup key instead of the id. */
  resent: boolean;
  user: string;
  priority: number;
  /** API only: the client sends once and gives up on a 5xx, so nobody retries on its behalf. */
  giveUp: boolean;
  /** The time the source stamps on the event; a redelivery keeps it. */
  at: Date;
  /** Webhook only: the sender replays the delivery this many rounds later (0: never), as after a lost answer. */
  replayAfter: number;
  /** Webhook only: the Worker fails after the runs committed and before it logs and answers (the sender retries). */
  failsAfterStart: boolean;
}

/** Node code that echoes the event's tag, so every claimed task names the request it belongs to. */
const echo = (path: string) => 'echo "request ${workflow.triggerMessage.' + path + '}"';

export async function buildWorld(tag: string): Promise<World> {
  const groups = [`fa${tag}`, `fb${tag}`];
  const [ga, gb] = groups as [string, string];
  const keyPrefix = `faults-${tag}`;
  const queueKeys = { fanout: `fanout-${tag}`, ordered: `ordered-${tag}` };
  const r2 = await createTrigger({ name: `r2-${tag}`, type: "r2", config: { bucket: BUCKET, events: ["object-create"], keyPattern: `${keyPrefix}/*.csv` } });
  const fanout = await createTrigger({ name: `fanout-${tag}`, type: "queue", config: { queue: QUEUE, key: queueKeys.fanout } });
  const ordered = await createTrigger({
    name: `ordered-${tag}`,
    type: "queue",
    config: { queue: QUEUE, key: queueKeys.ordered },
    ordering: { key: "${workflow.triggerMessage.headers.user}" },
  });
  const tagged = "headers.tag";
  const make = async (name: string, group: string, policy: Record<string, unknown>, nodes: unknown[], edges: unknown[] = [], ordered = false) => {
    const wf = await createWorkflow({ name: `${name}_${tag}`, policy: { ...policy, resourceGroup: group }, nodes, edges });
    await publish(wf.id);
    return { name, id: wf.id, maxParallel: (policy.maxParallel as number | null | undefined) ?? null, ordered, group };
  };
  const noopChain = await make("noop_chain", ga, { triggerId: r2.id, maxParallel: null }, [
    { name: "a", type: "noop" },
    { name: "b", type: "noop" },
    { name: "c", type: "noop" },
  ], [{ from: "a", to: "b" }, { from: "b", to: "c" }]);
  const r2Load = await make("r2_load", ga, { triggerId: r2.id, maxParallel: 4 }, [
    { name: "start", type: "noop" },
    shellNode("load", echo("subject"), { retry: { count: 2 } }),
    { name: "done", type: "noop" },
  ], [{ from: "start", to: "load" }, { from: "load", to: "done" }]);
  const retrying = await make("retrying", ga, { triggerId: fanout.id, maxParallel: 3 }, [
    shellNode("work", echo(tagged), { retry: { count: 2 } }),
    { name: "after", type: "noop" },
  ], [{ from: "work", to: "after" }]);
  const fan = await make("fan_in", gb, { triggerId: fanout.id, maxParallel: 2 }, [
    shellNode("left", echo(tagged), { retry: { count: 2, delaySeconds: 1, backoff: "exponential" } }),
    shellNode("right", echo(tagged), { retry: { count: 1 } }),
    { name: "join", type: "merge" },
  ], [{ from: "left", to: "join" }, { from: "right", to: "join" }]);
  const orderedWf = await make("ordered", gb, { triggerId: ordered.id, maxParallel: 3 }, [
    shellNode("step1", echo(tagged), { retry: { count: 1 } }),
    shellNode("step2", echo(tagged), { retry: { count: 2 } }),
  ], [{ from: "step1", to: "step2" }], true);
  const apiRuns = await make("api_runs", ga, { maxParallel: 1 }, [shellNode("call", echo("tag"), { retry: { count: 3 } })]);
  const hook = await createTrigger({ name: `hook-${tag}`, type: "webhook" });
  // Branch, merge and http nodes: the runner's output picks the path; the other path is skipped.
  const hooked = await make("hooked", gb, { triggerId: hook.id, maxParallel: 3 }, [
    shellNode("check", echo("tag"), { retry: { count: 1 } }),
    { name: "route", type: "branch", conditions: [{ when: "nodes.check.outputs.route == 'a'", to: "left" }, { when: "default", to: "right" }] },
    shellNode("left", echo("tag"), { retry: { count: 1 } }),
    { name: "right", type: "http", http: { url: `http://${TARGET_HOST}/\${workflow.triggerMessage.tag}` }, timeoutSeconds: SHORT_TIMEOUT_SECONDS, retry: { count: 2 } },
    { name: "join", type: "merge" },
  ], [{ from: "check", to: "route" }, { from: "route", to: "left" }, { from: "route", to: "right" }, { from: "left", to: "join" }, { from: "right", to: "join" }]);
  // A node that times out: its runner says so, or hangs while heartbeating until the coordinator gives up on it.
  const slow = await make("slow", ga, { triggerId: hook.id, maxParallel: 2 }, [
    shellNode("wait", echo("tag"), { timeoutSeconds: SHORT_TIMEOUT_SECONDS, retry: { count: 2 } }),
    { name: "after", type: "noop" },
  ], [{ from: "wait", to: "after" }]);
  const runnerTokens = Object.fromEntries(await Promise.all(groups.map(async (g) => [g, await runnerToken(g)] as const)));
  return {
    tag,
    groups,
    workflows: [noopChain, r2Load, retrying, fan, orderedWf, apiRuns, hooked, slow],
    sources: {
      r2: { workflows: [noopChain, r2Load], triggerId: r2.id },
      fanout: { workflows: [retrying, fan], triggerId: fanout.id },
      ordered: { workflows: [orderedWf], triggerId: ordered.id },
      api: { workflows: [apiRuns], triggerId: null },
      webhook: { workflows: [hooked, slow], triggerId: hook.id },
    },
    runnerTokens,
    keyPrefix,
    queueKeys,
    webhookSecret: hook.secret!,
  };
}

/** Run requests until they add up to `runs` instances: a mix of sources, each delivered 1-3 times. */
export function planRequests(world: World, rng: Rng, runs: number): RunRequest[] {
  const requests: RunRequest[] = [];
  let instances = 0;
  const start = Date.now();
  const request = (source: Source, giveUp: boolean): RunRequest => {
    const copies = giveUp ? 1 : rng.weighted([[1, 5], [2, 3], [3, 2]]);
    return {
      tag: `ev-${requests.length}`,
      source,
      copies,
      resent: source === "r2" && copies > 1 && rng.chance(0.5),
      user: `u${rng.int(4)}`,
      priority: rng.pick([1, 3, 5, 7, 8]),
      giveUp,
      at: new Date(start + requests.length),
      replayAfter: source === "webhook" && rng.chance(0.3) ? 1 + rng.int(3) : 0,
      failsAfterStart: source === "webhook" && rng.chance(0.15),
    };
  };
  while (instances < runs) {
    const source = rng.weighted<Source>([["r2", 3], ["fanout", 3], ["ordered", 3], ["api", 2], ["webhook", 3]]);
    requests.push(request(source, source === "api" && rng.chance(0.15)));
    instances += world.sources[source].workflows.length;
  }
  // Sent alone at the end: its coordinator dies right after committing it and its client gives up.
  requests.push(request("api", true));
  return requests;
}

/** The body an event arrives as: an R2 notification, a producer's `{key, value, headers}`, or a webhook's JSON. */
export function messageBody(world: World, request: RunRequest): unknown {
  if (request.source === "webhook") return { tag: request.tag, user: request.user };
  if (request.source === "r2") {
    return {
      account: "faults",
      action: "PutObject",
      bucket: BUCKET,
      object: { key: `${world.keyPrefix}/${request.tag}.csv`, size: 100, eTag: `etag-${request.tag}` },
      eventTime: request.at.toISOString(),
    };
  }
  const key = request.source === "fanout" ? world.queueKeys.fanout : world.queueKeys.ordered;
  return { key, value: JSON.stringify({ request: request.tag }), headers: { tag: request.tag, user: request.user } };
}

/** Starts an API run with an Idempotency-Key, retrying a 5xx unless the client gives up; the instance id it got, if any. */
export async function sendApiRun(world: World, request: RunRequest): Promise<{ id: string | null; status: number }> {
  const wf = world.sources.api.workflows[0]!;
  const body = { env: "prod", priority: request.priority, triggerMessage: { tag: request.tag } };
  for (let attempt = 0; ; attempt++) {
    const res = await api("POST", `/api/v1/workflows/${wf.id}/runs`, body, undefined, { "idempotency-key": `${world.tag}-${request.tag}` });
    if (res.status === 200 || res.status === 201) return { id: res.json.id as string, status: res.status };
    if (res.status >= 500 && request.giveUp) return { id: null, status: res.status };
    if (res.status < 500 || attempt >= 5) throw new Error(`API run ${request.tag}: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
  }
}

/** The request tag inside a trigger message or a task's resolved values. */
export const tagIn = (text: string): string | null => /\bev-\d+\b/.exec(text)?.[0] ?? null;
