// What bounds each result: the probes' numbers in words, and the optimizations they point to, ranked.
import type { WorkerProfile } from "./probes.ts";
import { median, type Results } from "./report.ts";

const f = (v: number | undefined, digits = 1) => (v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits));

/** CPU milliseconds per unit of work that each process spent during a phase. */
function cpuPer(r: Results, phasePrefix: string, units: number) {
  const phase = r.phases.find((p) => p.name.startsWith(phasePrefix));
  if (!phase || units === 0) return null;
  const m = phase.metrics;
  const per = (cores: number) => (cores * m.seconds * 1000) / units;
  return { worker: per(m.cpu.workerWorkerd), proxy: per(m.cpu.proxyWorkerd), wrangler: per(m.cpu.wrangler), runner: per(m.cpu.runner), thread: m.workerdBusiestThreadShare, other: m.cpu.otherProcesses };
}

function profileTable(p: WorkerProfile, unit: string): string[] {
  const out = ["| function (inclusive) | share | ms/" + unit + " | | function (self) | share |", "|---|---|---|---|---|---|"];
  for (let i = 0; i < Math.max(p.top.length, p.topSelf.length); i++) {
    const a = p.top[i];
    const b = p.topSelf[i];
    out.push(`| ${a ? `\`${a.name}\`` : ""} | ${a ? `${f(a.share * 100, 0)}%` : ""} | ${a ? f(a.msPerUnit) : ""} | | ${b ? `\`${b.name}\`` : ""} | ${b ? `${f(b.share * 100, 0)}%` : ""} |`);
  }
  return out;
}

function authNote(p: WorkerProfile): string {
  const auth = p.top.find((e) => e.name === "authenticate");
  const rank = auth ? p.top.indexOf(auth) + 1 : 0;
  return auth
    ? `\`authenticate\` takes ${f(auth.share * 100, 0)}% of the isolate's busy time here (rank ${rank} above), ${f(auth.msPerUnit)} ms per node. (Before 1f2179b cached verified keys, every runner request paid \`sameSecret\` against the admin token, \`hashKey\` and a drizzle-built D1 query: \`authenticate\` was the largest frame, about a third of the isolate's time per node.)`
    : "`authenticate` no longer appears among the top frames: since 1f2179b verified keys are cached per isolate (before, it was the largest frame, about a third of the isolate's time per node).";
}

function floor(r: Results): string[] {
  const t = r.roundTrips;
  const c = r.runnerCosts;
  if (!t || !c) return ["(probes not run)"];
  const row = (what: string, l: { p50: number; p99: number }) => `| ${what} | ${f(l.p50)} ms | ${f(l.p99)} ms |`;
  const out = [
    "Sequential requests from Node on the same machine (after a warm-up):",
    "",
    "| probe | p50 | p99 |",
    "|---|---|---|",
    row("`GET /api/v1/health`: wrangler's proxy workerd → the Worker; no auth, no storage", t.health),
    row("`GET` a missing instance with the admin key: + one D1 read", t.d1Read),
    row("an unknown API key, refused: the uncached key check (3 SHA-256, one D1 query)", t.apiKeyAuth),
    row("`POST /runner/claim`, nothing ready, `waitMs: 0`: API-key auth + a ResourcePool RPC that writes", t.emptyClaim),
    row("`spawn('bash', ['-c', 'true'])` in Node, until its pipes close", c.spawn),
    row("the runner's whole `Attempt` for `true` (work dir, script file, spawn, output file, clean-up) with an instant server", c.attempt),
    "",
    `\`GET /api/v1/health\` with 16 in flight: **${f(t.healthPerSecond, 0)} requests/s** — the ceiling of wrangler dev on this machine for a request that does nothing.`,
  ];
  const h = r.cpuHealth;
  const run = r.cpuRun;
  if (h && run) {
    out.push(
      "",
      "CPU per request, from /proc over 300 requests with 16 in flight:",
      "",
      "| request | the Worker's workerd | wrangler's proxy workerd | wrangler (Node) | achieved |",
      "|---|---|---|---|---|",
      `| \`GET /api/v1/health\` | ${f(h.workerWorkerd)} ms | ${f(h.proxyWorkerd)} ms | ${f(h.wrangler)} ms | ${f(h.perSecond, 0)}/s |`,
      `| \`POST /workflows/{id}/runs\`, one \`noop\` node | ${f(run.workerWorkerd)} ms | ${f(run.proxyWorkerd)} ms | ${f(run.wrangler)} ms | ${f(run.perSecond, 0)}/s |`,
    );
  }
  return out;
}

function chainSection(r: Results): string[] {
  if (r.chain.length === 0) return [];
  const mid = [...r.chain].sort((a, b) => a.msPerNode - b.msPerNode)[r.chain.length >> 1]!;
  const p = mid.phases;
  const cpu = cpuPer(r, "1.", (r.options.runs + 1) * 40);
  const t = r.roundTrips;
  const c = r.runnerCosts;
  const out = [
    "### 1. The shell chain",
    "",
    `Where the ${f(mid.msPerNode)} ms between two node completions went (median run; mean over nodes 2–40; server timestamps — \`startedAt\` is the pool's lease, \`finishedAt\` the coordinator's — and the runner's output lines timestamped on arrival):`,
    "",
    "| step | ms per node |",
    "|---|---|",
    `| dispatch: coordinator \`nodeFinished\` → outbox \`pool.enqueue\` (the D1 mirror goes in the background) → lease in the same \`pool.complete\` | ${f(p.dispatch)} |`,
    `| delivery: lease → the completion's answer (or a parked claim's) through wrangler's proxy → runner | ${f(p.claimDelivery)} |`,
    `| runner + report: work dir, spawn \`bash\`, \`POST …/complete\` → auth → \`pool.complete\` → coordinator transaction | ${f(p.runnerAndReport)} |`,
    `| (not on the path: coordinator flush → \`complete\` answered) | ${f(p.ack)} |`,
    "",
  ];
  if (cpu) {
    out.push(
      `CPU per node during this benchmark: **${f(cpu.worker)} ms in the Worker's workerd** (the Worker, both Durable Objects and local D1 — ${f(cpu.thread * 100, 0)}% of it on one thread), ${f(cpu.proxy)} ms in the proxy workerd, ${f(cpu.runner)} ms in the runner and its \`bash\`. Other processes kept ${f(cpu.other, 2)} of the ${r.machine.nproc} cores busy meanwhile.`,
      "",
    );
  }
  out.push(
    `Counted from the code at ${r.machine.commit} (\`worker/api/runner.ts\`, \`worker/pool/resource-pool.ts\`, \`worker/pool/start-notices.ts\`, \`worker/core/scheduler/\`, \`worker/coordinator/outbox.ts\`), one \`shell\` node in a chain costs: **1 runner HTTP request**, the completion, whose answer carries the next task leased in the same pool call (a node that prints adds its log chunks, batched for 200 ms); **3 Durable Object RPCs** on the path (\`pool.complete\`, \`coordinator.nodeFinished\`, \`pool.enqueue\` from the outbox inside the coordinator's commit) and none beside it when the node ends within 50 ms (its start notice rides on the result; a longer node's notice goes with every other lease of those 50 ms in one \`nodesStarted\` call per workflow); **no D1 round trip on the path**: the coordinator's mirror rows are delivered by a background flush that coalesces the commits made meanwhile into one D1 batch; **one coordinator transaction** whose transition costs O(successors): each instance's plan and current attempts stay in memory (\`core/scheduler/instance-state.ts\`), loaded once after a wake.`,
    "",
    `What bounds it: the critical path is serial — complete request → auth → \`pool.complete\` → coordinator transaction → \`pool.enqueue\` → lease → the answer → runner → spawn — and every server-side hop but the proxy runs in the Worker's workerd process (the Worker, both Durable Objects and the local D1 simulator; ${f((cpu?.thread ?? Number.NaN) * 100, 0)}% of its CPU was on one thread). The runner's own share: a whole \`Attempt\` for \`true\` costs ${f(c?.attempt.p50)} ms p50 with an instant server (spawning \`bash\` alone: ${f(c?.spawn.p50)} ms p50). A bare request through wrangler dev costs ${f(t?.health.p50)} ms p50 here, so the 15 ms target leaves the Worker and its objects a few milliseconds per node on this machine.`,
    "",
  );
  const cp = r.chainProfile;
  if (cp) {
    out.push(
      `V8 CPU profile of the Worker's isolate during one more ${40}-node chain (profiler attached, so inflated: ${f(cp.busyMsPerUnit)} ms busy per node):`,
      "",
      ...profileTable(cp, "node"),
      "",
      authNote(cp),
      "",
    );
  }
  return out;
}

function dagSection(r: Results): string[] {
  if (r.noopChain.length === 0 || r.fan.length === 0) return [];
  const m = (xs: number[]) => median(xs);
  const chainTx = m(r.noopChain.map((s) => s.totalMs));
  const chainAnswer = m(r.noopChain.map((s) => s.answeredMs));
  const fanTx = m(r.fan.map((s) => s.totalMs));
  const fanAnswer = m(r.fan.map((s) => s.answeredMs));
  return [
    "### 2. The 400-node noop DAGs",
    "",
    "| DAG | run request → `finishedAt` (inside the coordinator's one transaction) | run request → answered |",
    "|---|---|---|",
    `| chain | ${f(chainTx, 0)} ms | ${f(chainAnswer, 0)} ms |`,
    `| fan-out/fan-in | ${f(fanTx, 0)} ms | ${f(fanAnswer, 0)} ms |`,
    "",
    `All 400 \`noop\` nodes complete inside the coordinator's transaction of the run request, so the instance's \`finishedAt\` is stamped before the request is answered; the D1 mirror (the instance and its 400 node runs, coalesced to their last state) goes out after the answer, in the background. The answer follows ${f(fanAnswer - fanTx, 0)}–${f(chainAnswer - chainTx, 0)} ms after \`finishedAt\` here.`,
    "",
    `What bounds the chain: each finished \`noop\` updates the instance's in-memory plan and decides only its successors (\`core/scheduler/instance-plan.ts\`, checked against the whole-DAG \`planProgress\` on random DAGs), then writes the node's row to SQLite; the chain is 400 of those steps in one transaction, the fan 3 rounds of wide ones (${f(chainTx / Math.max(fanTx, 1), 1)}× apart here). What remains per node is SQLite writes (the node run twice: running and succeeded, plus its mirror effect) and the resolution of its parameters.`,
    "",
  ];
}

function latencySection(r: Results): string[] {
  if (r.latencyShell.length === 0 || r.latencyNoop.length === 0) return [];
  const shell = median(r.latencyShell.map((s) => s.p50));
  const noop = median(r.latencyNoop.map((s) => s.p50));
  const t = r.roundTrips;
  return [
    "### 3. Run request → first node start",
    "",
    `A \`noop\` node starts inside the run request's coordinator transaction: p50 ${f(noop)} ms, about one bare request (\`GET /health\` p50 ${f(t?.health.p50)} ms in the probe phase): the request through wrangler's proxy, the Worker's D1 read of the workflow (one D1 read adds ${f(t ? t.d1Read.p50 - t.health.p50 : Number.NaN)} ms here), zod, downward weights (recomputed on every dev run), a SHA-256 of the definition in the coordinator and its transaction. A \`shell\` node additionally waits for the outbox's \`pool.enqueue\` (the D1 mirror no longer on that path) and the lease to the parked claim — p50 ${f(shell)} ms, ${f(shell - noop)} ms more than \`noop\`. The p99s are scheduling noise on a machine where other processes used ${f(cpuPer(r, "3.", 1)?.other, 2)} cores (the table above).`,
    "",
  ];
}

function spikeSection(r: Results): string[] {
  if (r.spike.length === 0) return [];
  const rate = median(r.spike.map((s) => s.completedPerSecond));
  const cpu = cpuPer(r, "4.", r.spike.reduce((a, s) => a + s.instances, 0));
  const run = r.cpuRun;
  const out = [
    "### 4. The maxParallel spike",
    "",
    `Run creation is bounded by the Worker's workerd: during the spike it spent ${f(cpu?.worker)} ms of CPU per instance (the probe above: ${f(run?.workerWorkerd)} ms per run request), ${f((cpu?.thread ?? Number.NaN) * 100, 0)}% of it on one thread, which caps run creation near **${f(cpu ? 1000 / cpu.worker : Number.NaN, 0)} runs/s** on this machine however many requests are in flight; measured ${f(rate)}/s, that thread busy ${f(r.phases.find((p) => p.name.startsWith("4."))?.metrics.cpu.workerWorkerd, 2)} of the time, other processes using ${f(cpu?.other, 2)} cores. 500/s needs ≤ 2 ms of Worker CPU per instance, while a bare \`GET /health\` already costs ${f(r.cpuHealth?.workerWorkerd)} ms there plus ${f(r.cpuHealth?.proxyWorkerd)} ms in the proxy: with one HTTP request per instance the target is out of reach under \`wrangler dev\` (Cloudflare Workflows in this sitting: ${f(median(r.peer.throughput.map((t) => t.createdPerSecond)), 0)} creations/s with 32 in flight), so it needs batching (benchmark 8e: \`{runs: [...]}\`).`,
    "",
    `Peak running: a \`noop\` instance starts and finishes inside one coordinator transaction, and its \`running\` and \`succeeded\` mirror rows land in the same D1 batch, so \`GET /instances?status=running\` cannot see one (sampled peak ${r.spike.map((s) => s.peakRunning).join(", ")}): maxParallel never binds when nothing takes time. Benchmark 4d runs the same spike with a \`shell\` node and a 64-slot runner so that instances stay running: sampled peaks ${r.shellSpike.map((s) => s.peakRunning).join(", ") || "–"} (limit 50), ${r.shellSpike.map((s) => `${s.succeeded}/${s.instances}`).join(", ") || "–"} succeeded.`,
    "",
  ];
  const p = r.profile;
  if (p) {
    out.push(
      `V8 CPU profile of the Worker's isolate during 300 more run requests (profiler attached, so times are inflated: ${f(p.busyMsPerUnit)} ms busy per request). Inclusive time counts a function and what it called synchronously; async continuations are attributed to the frame that resumes them.`,
      "",
      ...profileTable(p, "request"),
    );
    out.push(
      "",
      "Reading it: `startMany`/`commit`/`transactionSync` are the coordinator's run-request transaction (instance and node rows, outbox rows, admission by `core/scheduler/admission.ts` over indexed reads, `advance`); `deliverBatch`/`_send`/`toJson` the outbox's D1 mirror, now in the background; `authenticate` is the API-key check (cached per isolate since 1f2179b); `exec` is SQLite in the Durable Objects.",
      "",
    );
  }
  return out;
}

function memorySection(r: Results): string[] {
  if (r.phases.length === 0) return [];
  const peak = (g: (p: Results["phases"][number]) => number) => Math.max(...r.phases.map(g));
  const first = r.phases[0]!;
  const spike = r.phases.find((p) => p.name.startsWith("4."));
  return [
    "### 5. Memory",
    "",
    `wrangler dev's process group peaks at ${f(peak((p) => p.metrics.wranglerPeakMiB), 0)} MiB summed RSS (two workerd processes, wrangler's Node, esbuild; shared pages counted in each); the runner at ${f(peak((p) => p.metrics.runnerPeakMiB), 0)} MiB (Node 24 with type stripping; the \`bash\` children run in their own process groups and are not included). The workerd running the Worker, its Durable Objects and local D1 grows with the work done: ${f(first.metrics.workerdPeakMiB, 0)} MiB during "${first.name}", ${f(spike?.metrics.workerdPeakMiB, 0)} MiB during the spikes (${(r.options.runs * (r.options.instances + r.options.shellInstances)).toLocaleString("en-US")} instances on that stack). Memory bounds no benchmark here, but this run does not tell which part grows (Durable Object SQLite, local D1, the isolate's heap); a soak test of \`npm start\` would.`,
    "",
  ];
}

const SUGGESTIONS = (r: Results) => {
  const t = r.roundTrips;
  const chainProfile = r.chainProfile;
  const share = (name: string) => {
    const e = chainProfile?.top.find((x) => x.name === name) ?? chainProfile?.topSelf.find((x) => x.name === name);
    return e ? `${f(e.share * 100, 0)}%` : "–";
  };
  return [
    "## What is left, ranked by expected gain",
    "",
    "Done since the first runs of this suite: batches of run requests (`{runs: [...]}`, benchmark 8e), an incremental plan per instance (2a: the chain no longer re-plans the DAG per node), API keys cached per isolate, the D1 mirror coalesced and off the path, the completion answered with the next task, start notices carried by the result or batched, admission in core over indexed reads, a finished node's timers dropped with it (they stayed in the due-table until due).",
    "",
    `1. **Space the background D1 flush out** (benchmark 1). The mirror no longer sits on the path, but each commit still starts a flush that runs on the same workerd thread as the next node: \`mirrorInBackground\`/\`deliverMirrorBatch\` take ${share("mirrorInBackground")} of the isolate's time in the chain's profile, which is why the lease → runner delivery step is larger than a bare request (${f(t?.health.p50)} ms). Waiting 20–50 ms before a flush would turn a chain's 40 flushes into a few. In production D1 is remote I/O, not CPU in the same process, so this is mostly a cost of the local simulator.`,
    `2. **One request per API run** (benchmarks 4a, 8a, 8f): ${f(r.cpuRun?.workerWorkerd)} ms of the Worker's CPU and ${f(r.cpuRun?.proxyWorkerd)} ms in wrangler's proxy per run request, on one thread, cap single requests near 250/s here; a bare request costs ${f(r.cpuHealth?.workerWorkerd)} + ${f(r.cpuHealth?.proxyWorkerd)} ms. Left in the request: zod validation of the OpenAPI route, the D1 read of the workflow, the coordinator's transaction (admission, the noop, outbox rows). Caching the published version per isolate (it changes only at publish, which the coordinator already fences by revision) would take the D1 read off; the rest is the coordinator's SQLite. Batches (8e) are the way past it and already beat the target.`,
    "3. **Uploads** (7h, 7k–7l): the upload endpoint writes the object to local R2 (a blob file and a metadata row) before the notification; about 210 uploads/s are accepted with 32 in flight, so the trigger path behind it never sees more. The queue path (7a, 7o) is at its target within this machine's ±20 %.",
    "4. **p99s** (3b, 3d): the p50s meet their targets (noop 2–3 ms, shell 5 ms); the p99s are single slow requests on a 2-core machine where wrangler, two workerd processes, the runner and the bench share the cores. Cloudflare Workflows' p99 in the same sitting is no better.",
    "",
  ];
};

function triggerSection(r: Results): string[] {
  if (r.triggers.length === 0) return [];
  const m = (kind: string, mode: string, pick: (s: Results["triggers"][number]) => number) => median(r.triggers.filter((s) => s.kind === kind && s.mode === mode).map(pick));
  const queueRate = m("queue", "burst", (s) => s.runsPerSecond);
  const uploadsAccepted = m("r2", "burst", (s) => s.sentPerSecond);
  const cpu = cpuPer(r, "7.", r.triggers.reduce((n, s) => n + s.count, 0));
  return [
    "### 7. Triggers",
    "",
    `A trigger's event becomes a run through the queue consumer (worker/ingest/queue.ts): the batch's messages are decided in delivery order, all their runs are started with one \`startMany\` call per workflow coordinator (one SQLite transaction, one outbox row, one D1 batch of multi-row upserts: a noop instance is 2 rows, not the 5 states it passed through) and the event log is written as multi-row inserts in one D1 batch. Before this batching (one coordinator call, one outbox flush and one event-log batch per message) the same 1,000-message burst gave 115–160 runs/s on this machine; the figure above is ${f(queueRate, 0)} runs/s.`,
    "",
    `What bounds it under wrangler dev: the local queue broker hands the consumer one batch at a time and waits for it, and the consumer, the coordinator, local D1 and the HTTP producer all share workerd's thread${cpu ? ` (Worker workerd ${f(cpu.worker)} ms of CPU per event over the whole phase — which includes the bench reading every instance back afterwards —, proxy ${f(cpu.proxy)} ms, busiest workerd thread ${f(cpu.thread * 100, 0)}% busy)` : ""}. In a V8 profile of a 1,000-message burst the Worker isolate spent 3.9 ms per event, a quarter of it in the coordinator's transaction (SQLite \`exec\`: admission reads the next waiting instance and updates it, the noop's run is written, \`advance\` re-reads the instance's runs), then D1 result decoding (\`toJson\`) and the consumer itself; local D1 (miniflare's D1 object: every statement re-prepared and two \`total_changes()\` reads around it) runs beside it on the same thread. In production the consumer runs as many invocations as the backlog needs, each coordinator is its own object and D1 is remote, so these figures are a floor for one workflow, not a ceiling.`,
    "",
    `Uploads are bounded before the trigger: the upload endpoint stores the object in local R2 (a blob file and a metadata row) and sends the notification, about ${f(uploadsAccepted, 0)} uploads/s accepted with 32 in flight, so their runs cannot start faster. The paced runs send ${r.options.triggerRate} events/s on an absolute schedule (5 messages per request every 10 ms for queues); when the stack cannot take that rate the backlog grows and their latency shows the queueing, not the path of a single event. The light runs (200 events at 20/s) show that path: send request, queue broker, consumer batch, coordinator, node start.`,
    "",
  ];
}

export function analysis(r: Results): string {
  return [
    "## What bounds each result",
    "",
    "Measured by this run (the probes ran on the benchmarks' first stack after benchmark 3); round trips and writes per node are counted from the code.",
    "",
    "### The floor: a request through wrangler dev, a process spawn",
    "",
    ...floor(r),
    "",
    ...chainSection(r),
    ...dagSection(r),
    ...latencySection(r),
    ...spikeSection(r),
    ...memorySection(r),
    ...triggerSection(r),
    ...SUGGESTIONS(r),
  ].join("\n");
}
