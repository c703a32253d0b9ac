// bench/SOAK.md: the soak's windows as a table, its verdicts against issue #12's targets, and charts drawn by Vega-Lite as SVG.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { PURGE_QUERY_BUDGET, PURGE_R2_CALL_BUDGET, PURGE_TIME_BUDGET_MS } from "../worker/core/retention.ts";
import type { Baseline } from "./soak-baseline.ts";
import type { MachineInfo } from "./stack-metrics.ts";

export interface Load {
  kind: "queue" | "shell" | "webhook";
  workflowId: string;
  /** Events per second sent. */
  rate: number;
  sent: number;
  accepted: number;
  /** Answered 4xx. */
  refused: number;
  /** Answered 5xx, or no answer. */
  failed: number;
}

export interface LoadSample {
  kind: Load["kind"];
  accepted: number;
  failedSends: number;
  started: number;
  completed: number;
  /** Instances that ended failed (a run that should have succeeded). */
  failed: number;
  completedPerSecond: number;
  /** Events accepted but not started yet. */
  lag: number;
  /** Events accepted whose run has not finished yet: the backlog, running nodes included. */
  unfinished: number;
}

export interface Sample {
  seconds: number;
  phase: "load" | "drain" | "end";
  loads: LoadSample[];
  workerdRssMiB: number;
  /** Of workerdRssMiB, wrangler's proxy process (no Sluice code runs there). */
  proxyRssMiB: number;
  /** The Worker isolate's JS heap in use in use (devtools); null when it did not answer. */
  workerHeapMiB: number | null;
  runnerRssMiB: number;
  d1MiB: number;
  largestDoMiB: number;
  coordinatorsMiB: number;
  poolsMiB: number;
  r2Objects: number;
  /** D1 log chunks of attempts finished over a minute ago (absent in runs recorded before it was measured). */
  finishedLogChunks?: number;
  /** Finished or not, the instances the coordinators hold in live state (GET /api/v1/stats); null if it failed. */
  liveInstances: number | null;
  /** Instances the retention cron has deleted since the load began. */
  purgedInstances: number;
}

/** One run of the retention cron that deleted something, as its log line says. */
export interface PurgeRun {
  /** Seconds since the load began when the line was read. */
  seconds: number;
  instances: number;
  triggerEvents: number;
  auditEvents: number;
  ms: number;
  /** D1 queries and R2 calls, which the cron's budget counts. */
  queries: number;
  r2Calls: number;
  complete: boolean;
}

export interface SoakRun {
  machine: MachineInfo;
  options: {
    minutes: number;
    queueRate: number;
    shellRate: number;
    webhookRate: number;
    slots: number;
    windowSeconds: number;
    drainSeconds: number;
    /** 0: the installation's default (30 days). */
    retentionMinutes: number;
    /** 0: the installation's default (60 minutes). */
    liveWindowMinutes: number;
    /** The triggers' dedup window; 0: the trigger default (24 h). */
    dedupWindowSeconds: number;
    baselineMinutes: number;
    baselineRate: number;
  };
  loads: Load[];
  samples: Sample[];
  purges: PurgeRun[];
  /** The highest run-start rate bench/RESULTS.json records (runs/s), which the purge must outpace. */
  highestIngest: { name: string; perSecond: number } | null;
  /** A hello-world Worker under the same wrangler dev afterwards: what wrangler and workerd hold by themselves. */
  baseline: Baseline | null;
  finishedAt: string;
}

const pct = (from: number, to: number) => (from > 0 ? ((to - from) / from) * 100 : Number.NaN);
const signed = (n: number) => `${n >= 0 ? "+" : ""}${n.toFixed(1)} %`;

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}

