// npm run soak: mixed load on the real local stack for a long time; every window records throughput, lag, memory and storage, then bench/SOAK.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { ROOT, startStack, type Stack } from "../scripts/stack.ts";
import { Api, sleep } from "./api.ts";
import { machineInfo } from "./stack-metrics.ts";
import { type Baseline, runBaseline } from "./soak-baseline.ts";
import { workerHeapMiB } from "./soak-heap.ts";
import { highestIngest, PurgeLog } from "./soak-purges.ts";
import { type Load, type Sample, type SoakRun, writeSoakReport } from "./soak-report.ts";
import { StorageProbe, storageStats } from "./soak-storage.ts";

const USAGE = `usage: npm run soak -- [options]

  --minutes N        how long the load runs, default 30
  --queue-rate N     queue messages per second (sent 10 times a second, one request each), default 100
  --shell-rate N     API runs per second of a two-node shell workflow, default 10
  --webhook-rate N   signed webhook deliveries per second, default 5
  --slots N          runner slots, default 8
  --window N         seconds between samples, default 30
  --drain N          seconds to wait for the backlog after the load stops, default 120
  --retention-minutes N    keep finished history N minutes (RETENTION_DAYS), default: the installation's 30 days
  --live-window-minutes N  a coordinator keeps a finished instance N minutes (LIVE_WINDOW_MINUTES), default 60
  --dedup-window N         the queue and webhook triggers' dedup window in seconds, default: the trigger default (24 h)
  --baseline-minutes N     then a hello-world Worker under the same wrangler dev for N minutes, default 5 (0: none)
  --baseline-rate N        its requests per second, default 150
  --out FILE         default bench/SOAK.md (charts beside it in bench/soak/, the raw run in FILE with .json)
  --from FILE.json   write the report again from a saved run, without running anything`;

const { values: flags } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    "queue-rate": { type: "string", default: "100" },
    "shell-rate": { type: "string", default: "10" },
    "webhook-rate": { type: "string", default: "5" },
    slots: { type: "string", default: "8" },
    window: { type: "string", default: "30" },
    drain: { type: "string", default: "120" },
    "retention-minutes": { type: "string", default: "0" },
    "live-window-minutes": { type: "string", default: "0" },
    "dedup-window": { type: "string", default: "0" },
    "baseline-minutes": { type: "string", default: "5" },
    "baseline-rate": { type: "string", default: "150" },
    out: { type: "string" },
    from: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
