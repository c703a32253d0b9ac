// bench/SOAK.md: the soak's windows as a table, its verdicts against issue #12's targets, and charts drawn by Vega-Lite as SVG.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
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
  runnerRssMiB: number;
  d1MiB: number;
  largestDoMiB: number;
  coordinatorsMiB: number;
  poolsMiB: number;
  r2Objects: number;
}

export interface SoakRun {
  machine: MachineInfo;
  options: { minutes: number; queueRate: number; shellRate: number; webhookRate: number; slots: number; windowSeconds: number; drainSeconds: number };
  loads: Load[];
  samples: Sample[];
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
    { name: "memory", title: "Resident memory", spec: lineChart("Resident memory", "MiB", series([["workerd (both processes)", (s) => s.workerdRssMiB], ["runner", (s) => s.runnerRssMiB]])) },
    {
      name: "storage",
      title: "Storage",
      spec: lineChart("Storage", "MiB", series([["D1", (s) => s.d1MiB], ["largest Durable Object", (s) => s.largestDoMiB], ["all coordinators", (s) => s.coordinatorsMiB], ["all pools", (s) => s.poolsMiB]])),
    },
  ];
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
  ];
  for (const l of lastLoad.loads) lines.push(`| ${l.kind}: lag / backlog when the load stopped | ${l.lag} not started / ${l.unfinished} not finished | bounded (no growing backlog) |`);
  for (const l of end.loads) lines.push(`| ${l.kind}: accepted / started / completed / failed at the end | ${l.accepted} / ${l.started} / ${l.completed} / ${l.failed} | all accepted complete, none failed |`);
  lines.push(`| D1 size, largest Durable Object at the end | ${end.d1MiB} MiB, ${end.largestDoMiB} MiB | flat once retention applies (needs a short live window: not yet) |`);
  return lines;
}

function windowTable(run: SoakRun): string[] {
  const kinds = run.loads.map((l) => l.kind);
  const head = ["min", "phase", ...kinds.flatMap((k) => [`${k} /s`, `${k} lag`, `${k} backlog`]), "workerd MiB", "runner MiB", "D1 MiB", "largest DO MiB", "R2 objects"];
  const rows = run.samples.map((s) => [
    (s.seconds / 60).toFixed(1),
    s.phase,
    ...s.loads.flatMap((l) => [l.completedPerSecond.toFixed(1), String(l.lag), String(l.unfinished)]),
    String(s.workerdRssMiB),
    String(s.runnerRssMiB),
    String(s.d1MiB),
    String(s.largestDoMiB),
    String(s.r2Objects),
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
    `Load: ${o.minutes} min of ${o.queueRate} queue messages/s (one send request every 100 ms), ${o.shellRate} API runs/s of a two-node shell workflow, ${o.webhookRate} signed webhook deliveries/s; ${o.slots} runner slots; a sample every ${o.windowSeconds} s; then up to ${o.drainSeconds} s for the backlog.`,
    "",
    `Machine: ${m.nproc} cores, ${m.memoryGiB} GiB, ${m.cpuModel}, kernel ${m.kernel}, Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}, code ${m.commit}, load average at start ${m.loadAtStart}.`,
    "",
    "How it is measured: counts are D1's (what the API lists) by workflow and status; lag is events the Worker accepted (2xx) minus instances that started; backlog, accepted minus instances that finished. Sizes are each SQLite database's pages in use (`PRAGMA page_count × page_size`, the write-ahead log included, as `databaseSize` reports) read from wrangler's state directory. Memory is VmRSS from /proc.",
    "",
    "## Against the targets",
    "",
    ...verdicts(run),
    "",
    "## Over time",
    "",
    ...drawn.flatMap((d) => [d, ""]),
    "## Every window",
    "",
    ...windowTable(run),
    "",
  ].join("\n");
  writeFileSync(outFile, text);
}