/** One line chart of several series over the soak's minutes. */
function lineChart(title: string, unit: string, points: { minute: number; series: string; value: number }[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 640,
    height: 220,
    background: "white",
    data: { values: points },
    mark: { type: "line", point: { size: 18 } },
    encoding: {
      x: { field: "minute", type: "quantitative", title: "minutes since the load began" },
      y: { field: "value", type: "quantitative", title: unit },
      color: { field: "series", type: "nominal", title: null, legend: { orient: "bottom" } },
    },
  };
}

/** Per window: instances the cron purged, and runs completed over every load, each per second. */
function ratePerWindow(run: SoakRun): { minute: number; series: string; value: number }[] {
  const points: { minute: number; series: string; value: number }[] = [];
  for (let i = 1; i < run.samples.length; i++) {
    const [a, b] = [run.samples[i - 1]!, run.samples[i]!];
    const seconds = b.seconds - a.seconds;
    if (seconds < 1) continue;
    const minute = Math.round((b.seconds / 60) * 100) / 100;
    const completed = b.loads.reduce((sum, l, k) => sum + l.completed - a.loads[k]!.completed, 0);
    points.push({ minute, series: "completed", value: Math.round((completed / seconds) * 10) / 10 });
    points.push({ minute, series: "purged", value: Math.round(((b.purgedInstances - a.purgedInstances) / seconds) * 10) / 10 });
  }
  return points;
}

function charts(run: SoakRun): { name: string; title: string; spec: TopLevelSpec }[] {
  const at = (s: Sample) => Math.round((s.seconds / 60) * 100) / 100;
  const perLoad = (value: (l: LoadSample) => number, samples = run.samples) => samples.flatMap((s) => s.loads.map((l) => ({ minute: at(s), series: l.kind, value: value(l) })));
  // The closing sample may come moments after the last window: a rate over those moments says nothing.
  const windows = run.samples.filter((s) => s.phase !== "end");
  const series = (pairs: [string, (s: Sample) => number][]) => run.samples.flatMap((s) => pairs.map(([name, value]) => ({ minute: at(s), series: name, value: value(s) })));
  return [
    { name: "throughput", title: "Runs completed per second, by load", spec: lineChart("Runs completed per second", "runs/s", perLoad((l) => Math.round(l.completedPerSecond * 10) / 10, windows)) },
    { name: "lag", title: "Lag: events accepted but not started", spec: lineChart("Lag: events accepted, not started", "events", perLoad((l) => l.lag)) },
    { name: "backlog", title: "Backlog: events accepted whose run has not finished", spec: lineChart("Backlog: accepted, not finished", "events", perLoad((l) => l.unfinished)) },
    {
      name: "memory",
      title: "Memory: resident, and the Worker isolate's heap in use",
      spec: lineChart(
        "Memory",
        "MiB",
        series([
          ["workerd, both processes (RSS)", (s) => s.workerdRssMiB],
          ["of which wrangler's proxy (RSS)", (s) => s.proxyRssMiB],
          ["Worker isolate heap in use", (s) => s.workerHeapMiB ?? 0],
          ["runner (RSS)", (s) => s.runnerRssMiB],
        ]),
      ),
    },
    {
      name: "live",
      title: "Instances the coordinators hold in live state",
      spec: lineChart("Live instances (all coordinators)", "instances", series([["live instances", (s) => s.liveInstances ?? 0]])),
    },
    {
      name: "retention",
      title: "Retention: instances purged per second beside runs completed per second",
      spec: lineChart("Purged beside completed", "instances/s", ratePerWindow(run)),
    },
    {
      name: "storage",
      title: "Storage",
      spec: lineChart("Storage", "MiB", series([["D1", (s) => s.d1MiB], ["largest Durable Object", (s) => s.largestDoMiB], ["all coordinators", (s) => s.coordinatorsMiB], ["all pools", (s) => s.poolsMiB]])),
    },
  ];
}

/**
 * The Worker's heap over the second half of the load. Read without a forced GC, one window's figure swings with
 * the collector, so the halves of the second half are compared by their medians.
 */
