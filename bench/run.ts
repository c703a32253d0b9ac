// npm run bench: the benchmarks of issue 3 on the real local stack; prints the results and writes bench/RESULTS.md.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, startStack, type Stack } from "../scripts/stack.ts";
import { analysis } from "./analysis.ts";
import { measureLargeWorkflow } from "./console.ts";
import { Api, inParallel } from "./api.ts";
import { cpuPerRequest, profileWorker, roundTrips, runnerCosts } from "./probes.ts";
import { consoleTable, loadTable, memoryTable, percentile, resultsTable, type Results } from "./report.ts";
import { triggerRun, type SendMode, type TriggerKind } from "./triggers.ts";
import { machineInfo, StackSampler, wranglerNodePids } from "./stack-metrics.ts";
import { peerChainRun, peerFirstStepLatencies, peerThroughput, peerVersion, startWorkflowsPeer, type WorkflowsPeer } from "./peers/workflows.ts";
import { sideBySide } from "./side-by-side.ts";
import { batchAvailable, sluiceThroughput, withWorkerdCpu } from "./throughput.ts";
import { chainDefinition, fanDefinition, firstNodeLatencies, noopDagRun, RunnerLines, shellChainRun, singleNodeDefinition, spikeRun } from "./workloads.ts";

const USAGE = `usage: npm run bench -- [options]

  --instances N        instances in the maxParallel spike (benchmark 4), default 10000
  --shell-instances N  instances in the shell spike that checks the peak (4d–4f), default 500
  --runs N             runs of each benchmark (the median is reported), default 3
  --latency-runs N     run requests per latency run (benchmark 3), default 200
  --concurrency N      run requests in flight during the spikes, default 64
  --trigger-events N   queue messages and uploads per trigger benchmark (7), default 1000
  --trigger-rate N     events per second sent in the paced trigger runs, default 500
  --throughput-runs N  runs in the throughput benchmarks (8: 32 in flight, batches of 100), default 1000
  --only LIST          comma-separated subset of: chain,dag,latency,probes,console,spike,shell-spike,triggers,throughput,peer
                       (peer: Cloudflare Workflows under its own wrangler dev, the same workloads as 2a, 3c–d and 8)
  --quick              small counts for development (also SLUICE_BENCH_QUICK=1): 1 run, 500/100 spike instances,
                       30 latency runs, 200 trigger events, 200 throughput runs; the numbers are not for RESULTS.md
  --out FILE           where to write the report, default bench/RESULTS.md (bench/RESULTS.quick.md with --quick);
                       the raw results go beside it as .json
  --from FILE.json     runs nothing: writes the report again from a run's saved results (after editing the analysis)`;