function number(name: keyof typeof flags, min: number): number {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(flags[name])}\n\n${USAGE}`);
  return n;
}
const options = {
  minutes: number("minutes", 0.1),
  queueRate: number("queue-rate", 0),
  shellRate: number("shell-rate", 0),
  webhookRate: number("webhook-rate", 0),
  slots: number("slots", 1),
  windowSeconds: number("window", 1),
  drainSeconds: number("drain", 0),
  retentionMinutes: number("retention-minutes", 0),
  liveWindowMinutes: number("live-window-minutes", 0),
  dedupWindowSeconds: number("dedup-window", 0),
  baselineMinutes: number("baseline-minutes", 0),
  baselineRate: number("baseline-rate", 10),
};
// The probe counts an instance once it has finished and settled (SETTLE_MS): retention must not take it first.
if (options.retentionMinutes > 0 && options.retentionMinutes * 60 < 2 * options.windowSeconds + 10) {
  throw new Error(`--retention-minutes must be at least (2 × --window + 10 s): the soak counts each finished instance before retention deletes it\n\n${USAGE}`);
}
const outFile = flags.out ?? join(ROOT, "bench", "SOAK.md");
const TICK_MS = 100;
const QUEUE = "user-behavior";

/** What each kind of load has sent and had accepted so far. */
function newLoad(kind: Load["kind"], workflowId: string, rate: number): Load {
  return { kind, workflowId, rate, sent: 0, accepted: 0, refused: 0, failed: 0 };
}

async function setup(api: Api) {
  const tag = Date.now().toString(36);
  const publish = async (definition: unknown) => {
    const id = await api.createWorkflow(definition);
    const res = await api.call("POST", `/api/v1/workflows/${id}/publish`, {});
    if (res.status !== 200) throw new Error(`publishing: ${res.status} ${JSON.stringify(res.json)}`);
    return id;
  };
  // Every event leaves a dedup key in its coordinator for the trigger's window: rate × window keys.
  const dedup = options.dedupWindowSeconds > 0 ? { dedup: { windowSeconds: options.dedupWindowSeconds } } : {};
  const queueTrigger = await api.call("POST", "/api/v1/triggers", { name: `soak_queue_${tag}`, type: "queue", config: { queue: QUEUE }, ...dedup });
  if (queueTrigger.status !== 201) throw new Error(`queue trigger: ${queueTrigger.status} ${JSON.stringify(queueTrigger.json)}`);
  const hook = await api.call("POST", "/api/v1/triggers", { name: `soak_hook_${tag}`, type: "webhook", config: {}, ...dedup });
  if (hook.status !== 201) throw new Error(`webhook trigger: ${hook.status} ${JSON.stringify(hook.json)}`);
  const queueWorkflow = await publish({ name: `soak_queue_${tag}`, policy: { triggerId: queueTrigger.json.id }, nodes: [{ name: "a", type: "noop" }] });
  const hookWorkflow = await publish({ name: `soak_hook_${tag}`, policy: { triggerId: hook.json.id }, nodes: [{ name: "a", type: "noop" }] });
  const shellWorkflow = await publish({
    name: `soak_shell_${tag}`,
    nodes: [
      { name: "extract", type: "shell", code: 'echo "extracting ${bizdate}"' },
      { name: "load", type: "shell", code: 'echo "loading"' },
    ],
    edges: [{ from: "extract", to: "load" }],
  });
  return {
    loads: [newLoad("queue", queueWorkflow, options.queueRate), newLoad("shell", shellWorkflow, options.shellRate), newLoad("webhook", hookWorkflow, options.webhookRate)],
    hook: { url: String(hook.json.hookUrl), signer: new Webhook(String(hook.json.secret)) },
  };
}

/** One request's worth of a load, counted by its answer: accepted (2xx), refused (4xx) or failed (5xx, network). */
async function counted(load: Load, events: number, send: () => Promise<number>): Promise<void> {
  load.sent += events;
  try {
    const status = await send();
    if (status >= 200 && status < 300) load.accepted += events;
    else if (status < 500) load.refused += events;
    else load.failed += events;
  } catch {
    load.failed += events;
  }
}

/** Sends every load on an absolute schedule of 100 ms ticks, so a slow answer never slows the sender. */
async function sendLoad(api: Api, s: Awaited<ReturnType<typeof setup>>, until: number, inFlight: Set<Promise<void>>): Promise<void> {
  const [queue, shell, webhook] = s.loads as [Load, Load, Load];
  const due = (rate: number, tick: number) => Math.floor(((tick + 1) * rate * TICK_MS) / 1000) - Math.floor((tick * rate * TICK_MS) / 1000);
  const t0 = performance.now();
  let serial = 0;
  for (let tick = 0; Date.now() < until; tick++) {
    const wait = t0 + tick * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const track = (p: Promise<void>) => {
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const messages = due(queue.rate, tick);
    if (messages > 0) {
      const batch = Array.from({ length: messages }, () => ({ value: String(serial++) }));
      track(counted(queue, messages, async () => (await api.call("POST", `/api/v1/queues/${QUEUE}/messages`, { messages: batch })).status));
    }
    for (let i = due(shell.rate, tick); i > 0; i--) {
      track(counted(shell, 1, async () => (await api.call("POST", `/api/v1/workflows/${shell.workflowId}/runs`, { env: "prod" })).status));
    }
    for (let i = due(webhook.rate, tick); i > 0; i--) {
      const id = `msg_${serial++}`;
      const body = JSON.stringify({ order: id, at: Date.now() });
      const signature = s.hook.signer.sign(id, new Date(), body);
      const headers = { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": signature };
      track(counted(webhook, 1, async () => (await fetch(s.hook.url, { method: "POST", headers, body })).status));
    }
  }
}

let stack: Stack | null = null;
let persistTo: string | null = null;

async function main(): Promise<void> {
  const machine = machineInfo(ROOT);
  persistTo = mkdtempSync(join(tmpdir(), "sluice-soak-"));
  console.log(`[soak] starting the local stack (wrangler dev + a runner with ${options.slots} slots)…`);
  const vars: Record<string, string> = {};
  if (options.retentionMinutes > 0) vars.RETENTION_DAYS = String(options.retentionMinutes / (24 * 60));
  if (options.liveWindowMinutes > 0) vars.LIVE_WINDOW_MINUTES = String(options.liveWindowMinutes);
  stack = await startStack({ quiet: true, persistTo, vars, runners: [{ name: "soak-runner", slots: options.slots }] });
  const api = new Api(stack.url, stack.adminToken);
  const s = await setup(api);
  const probe = new StorageProbe(persistTo, stack.worker.pid!, stack.runners.map((r) => r.pid!), Number(new URL(stack.url).port));
  const samples: Sample[] = [];
  const startedAt = Date.now();
  const purges = new PurgeLog(stack.output, startedAt);
  const loadEnds = startedAt + options.minutes * 60_000;
  const take = async (phase: Sample["phase"]) => {
    const [stats, heapMiB] = await Promise.all([storageStats(api), workerHeapMiB(stack!.inspectorPort)]);
    const sample = { ...probe.sample(startedAt, phase, s.loads, stats), purgedInstances: purges.read().instances, workerHeapMiB: heapMiB };
    samples.push(sample);
    const lag = sample.loads.map((l) => `${l.kind} ${l.completedPerSecond.toFixed(1)}/s lag ${l.lag} backlog ${l.unfinished}`).join(", ");
    console.log(
      `[soak] ${Math.round(sample.seconds)} s: ${lag}; workerd ${sample.workerdRssMiB} MiB (proxy ${sample.proxyRssMiB}), heap ${sample.workerHeapMiB} MiB; D1 ${sample.d1MiB} MiB; largest DO ${sample.largestDoMiB} MiB; live ${sample.liveInstances}; purged ${sample.purgedInstances}`,
    );
  };
  const sampler = setInterval(() => void take(Date.now() < loadEnds ? "load" : "drain"), options.windowSeconds * 1000);
  await take("load");
  const inFlight = new Set<Promise<void>>();
  console.log(`[soak] ${options.minutes} min of ${options.queueRate} queue messages/s, ${options.shellRate} shell runs/s, ${options.webhookRate} webhooks/s`);
  await sendLoad(api, s, loadEnds, inFlight);
  await Promise.all(inFlight);
  const drainEnds = Date.now() + options.drainSeconds * 1000;
  while (Date.now() < drainEnds && probe.backlog(s.loads) > 0) await sleep(1000);
  clearInterval(sampler);
  await take("end");
  probe.close();
  await cleanUp();
  let baseline: Baseline | null = null;
  if (options.baselineMinutes > 0) {
    console.log(`[soak] baseline: a hello-world Worker under wrangler dev, ${options.baselineRate} requests/s for ${options.baselineMinutes} min…`);
    baseline = await runBaseline(options.baselineMinutes, options.baselineRate, options.windowSeconds);
  }
  const run: SoakRun = { machine, options, loads: s.loads, samples, purges: purges.read().runs, highestIngest: highestIngest(), baseline, finishedAt: new Date().toISOString() };
  writeFileSync(outFile.replace(/\.md$/, "") + ".json", `${JSON.stringify(run, null, 1)}\n`);
  await writeSoakReport(run, outFile);
  console.log(`[soak] wrote ${outFile}`);
}

async function cleanUp(): Promise<void> {
  if (stack) await stack.stop();
  stack = null;
  if (persistTo) rmSync(persistTo, { recursive: true, force: true });
  persistTo = null;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void cleanUp().finally(() => process.exit(130));
  });
}

if (flags.from) {
  await writeSoakReport(JSON.parse(readFileSync(flags.from, "utf8")) as SoakRun, outFile);
  console.log(`[soak] wrote ${outFile} from ${flags.from}`);
} else {
  try {
    await main();
  } finally {
    await cleanUp();
  }
}