function heapVerdict(load: Sample[], halfway: Sample): string {
  const heaps = (samples: Sample[]) => samples.map((s) => s.workerHeapMiB).filter((h): h is number => h !== null).sort((a, b) => a - b);
  const secondHalf = load.filter((s) => s.seconds >= halfway.seconds);
  const cut = Math.floor(secondHalf.length / 2);
  const [early, late] = [heaps(secondHalf.slice(0, cut)), heaps(secondHalf.slice(cut))];
  if (early.length === 0 || late.length === 0) return `| the Worker isolate's JS heap in use (Sluice's own objects) | not read | flat |`;
  const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!;
  const range = (xs: number[]) => `${xs[0]}–${xs.at(-1)}`;
  return `| the Worker isolate's JS heap in use (Sluice's own objects): median of the windows in each quarter of the second half (range) | ${median(early)} MiB (${range(early)}) → ${median(late)} MiB (${range(late)}), ${signed(pct(median(early), median(late)))} | flat |`;
}

function verdicts(run: SoakRun): string[] {
  const load = run.samples.filter((s) => s.phase === "load");
  const halfway = load.find((s) => s.seconds >= (run.options.minutes * 60) / 2) ?? load[0]!;
  const lastLoad = load.at(-1)!;
  const end = run.samples.at(-1)!;
  const growth = pct(halfway.workerdRssMiB, lastLoad.workerdRssMiB);
  const lines = [
    `| measure | value | target (issue #12) |`,
    `|---|---|---|`,
    `| workerd RSS over the second half of the load | ${halfway.workerdRssMiB} → ${lastLoad.workerdRssMiB} MiB (${signed(growth)}) | < 5 % over 30 minutes |`,
    `| of it, wrangler's proxy process (no Sluice code) | ${halfway.proxyRssMiB} → ${lastLoad.proxyRssMiB} MiB (${signed(pct(halfway.proxyRssMiB, lastLoad.proxyRssMiB))}) | – |`,
    heapVerdict(load, halfway),
  ];
  for (const l of lastLoad.loads) lines.push(`| ${l.kind}: lag / backlog when the load stopped | ${l.lag} not started / ${l.unfinished} not finished | bounded (no growing backlog) |`);
  for (const l of end.loads) lines.push(`| ${l.kind}: accepted / started / completed / failed at the end | ${l.accepted} / ${l.started} / ${l.completed} / ${l.failed} | all accepted complete, none failed |`);
  lines.push(...storageVerdict(run, end));
  const chunks = run.samples.map((s) => s.finishedLogChunks).filter((n): n is number => n !== undefined);
  if (chunks.length > 0) lines.push(`| D1 log chunks of attempts finished over a minute ago, most in any window | ${Math.max(...chunks)} | none (logs of finished attempts are in R2) |`);
  lines.push(...purgeVerdict(run));
  return lines;
}

/**
 * Storage once retention has had time to apply, against the end of the load: D1 after the retention age plus two
 * cron minutes, the Durable Objects after the coordinators' live window (or the triggers' dedup window, if longer)
 * plus two minutes.
 */
function storageVerdict(run: SoakRun, end: Sample): string[] {
  const o = run.options;
  const load = run.samples.filter((s) => s.phase === "load");
  const last = load.at(-1)!;
  const at = (s: Sample) => (s.seconds / 60).toFixed(1);
  const row = (what: string, minutes: number, value: (s: Sample) => number, setting: string) => {
    const from = load.find((s) => s.seconds >= (minutes + 2) * 60);
    if (!from || from === last) return `| ${what} | ${value(end)} MiB at the end | flat once ${setting} (from minute ${minutes + 2}, after the load ended) |`;
    return `| ${what}, minute ${at(from)} → ${at(last)} | ${value(from)} → ${value(last)} MiB (${signed(pct(value(from), value(last)))}) | flat once ${setting} |`;
  };
  return [
    row("D1 size", o.retentionMinutes || 30 * 24 * 60, (s) => s.d1MiB, "retention applies"),
    row("largest Durable Object", Math.max(o.liveWindowMinutes || 60, (o.dedupWindowSeconds || 86_400) / 60), (s) => s.largestDoMiB, "the live and dedup windows apply"),
  ];
}

