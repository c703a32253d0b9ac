// Sluice beside Cloudflare Workflows run in the same sitting: absolute figures and their ratios for bench/RESULTS.md.
import { median, type Results } from "./report.ts";

interface Pair {
  workload: string;
  metric: string;
  sluice: number[];
  peer: number[];
  unit: string;
  digits: number;
  lowerIsBetter: boolean;
  /** What "ahead" means for this metric: faster, more, less CPU. */
  better: string;
  note?: string;
}

const fmt = (v: number, digits: number) => (Number.isNaN(v) ? "–" : v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }));

function figure(values: number[], unit: string, digits: number): string {
  if (values.length === 0) return "not run";
  return `**${fmt(median(values), digits)} ${unit}** (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}, n=${values.length})`;
}

/** Sluice ÷ Workflows of the medians, and who is ahead by how much (within 5 %: even). */
export function ratio(sluice: number[], peer: number[], lowerIsBetter: boolean, better = lowerIsBetter ? "faster" : "more"): { value: string; ahead: string } {
  if (sluice.length === 0 || peer.length === 0) return { value: "–", ahead: "" };
  const r = median(sluice) / median(peer);
  if (!Number.isFinite(r) || r <= 0) return { value: "–", ahead: "" };
  const sluiceAhead = lowerIsBetter ? r < 1 : r > 1;
  const by = r >= 1 ? r : 1 / r;
  return { value: r.toFixed(2), ahead: by < 1.05 ? "even" : `${sluiceAhead ? "Sluice" : "Workflows"} ${by.toFixed(1)}× ${better}` };
}

function pairs(r: Results): Pair[] {
  const p = r.peer;
  const n = r.options.throughputRuns.toLocaleString("en-US");
  return [
    { workload: "400-node `noop` chain · 400 noop `step.do` in one instance", metric: "run request → instance finished", sluice: r.noopChain.map((s) => s.totalMs), peer: p.chain, unit: "ms", digits: 0, lowerIsBetter: true, better: "faster" },
    { workload: `run → first node start, one \`noop\` node · create → first step started (${r.options.latencyRuns} in a row)`, metric: "p50", sluice: r.latencyNoop.map((s) => s.p50), peer: p.latency.map((s) => s.p50), unit: "ms", digits: 1, lowerIsBetter: true, better: "faster" },
    { workload: "", metric: "p99", sluice: r.latencyNoop.map((s) => s.p99), peer: p.latency.map((s) => s.p99), unit: "ms", digits: 1, lowerIsBetter: true, better: "faster" },
    { workload: `${n} runs of a one-\`noop\` workflow · one-step instances, one per request, 32 in flight`, metric: "completed/s", sluice: r.throughput.map((s) => s.completedPerSecond), peer: p.throughput.map((s) => s.completedPerSecond), unit: "/s", digits: 0, lowerIsBetter: false, better: "more" },
    { workload: "", metric: "created/s (requests answered)", sluice: r.throughput.map((s) => s.createdPerSecond), peer: p.throughput.map((s) => s.createdPerSecond), unit: "/s", digits: 0, lowerIsBetter: false, better: "more" },
    { workload: "", metric: "CPU of both workerd per run (send → completed)", sluice: r.throughput.map((s) => s.cpuMsPerRun), peer: p.throughput.map((s) => s.cpuMsPerRun), unit: "ms", digits: 1, lowerIsBetter: true, better: "less CPU" },
    { workload: `${n} runs as batch requests of 100 (all in flight) · \`createBatch\` of 100`, metric: "completed/s", sluice: r.batch.map((s) => s.completedPerSecond), peer: p.batch.map((s) => s.completedPerSecond), unit: "/s", digits: 0, lowerIsBetter: false, better: "more", note: r.batchUnavailable ?? undefined },
    { workload: "", metric: "created/s (requests answered)", sluice: r.batch.map((s) => s.createdPerSecond), peer: p.batch.map((s) => s.createdPerSecond), unit: "/s", digits: 0, lowerIsBetter: false, better: "more", note: r.batchUnavailable ? "not available" : undefined },
  ];
}

/** The peer's figure for a row of the results table, with the same-sitting ratio (empty when the peer did not run). */
export function peerCell(r: Results, metric: "chain" | "chainPerStep" | "p50" | "p99" | "throughput" | "batch" | "cpu"): string {
  const p = r.peer;
  const CF = "CF Workflows, same sitting:";
  const lat = (k: "p50" | "p99") => p.latency.map((s) => s[k]);
  switch (metric) {
    case "chain":
      return p.chain.length ? `${CF} ${fmt(median(p.chain) / 1000, 3)} s for 400 noop steps (Sluice ÷ Workflows ${ratio(r.noopChain.map((s) => s.totalMs), p.chain, true).value})` : "";
    case "chainPerStep":
      return p.chain.length ? `${CF} ${fmt(median(p.chain) / 400, 1)} ms per noop step (400 steps, no processes)` : "";
    case "p50":
    case "p99":
      return p.latency.length ? `${CF} create → first step ${metric} ${fmt(median(lat(metric)), 1)} ms` : "";
    case "throughput":
      return p.throughput.length ? `${CF} ${fmt(median(p.throughput.map((s) => s.completedPerSecond)), 0)}/s (Sluice ÷ Workflows ${ratio(r.throughput.map((s) => s.completedPerSecond), p.throughput.map((s) => s.completedPerSecond), false).value})` : "";
    case "batch":
      return p.batch.length ? `${CF} \`createBatch\` ${fmt(median(p.batch.map((s) => s.completedPerSecond)), 0)}/s` : "";
    case "cpu":
      return p.throughput.length ? `${CF} ${fmt(median(p.throughput.map((s) => s.cpuMsPerRun)), 1)} ms` : "";
  }
}

export function sideBySide(r: Results): string {
  const out = [
    `Cloudflare Workflows (${r.peer.version}) ran the same workloads in this sitting: a Workflow class of the bench's own (\`bench/peers/workflows/\`) under its own \`wrangler dev\` on 127.0.0.1, with fresh local state, while no Sluice stack was up. Machine noise is ±20 % between sittings, so compare the ratios, not absolute figures from different sittings. A ratio below 1 means Sluice's figure is smaller (better for times and CPU, worse for rates).`,
    "",
    "| Workload (Sluice · Workflows) | Metric | Sluice | Cloudflare Workflows | Sluice ÷ Workflows | Ahead |",
    "|---|---|---|---|---|---|",
  ];
  for (const pair of pairs(r)) {
    const { value, ahead } = ratio(pair.sluice, pair.peer, pair.lowerIsBetter, pair.better);
    const sluice = pair.sluice.length === 0 && pair.note ? pair.note : figure(pair.sluice, pair.unit, pair.digits);
    out.push(`| ${pair.workload} | ${pair.metric} | ${sluice} | ${figure(pair.peer, pair.unit, pair.digits)} | ${value} | ${ahead} |`);
  }
  out.push(
    "",
    "How each side is timed: Sluice's times are the client's send time to the server's `startedAt`/`finishedAt`; the peer's step returns `Date.now()` when it starts and `run` returns it when it ends (the Worker's clock, same machine). Completed/s is runs ÷ (first send → last finish); the client reads statuses only after every run was sent (Sluice: the instance listing every 200 ms; the peer: `status()` of 100 instances per request). CPU is both workerd processes of each stack (the one running the Worker, Durable Objects, D1 or the Workflows engine, and wrangler's proxy), from /proc, over the whole workload.",
  );
  return out.join("\n");
}