const { values: flags } = parseArgs({
  options: {
    instances: { type: "string" },
    "shell-instances": { type: "string" },
    runs: { type: "string" },
    "latency-runs": { type: "string" },
    concurrency: { type: "string", default: "64" },
    "trigger-events": { type: "string" },
    "trigger-rate": { type: "string", default: "500" },
    "throughput-runs": { type: "string" },
    only: { type: "string" },
    quick: { type: "boolean" },
    out: { type: "string" },
    from: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const positive = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(text)}\n\n${USAGE}`);
  return n;
};
const quick = flags.quick === true || process.env.SLUICE_BENCH_QUICK === "1";
/** A flag's value, or its default (smaller under --quick). */
const count = (name: keyof typeof flags, full: number, small: number) => positive(name, (flags[name] as string | undefined) ?? String(quick ? small : full));
const options = {
  runs: count("runs", 3, 1),
  instances: count("instances", 10_000, 500),
  shellInstances: count("shell-instances", 500, 100),
  concurrency: count("concurrency", 64, 64),
  latencyRuns: count("latency-runs", 200, 30),
  triggerEvents: count("trigger-events", 1000, 200),
  triggerRate: count("trigger-rate", 500, 500),
  throughputRuns: count("throughput-runs", 1000, 200),
  quick,
};
const outFile = flags.out ?? join(ROOT, "bench", quick ? "RESULTS.quick.md" : "RESULTS.md");
const only = new Set((flags.only ?? "chain,dag,latency,probes,console,peer,throughput,spike,shell-spike,triggers").split(",").map((s) => s.trim()));
const CHAIN_NODES = 40;
const DAG_NODES = 400;

const results: Results = {
  machine: machineInfo(ROOT),
  options,
  durationSeconds: 0,
  chain: [],
  noopChain: [],
  fan: [],
  latencyShell: [],
  latencyNoop: [],
  spike: [],
  shellSpike: [],
  phases: [],
  roundTrips: null,
  runnerCosts: null,
  cpuHealth: null,
  cpuRun: null,
  profile: null,
  chainProfile: null,
  console: [],
  triggers: [],
  throughput: [],
  batch: [],
  batchUnavailable: null,
  peer: { version: peerVersion(), chain: [], latency: [], throughput: [], batch: [] },
  errors: [],
};

/** The stack that is up now, so a signal or a failure still stops it (and only it). */
let current: { stack: Stack; persistTo: string; sampler: StackSampler } | null = null;
let currentPeer: { peer: WorkflowsPeer; sampler: StackSampler } | null = null;

async function withStack(name: string, runnerSlots: number, body: (api: Api, stack: Stack, sampler: StackSampler, lines: RunnerLines) => Promise<void>) {
  const persistTo = mkdtempSync(join(tmpdir(), "sluice-bench-"));
  console.log(`\n[bench] starting the local stack for ${name} (wrangler dev + a runner with ${runnerSlots} slots)…`);
  const t = performance.now();
  const stack = await startStack({ quiet: true, persistTo, runners: [{ name: "bench-runner", slots: runnerSlots }] });
  const sampler = new StackSampler(stack.worker.pid!, stack.runners.map((r) => r.pid!), Number(new URL(stack.url).port));
  current = { stack, persistTo, sampler };
  sampler.start();
  console.log(`[bench] stack up at ${stack.url} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  try {
    await body(new Api(stack.url, stack.adminToken), stack, sampler, new RunnerLines(stack.runners));
  } finally {
    await stopCurrent();
  }
}

async function stopCurrent() {
  const p = currentPeer;
  currentPeer = null;
  if (p) {
    p.sampler.stop();
    await p.peer.stop();
  }
  const c = current;
  current = null;
  if (!c) return;
  c.sampler.stop();
  await c.stack.stop();
  rmSync(c.persistTo, { recursive: true, force: true });
}

/** One benchmark: its phase metrics (RSS, CPU) are recorded; a failure is reported and the suite goes on. */
async function phase(name: string, sampler: StackSampler, body: () => Promise<void>) {
  sampler.beginPhase();
  try {
    await body();
  } catch (err) {
    const message = `${name}: ${err instanceof Error ? err.message : String(err)}`;
    console.error(`[bench] FAILED ${message}`);
    results.errors.push(message);
  } finally {
    results.phases.push({ name, metrics: sampler.endPhase() });
  }
}

const say = (text: string) => console.log(`[bench] ${text}`);

async function suiteA() {
  await withStack("benchmarks 1–3", 4, async (api, stack, sampler, lines) => {
    if (only.has("chain")) {
      await phase("1. shell chain", sampler, async () => {
        const wf = await api.createWorkflow(chainDefinition("bench_shell_chain", CHAIN_NODES, "shell"));
        await shellChainRun(api, lines, wf, CHAIN_NODES); // warm-up: isolate, DOs, runner
        for (let i = 0; i < options.runs; i++) {
          const s = await shellChainRun(api, lines, wf, CHAIN_NODES);
          results.chain.push(s);
          say(`1. shell chain run ${i + 1}/${options.runs}: ${s.msPerNode.toFixed(1)} ms/node (${s.totalMs} ms for ${CHAIN_NODES} nodes)`);
        }
      });
    }
    if (only.has("dag")) {
      await phase("2. noop DAGs", sampler, async () => {
        const chain = await api.createWorkflow(chainDefinition("bench_noop_chain", DAG_NODES, "noop"));
        const fan = await api.createWorkflow(fanDefinition("bench_noop_fan", DAG_NODES - 2));
        await noopDagRun(api, chain);
        await noopDagRun(api, fan);
        for (let i = 0; i < options.runs; i++) {
          const c = await noopDagRun(api, chain);
          const f = await noopDagRun(api, fan);
          results.noopChain.push(c);
          results.fan.push(f);
          say(`2. noop DAGs run ${i + 1}/${options.runs}: chain ${(c.totalMs / 1000).toFixed(3)} s, fan-out/fan-in ${(f.totalMs / 1000).toFixed(3)} s`);
        }
      });
    }
    if (only.has("latency")) {
      await phase("3. run → first node start", sampler, async () => {
        for (const type of ["shell", "noop"] as const) {
          const wf = await api.createWorkflow(singleNodeDefinition(`bench_first_${type}`, type));
          await firstNodeLatencies(api, lines, wf, type, 5);
          for (let i = 0; i < options.runs; i++) {
            const samples = await firstNodeLatencies(api, lines, wf, type, options.latencyRuns);
            const s = { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
            (type === "shell" ? results.latencyShell : results.latencyNoop).push(s);
            say(`3. ${type} run → first node start, run ${i + 1}/${options.runs}: p50 ${s.p50} ms, p99 ${s.p99} ms`);
          }
        }
      });
    }
    if (only.has("probes")) {
      await phase("probes", sampler, async () => {
        say("probes: request overhead, D1 and claim round trips, runner costs, CPU per request, a V8 profile…");
        results.roundTrips = await roundTrips(api, stack.runnerToken);
        results.runnerCosts = await runnerCosts();
        const wranglerPids = wranglerNodePids(stack.worker.pid!);
        results.cpuHealth = await cpuPerRequest(sampler, wranglerPids, 300, () => fetch(`${api.url}/api/v1/health`).then((r) => r.text()));
        const wf = await api.createWorkflow(singleNodeDefinition("bench_cpu_noop", "noop"));
        results.cpuRun = await cpuPerRequest(sampler, wranglerPids, 300, () => api.run(wf));
        const port = Number(stack.worker.spawnargs[stack.worker.spawnargs.indexOf("--inspector-port") + 1]);
        results.profile = await profileWorker(port, 300, () => inParallel(300, 16, async () => void (await api.run(wf)))).catch(() => null);
        const chain = await api.createWorkflow(chainDefinition("bench_profile_chain", CHAIN_NODES, "shell"));
        results.chainProfile = await profileWorker(port, CHAIN_NODES, () => shellChainRun(api, lines, chain, CHAIN_NODES)).catch(() => null);
      });
    }
    if (only.has("console")) {
      await phase("6. console, 400 nodes", sampler, async () => {
        for (let i = 0; i < options.runs; i++) {
          const s = await measureLargeWorkflow(stack.url, stack.adminToken);
          results.console.push(s);
          say(`6. console run ${i + 1}/${options.runs}: 400-node workflow drawn in ${s.openMs} ms; panning: median frame ${s.medianFrameMs.toFixed(1)} ms, p95 ${s.p95FrameMs.toFixed(1)} ms (${s.frames} frames)`);
        }
      });
    }
  });
}

/** Cloudflare Workflows under its own wrangler dev (no Sluice stack up): the workloads of 2a, 3c–d and 8, same sitting. */
async function suitePeer() {
  say(`starting Cloudflare Workflows under wrangler dev (bench/peers/workflows/; ${results.peer.version})…`);
  const t = performance.now();
  const peer = await startWorkflowsPeer();
  const sampler = new StackSampler(peer.child.pid!, [], peer.port);
  currentPeer = { peer, sampler };
  sampler.start();
  say(`Workflows peer up at ${peer.url} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const p = results.peer;
  try {
    await phase("peer: CF Workflows", sampler, async () => {
      await peerChainRun(peer, DAG_NODES); // warm-up: isolate, engine
      await peerFirstStepLatencies(peer, 5);
      for (let i = 0; i < options.runs; i++) {
        p.chain.push(await peerChainRun(peer, DAG_NODES));
        p.latency.push(await peerFirstStepLatencies(peer, options.latencyRuns));
        say(`peer run ${i + 1}/${options.runs}: ${DAG_NODES}-step chain ${(p.chain.at(-1)! / 1000).toFixed(3)} s; create → first step p50 ${p.latency.at(-1)!.p50} ms, p99 ${p.latency.at(-1)!.p99} ms`);
      }
      await peerThroughput(peer, 100, { concurrency: 32 }); // warm-up
      for (let i = 0; i < options.runs; i++) {
        p.throughput.push(await withWorkerdCpu(sampler, () => peerThroughput(peer, options.throughputRuns, { concurrency: 32 })));
        p.batch.push(await withWorkerdCpu(sampler, () => peerThroughput(peer, options.throughputRuns, { batch: 100 })));
        const [one, batch] = [p.throughput.at(-1)!, p.batch.at(-1)!];
        say(`peer run ${i + 1}/${options.runs}: ${one.count} instances 32 in flight ${one.completedPerSecond.toFixed(0)} completed/s (created ${one.createdPerSecond.toFixed(0)}/s, ${one.cpuMsPerRun.toFixed(1)} ms workerd CPU each); createBatch of 100: ${batch.completedPerSecond.toFixed(0)} completed/s`);
      }
    });
  } finally {
    await stopCurrent();
  }
}

async function suiteB() {
  await withStack("benchmarks 8 and 4", 64, async (api, _stack, sampler) => {
    if (only.has("throughput")) {
      await phase("8. run throughput", sampler, async () => {
        results.batchUnavailable = await batchAvailable(api, await api.createWorkflow(singleNodeDefinition("bench_batch_probe", "noop")));
        if (results.batchUnavailable) say(`8. batch run requests ${results.batchUnavailable}`);
        await sluiceThroughput(api, await api.createWorkflow(singleNodeDefinition("bench_throughput_warm", "noop")), 100, { concurrency: 32 });
        for (let i = 0; i < options.runs; i++) {
          const wf = await api.createWorkflow(singleNodeDefinition("bench_throughput", "noop"));
          const one = await withWorkerdCpu(sampler, () => sluiceThroughput(api, wf, options.throughputRuns, { concurrency: 32 }));
          results.throughput.push(one);
          say(`8. run ${i + 1}/${options.runs}: ${one.count} runs 32 in flight ${one.completedPerSecond.toFixed(0)} completed/s (created ${one.createdPerSecond.toFixed(0)}/s, ${one.cpuMsPerRun.toFixed(1)} ms workerd CPU each, ${one.notCompleted} not completed)`);
          if (results.batchUnavailable) continue;
          const batchWf = await api.createWorkflow(singleNodeDefinition("bench_throughput_batch", "noop"));
          const batch = await withWorkerdCpu(sampler, () => sluiceThroughput(api, batchWf, options.throughputRuns, { batch: 100 }));
          results.batch.push(batch);
          say(`   batches of 100: ${batch.completedPerSecond.toFixed(0)} completed/s (created ${batch.createdPerSecond.toFixed(0)}/s, ${batch.notCompleted} not completed)`);
        }
      });
    }
    if (only.has("spike")) {
      await phase("4. noop spike", sampler, async () => {
        for (let i = 0; i < options.runs; i++) {
          const wf = await api.createWorkflow(singleNodeDefinition("bench_spike_noop", "noop", 50));
          say(`4. spike run ${i + 1}/${options.runs}: ${options.instances} runs of a one-noop workflow, ${options.concurrency} in flight…`);
          const s = await spikeRun(api, wf, options.instances, options.concurrency, 600_000);
          results.spike.push(s);
          say(`   ${s.completedPerSecond.toFixed(1)} completed/s over ${s.seconds.toFixed(1)} s; peak running ${s.peakRunning} (${s.runningSamples} samples); ${s.succeeded}/${s.instances} succeeded; request p50 ${s.requestP50.toFixed(0)} ms`);
        }
      });
    }
    if (only.has("shell-spike")) {
      await phase("4d. shell spike", sampler, async () => {
        for (let i = 0; i < options.runs; i++) {
          const wf = await api.createWorkflow(singleNodeDefinition("bench_spike_shell", "shell", 50));
          say(`4d. shell spike run ${i + 1}/${options.runs}: ${options.shellInstances} runs of a one-shell workflow…`);
          const s = await spikeRun(api, wf, options.shellInstances, options.concurrency, 600_000);
          results.shellSpike.push(s);
          say(`   ${s.completedPerSecond.toFixed(1)} completed/s; peak running ${s.peakRunning} (${s.runningSamples} samples); ${s.succeeded}/${s.instances} succeeded`);
        }
      });
    }
  });
}

/** The light trigger runs: few enough events per second that the local stack never queues them. */
const LIGHT_EVENTS = 200;
const LIGHT_RATE = 20;

async function suiteC() {
  await withStack("benchmark 7", 4, async (api, _stack, sampler) => {
    await phase("7. triggers", sampler, async () => {
      for (const kind of ["queue", "r2"] as TriggerKind[]) {
        await triggerRun(api, kind, "burst", 100, options.triggerRate); // warm-up: isolate, coordinator, consumer
        for (let i = 0; i < options.runs; i++) {
          for (const mode of (kind === "queue" ? ["burst", "single", "paced", "light"] : ["burst", "paced", "light"]) as SendMode[]) {
            const light = mode === "light";
            const s = await triggerRun(api, kind, mode, light ? LIGHT_EVENTS : options.triggerEvents, light ? LIGHT_RATE : options.triggerRate);
            results.triggers.push(s);
            const sent = mode === "burst" ? "all at once" : mode === "single" ? "one per request, 50 in flight" : `at ${s.rate}/s`;
            say(`7. ${s.count} ${kind === "queue" ? "queue messages" : "uploads"} ${sent}, run ${i + 1}/${options.runs}: ${s.runsPerSecond.toFixed(0)} runs started/s (events accepted ${s.sentPerSecond.toFixed(0)}/s); send → node start p50 ${s.p50} ms, p99 ${s.p99} ms; ${s.notStarted} not started`);
          }
        }
      }
    });
  });
}

function report(): string {
  const m = results.machine;
  return [
    "# Sluice benchmarks",
    "",
    `Generated by \`npm run bench\` on ${m.date} (took ${(results.durationSeconds / 60).toFixed(1)} min). Every benchmark ran against the real local stack — \`wrangler dev\` (local D1, Durable Objects) plus the runner CLI — started by \`scripts/stack.ts\` with fresh state in a temporary directory, all on 127.0.0.1. Each figure is the median of ${results.options.runs} runs after a warm-up, with the min–max of those runs.`,
    "",
    "## Machine",
    "",
    "| nproc | memory | CPU | kernel | Node | wrangler | workerd | code | load average at start |",
    "|---|---|---|---|---|---|---|---|---|",
    `| ${m.nproc} | ${m.memoryGiB} GiB | ${m.cpuModel} | ${m.kernel} | ${m.node} | ${m.wrangler} | ${m.workerd} | ${m.commit} | ${m.loadAtStart} |`,
    "",
    "## Results",
    "",
    resultsTable(results),
    "",
    ...(results.options.quick ? ["**Quick mode** (`--quick`): small counts for development; these numbers are not comparable with a full run.", ""] : []),
    "## Side by side: Cloudflare Workflows, same sitting",
    "",
    sideBySide(results),
    "",
    ...(results.errors.length ? ["**Failures:**", "", ...results.errors.map((e) => `- ${e}`), ""] : []),
    "## 5. Peak memory (RSS, sampled every 200 ms from /proc)",
    "",
    memoryTable(results),
    "",
    "## How busy the machine was",
    "",
    loadTable(results),
    "",
    analysis(results),
  ].join("\n");
}

if (flags.from) {
  Object.assign(results, JSON.parse(readFileSync(flags.from, "utf8")) as Results);
  writeReport();
  console.log(`[bench] wrote ${outFile} from ${flags.from}`);
  process.exit(0);
}

/** The report, then the fault-injection section of the previous one (written by hand from its output), kept as it is. */
function writeReport(): void {
  const FAULTS = "\n## Fault injection";
  const previous = existsSync(outFile) ? readFileSync(outFile, "utf8") : "";
  const kept = previous.includes(FAULTS) ? previous.slice(previous.indexOf(FAULTS)) : "";
  writeFileSync(outFile, report() + kept);
}

const started = performance.now();
const watchdog = setTimeout(() => {
  console.error("[bench] giving up after 60 minutes");
  void stopCurrent().finally(() => process.exit(2));
}, 60 * 60_000);
watchdog.unref();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`[bench] ${signal}: stopping the stack`);
    void stopCurrent().finally(() => process.exit(130));
  });
}

try {
  if (["chain", "dag", "latency", "probes", "console"].some((b) => only.has(b))) await suiteA();
  if (only.has("peer")) await suitePeer();
  if (["throughput", "spike", "shell-spike"].some((b) => only.has(b))) await suiteB();
  if (only.has("triggers")) await suiteC();
} catch (err) {
  results.errors.push(`the suite stopped: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  console.error(err);
  await stopCurrent();
}
results.durationSeconds = (performance.now() - started) / 1000;
writeFileSync(outFile.replace(/\.md$/, "") + ".json", JSON.stringify(results, null, 1));
writeReport();
console.log(`\n${consoleTable(results)}\n\n[bench] done in ${(results.durationSeconds / 60).toFixed(1)} min; wrote ${outFile}`);
process.exit(results.errors.length ? 1 : 0);
