// Trigger benchmarks (issue 4): queue messages and R2 uploads → runs started per second, send → node start.
import { type Api, inParallel, ms, sleep } from "./api.ts";
import { percentile } from "./report.ts";

export type TriggerKind = "queue" | "r2";
/**
 * burst: everything at once; single: queue messages one per request, 50 in flight (issue 11); paced: the target rate;
 * light: a rate the local stack keeps up with, for the path's own latency.
 */
export type SendMode = "burst" | "single" | "paced" | "light";

export interface TriggerSample {
  kind: TriggerKind;
  mode: SendMode;
  count: number;
  /** Events per second sent (paced and light runs). */
  rate: number;
  /** Runs whose node started, per second, from the first send to the last node start. */
  runsPerSecond: number;
  /** Send (the client's clock as its request left) → the run's node started (the server's clock; same machine). */
  p50: number;
  p99: number;
  seconds: number;
  /** Events the Worker accepted per second (every send request answered): what the runs cannot outpace. */
  sentPerSecond: number;
  notStarted: number;
}

const QUEUE = "user-behavior";
const BUCKET = "uploads";
/** Queues' own limit on one send batch. */
const SEND_BATCH = 100;
const tag = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** A trigger of the kind and a published one-`noop` workflow on it: each event's run is exactly its node start. */
async function setup(api: Api, kind: TriggerKind) {
  const run = tag();
  const config = kind === "queue" ? { queue: QUEUE, key: `bench-${run}` } : { bucket: BUCKET, events: ["object-create"], keyPattern: `bench/${run}/*.csv` };
  const trigger = await api.call("POST", "/api/v1/triggers", { name: `bench_${kind}_${run}`, type: kind, config });
  if (trigger.status !== 201) throw new Error(`creating a ${kind} trigger: ${trigger.status} ${JSON.stringify(trigger.json)}`);
  const workflowId = await api.createWorkflow({ name: `bench_trigger_${kind}_${run}`, policy: { triggerId: trigger.json.id }, nodes: [{ name: "a", type: "noop" }] });
  const published = await api.call("POST", `/api/v1/workflows/${workflowId}/publish`, {});
  if (published.status !== 200) throw new Error(`publishing: ${published.status} ${JSON.stringify(published.json)}`);
  return { run, workflowId, key: config.key ?? null };
}

type Setup = Awaited<ReturnType<typeof setup>>;

async function check(res: Promise<{ status: number; json: unknown }>, what: string) {
  const { status, json } = await res;
  if (status !== 202 && status !== 201 && status !== 200) throw new Error(`${what}: ${status} ${JSON.stringify(json)}`);
}

/** Sends messages [from, to) as one request; returns when the Worker accepted them. */
function sendMessages(api: Api, s: Setup, from: number, to: number, sentAt: number[]) {
  const now = Date.now();
  for (let i = from; i < to; i++) sentAt[i] = now;
  const messages = Array.from({ length: to - from }, (_, j) => ({ key: s.key, value: String(from + j) }));
  return check(api.call("POST", `/api/v1/queues/${QUEUE}/messages`, { messages }), "sending messages");
}

function upload(api: Api, s: Setup, i: number, sentAt: number[]) {
  sentAt[i] = Date.now();
  return api.upload(BUCKET, `bench/${s.run}/${i}.csv`, `n\n${i}\n`, "text/csv");
}

/** Everything as fast as the Worker takes it: queue messages 100 per request, uploads 32 in flight. */
async function sendBurst(api: Api, kind: TriggerKind, s: Setup, count: number, sentAt: number[]) {
  if (kind === "queue") await inParallel(Math.ceil(count / SEND_BATCH), 4, (b) => sendMessages(api, s, b * SEND_BATCH, Math.min(count, (b + 1) * SEND_BATCH), sentAt));
  else await inParallel(count, 32, (i) => upload(api, s, i, sentAt));
}

/** Queue messages one per send request (`{key, value}`), 50 requests in flight. */
async function sendSingles(api: Api, s: Setup, count: number, sentAt: number[]) {
  await inParallel(count, 50, async (i) => {
    sentAt[i] = Date.now();
    await check(api.call("POST", `/api/v1/queues/${QUEUE}/messages`, { key: s.key, value: String(i) }), "sending a message");
  });
}

/** A steady `rate` per second on an absolute schedule (a slow answer does not slow the sender down). */
async function sendPaced(api: Api, kind: TriggerKind, s: Setup, count: number, rate: number, sentAt: number[]) {
  // Every 10 ms at high rates; one event per tick below 100/s.
  const tickMs = Math.max(10, 1000 / rate);
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const t0 = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let tick = 0, i = 0; i < count; tick++, i += perTick) {
    const wait = t0 + tick * tickMs - performance.now();
    if (wait > 0) await sleep(wait);
    const to = Math.min(count, i + perTick);
    if (kind === "queue") inFlight.push(sendMessages(api, s, i, to, sentAt));
    else for (let j = i; j < to; j++) inFlight.push(upload(api, s, j, sentAt));
  }
  await Promise.all(inFlight);
}

/** Which event an instance ran for: the message value, or the number in the object key. */
function eventIndex(kind: TriggerKind, triggerMessage: any): number {
  if (kind === "queue") return Number(triggerMessage.value);
  return Number(/\/(\d+)\.csv$/.exec(triggerMessage.data.object.key)?.[1]);
}

export async function triggerRun(api: Api, kind: TriggerKind, mode: SendMode, count: number, rate: number, timeoutMs = 180_000): Promise<TriggerSample> {
  const s = await setup(api, kind);
  const sentAt: number[] = new Array(count).fill(Number.NaN);
  if (mode === "burst") await sendBurst(api, kind, s, count, sentAt);
  else if (mode === "single" && kind === "queue") await sendSingles(api, s, count, sentAt);
  else await sendPaced(api, kind, s, count, rate, sentAt);
  const sentBy = Date.now();
  const deadline = Date.now() + timeoutMs;
  let done = await api.allInstances(s.workflowId, "succeeded");
  while (done.length < count && Date.now() < deadline) {
    await sleep(250);
    done = await api.allInstances(s.workflowId, "succeeded");
  }
  const started: number[] = new Array(count).fill(Number.NaN);
  await inParallel(done.length, 16, async (k) => {
    const instance = (await api.call("GET", `/api/v1/instances/${done[k]!.id}`)).json;
    const index = eventIndex(kind, instance.triggerMessage);
    if (!Number.isInteger(index) || index < 0 || index >= count) throw new Error(`instance ${done[k]!.id} names no event of this run`);
    if (!Number.isNaN(started[index]!)) throw new Error(`event ${index} started twice`);
    started[index] = ms(instance.nodes[0].startedAt);
  });
  const latencies = started.map((t, i) => t - sentAt[i]!);
  const first = Math.min(...sentAt);
  const last = Math.max(...started.filter((t) => !Number.isNaN(t)));
  const seconds = (last - first) / 1000;
  const ran = started.filter((t) => !Number.isNaN(t)).length;
  const sentPerSecond = count / ((sentBy - first) / 1000);
  return { kind, mode, count, rate, runsPerSecond: ran / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), seconds, sentPerSecond, notStarted: count - ran };
}