/**
 * How fast the cron deletes while it runs, and what that sustains within a run's budget (time, D1 queries, R2
 * calls; a run every minute), beside the highest ingest measured.
 */
function purgeVerdict(run: SoakRun): string[] {
  const big = run.purges.filter((p) => p.instances >= 1000 && p.ms > 0 && p.queries > 0);
  if (big.length === 0) return [`| retention: instances deleted per second while purging | no cron run deleted 1,000 instances or more | faster than the highest ingest rate |`];
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const perSecond = median(big.map((p) => (p.instances / p.ms) * 1000));
  const perQuery = median(big.map((p) => p.instances / p.queries));
  const perR2Call = median(big.map((p) => (p.r2Calls > 0 ? p.instances / p.r2Calls : Number.POSITIVE_INFINITY)));
  const perMinute = Math.min((perSecond * PURGE_TIME_BUDGET_MS) / 1000, perQuery * PURGE_QUERY_BUDGET, perR2Call * PURGE_R2_CALL_BUDGET);
  const sustained = perMinute / 60;
  const peer = run.highestIngest;
  const beside = peer ? `; the highest ingest in bench/RESULTS.md is ${peer.perSecond}/s (${peer.name}): ${(sustained / peer.perSecond).toFixed(1)}×` : "";
  const budget = `${PURGE_TIME_BUDGET_MS / 1000} s, ${PURGE_QUERY_BUDGET} D1 queries, ${PURGE_R2_CALL_BUDGET} R2 calls`;
  return [
    `| retention: deletion rate (median of ${big.length} cron runs of ≥ 1,000 instances) | ${Math.round(perSecond)} instances/s while purging, ${perQuery.toFixed(0)} per D1 query, ${perR2Call.toFixed(0)} per R2 call; a run's budget (${budget}, every minute) sustains ${Math.round(sustained)}/s${beside} | faster than the highest ingest rate |`,
  ];
}

/** The baseline's section: its chart and its growth over the second half, beside the soak's. */
async function baselineSection(run: SoakRun, chartDir: string): Promise<string[]> {
  const b = run.baseline;
  if (!b || b.samples.length < 2) return [];
  const points = b.samples.map((s) => ({ minute: Math.round((s.seconds / 60) * 100) / 100, series: "workerd, both processes (RSS)", value: s.workerdRssMiB }));
  writeFileSync(join(chartDir, "baseline.svg"), await svg(lineChart("Baseline: a hello-world Worker under wrangler dev", "MiB", points)));
  const first = b.samples[0]!;
  const half = b.samples.find((s) => s.seconds >= b.samples.at(-1)!.seconds / 2)!;
  const last = b.samples.at(-1)!;
  return [
    "## Baseline: wrangler dev alone",
    "",
    `After the soak, a Worker that only answers \`ok\` (\`bench/baseline-worker\`) ran under the same wrangler dev for ${run.options.baselineMinutes} min at ${b.requestsPerSecond} requests/s. Its workerd processes went ${first.workerdRssMiB} → ${half.workerdRssMiB} → ${last.workerdRssMiB} MiB (start, halfway, end; ${signed(pct(half.workerdRssMiB, last.workerdRssMiB))} over the second half): the resident memory that wrangler's proxy and workerd hold by themselves under a request rate, none of it Sluice's.`,
    "",
    `![Baseline](${basename(chartDir)}/baseline.svg)`,
    "",
  ];
}

function windowTable(run: SoakRun): string[] {
  const kinds = run.loads.map((l) => l.kind);
  const head = ["min", "phase", ...kinds.flatMap((k) => [`${k} /s`, `${k} lag`, `${k} backlog`]), "workerd MiB", "proxy MiB", "heap MiB", "runner MiB", "D1 MiB", "largest DO MiB", "live instances", "R2 objects", "purged"];
  const rows = run.samples.map((s) => [
    (s.seconds / 60).toFixed(1),
    s.phase,
    ...s.loads.flatMap((l) => [l.completedPerSecond.toFixed(1), String(l.lag), String(l.unfinished)]),
    String(s.workerdRssMiB),
    String(s.proxyRssMiB),
    String(s.workerHeapMiB ?? "–"),
    String(s.runnerRssMiB),
    String(s.d1MiB),
    String(s.largestDoMiB),
    String(s.liveInstances ?? "–"),
    String(s.r2Objects),
    String(s.purgedInstances),
  ]);
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)];
}

export async function writeSoakReport(run: SoakRun, outFile: string): Promise<void> {
  const chartDir = join(dirname(outFile), "soak");
  mkdirSync(chartDir, { recursive: true });
  const drawn: string[] = [];
  for (const chart of charts(run)) {
    writeFileSync(join(chartDir, `${chart.name}.svg`), await svg(chart.spec));
    drawn.push(`![${chart.title}](${basename(chartDir)}/${chart.name}.svg)`);
  }
  const m = run.machine;
  const o = run.options;
  const text = [
    "# Sluice soak",
    "",
    `Generated by \`npm run soak\` on ${m.date}, finished ${run.finishedAt}. The real local stack (\`wrangler dev\` with local D1, R2, Queues and Durable Objects, plus the runner CLI running real bash) on 127.0.0.1, fresh state.`,
    "",
    `Load: ${o.minutes} min of ${o.queueRate} queue messages/s (one send request every 100 ms), ${o.shellRate} API runs/s of a two-node shell workflow, ${o.webhookRate} signed webhook deliveries/s; ${o.slots} runner slots; a sample every ${o.windowSeconds} s; then up to ${o.drainSeconds} s for the backlog. Retention: ${o.retentionMinutes ? `${o.retentionMinutes} min` : "30 days (default)"}; coordinator live window: ${o.liveWindowMinutes ? `${o.liveWindowMinutes} min` : "60 min (default)"}; the triggers' dedup window: ${o.dedupWindowSeconds ? `${o.dedupWindowSeconds} s` : "24 h (default)"} (each event keeps a dedup key in its coordinator that long). The stack fires the retention cron every minute, as Cloudflare does.`,
    "",
    `Machine: ${m.nproc} cores, ${m.memoryGiB} GiB, ${m.cpuModel}, kernel ${m.kernel}, Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}, code ${m.commit}, load average at start ${m.loadAtStart}.`,
    "",
    "How it is measured: counts are D1's (what the API lists) by workflow and status, each finished instance counted once 10 s after it finished, so retention cannot take it back; lag is events the Worker accepted (2xx) minus instances that started; backlog, accepted minus instances that finished. Durable Object sizes and live instances are what each object reports (`GET /api/v1/stats`: `ctx.storage.sql.databaseSize`); D1's size is its SQLite pages (`PRAGMA page_count × page_size`) read from wrangler's state directory. Memory is VmRSS from /proc for both workerd processes (wrangler's proxy, which runs no Sluice code, and the one running the Worker with its Durable Objects and the local D1, R2 and Queues), and the Worker isolate's JavaScript heap in use (devtools `Runtime.getHeapUsage`), which is where Sluice's own objects live.",
    "",
    "## Against the targets",
    "",
    ...verdicts(run),
    "",
    "## Over time",
    "",
    ...drawn.flatMap((d) => [d, ""]),
    ...(await baselineSection(run, chartDir)),
    "## Every window",
    "",
    ...windowTable(run),
    "",
  ].join("\n");
  writeFileSync(outFile, text);
}
