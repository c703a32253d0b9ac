// The machine and the stack's processes: machine facts, and RSS/CPU of wrangler dev and the runner sampled from /proc.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";

export interface MachineInfo {
  date: string;
  nproc: number;
  memoryGiB: number;
  cpuModel: string;
  kernel: string;
  node: string;
  wrangler: string;
  workerd: string;
  commit: string;
  loadAtStart: string;
}

function packageVersion(root: string, path: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, "node_modules", path, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

export function machineInfo(root: string): MachineInfo {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  const mhz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(cpuinfo)?.[1];
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "worker", "runner", "scripts"], { cwd: root, encoding: "utf8" }).trim();
    if (dirty) commit += " + uncommitted changes in worker/runner/scripts";
  } catch {}
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    cpuModel: mhz ? `${model} @ ${Math.round(Number(mhz))} MHz` : model,
    kernel: release(),
    node: process.version,
    wrangler: packageVersion(root, "wrangler"),
    workerd: packageVersion(root, "wrangler/node_modules/@cloudflare/workerd-linux-64"),
    commit,
    loadAtStart: loadavg().map((l) => l.toFixed(2)).join(" "),
  };
}

interface ProcStat {
  pid: number;
  pgrp: number;
  comm: string;
  /** utime + stime (+ reaped children's, for the runner whose bash children live in their own groups). */
  ticks: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function readStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // f[0] = state (field 3), so field n is f[n - 3].
    return { pid, pgrp: Number(f[2]), comm, ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

export function rssKiB(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function machineTicks(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - (f[4] ?? 0), total };
}

/** Live members of the given process groups. */
export function groupMembers(pgids: Set<number>): ProcStat[] {
  const found: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (entry.charCodeAt(0) > 57) continue;
    const stat = readStat(Number(entry));
    if (stat && pgids.has(stat.pgrp)) found.push(stat);
  }
  return found;
}

export interface PhaseMetrics {
  seconds: number;
  /** Peak of the summed VmRSS of wrangler dev's process group (wrangler, esbuild, both workerd). */
  wranglerPeakMiB: number;
  /** Peak VmRSS of the largest workerd (the one running the Worker, its Durable Objects and local D1). */
  workerdPeakMiB: number;
  runnerPeakMiB: number;
  /** CPU seconds per second (1.0 = one core busy) over the phase. */
  cpu: { wrangler: number; workerWorkerd: number; proxyWorkerd: number; runner: number; bench: number; otherProcesses: number; machine: number };
  /** Share of the Worker's workerd CPU done by its busiest thread (1.0 = everything on one thread). */
  workerdBusiestThreadShare: number;
  /** wrangler dev rebuilt/restarted the Worker during the phase (someone edited worker sources). */
  reloaded: boolean;
}

/** utime + stime per thread of a process (from /proc/<pid>/task/<tid>/stat, which is per thread). */
function threadTicks(pid: number): Map<number, number> {
  const ticks = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        ticks.set(Number(tid), Number(f[11]) + Number(f[12]));
      } catch {}
    }
  } catch {}
  return ticks;
}

/**
 * Samples the stack every `intervalMs`: summed RSS of wrangler dev's process group, the runner's RSS,
 * and CPU ticks per process, so a phase can report its peaks and how busy the rest of the machine was.
 */
export class StackSampler {
  private readonly wranglerPgid: number;
  private readonly runnerPids: number[];
  private readonly proxyPort: number;
  private readonly intervalMs: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private phase: {
    startedAt: number;
    machine: { busy: number; total: number };
    bench: NodeJS.CpuUsage;
    ticks: Map<number, { first: number; last: number; role: string }>;
    workerdPids: string;
    workerdThreads: Map<number, number>;
    reloaded: boolean;
    wranglerPeak: number;
    workerdPeak: number;
    runnerPeak: number;
  } | null = null;

  constructor(wranglerPgid: number, runnerPids: number[], proxyPort: number, intervalMs = 200) {
    this.intervalMs = intervalMs;
    this.wranglerPgid = wranglerPgid;
    this.runnerPids = runnerPids;
    this.proxyPort = proxyPort;
  }

  start(): void {
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Pids of the workerd processes: the proxy listens on the stack's port, the other runs the Worker. */
  workerdPids(): { proxy: number | null; worker: number | null } {
    let proxy: number | null = null;
    let worker: number | null = null;
    for (const m of groupMembers(new Set([this.wranglerPgid]))) {
      if (m.comm !== "workerd") continue;
      let args = "";
      try {
        args = readFileSync(`/proc/${m.pid}/cmdline`, "utf8");
      } catch {}
      if (args.includes(`entry=127.0.0.1:${this.proxyPort}`)) proxy = m.pid;
      else worker = m.pid;
    }
    return { proxy, worker };
  }

  beginPhase(): void {
    const w = this.workerdPids();
    this.phase = {
      startedAt: performance.now(),
      machine: machineTicks(),
      bench: process.cpuUsage(),
      ticks: new Map(),
      workerdPids: `${w.proxy},${w.worker}`,
      workerdThreads: w.worker ? threadTicks(w.worker) : new Map(),
      reloaded: false,
      wranglerPeak: 0,
      workerdPeak: 0,
      runnerPeak: 0,
    };
    this.sample();
  }

  endPhase(): PhaseMetrics {
    this.sample();
    const p = this.phase!;
    this.phase = null;
    const seconds = (performance.now() - p.startedAt) / 1000;
    const machine = machineTicks();
    const perSecond = (ticks: number) => ticks / TICKS_PER_SECOND / seconds;
    const byRole = (role: string) => perSecond([...p.ticks.values()].filter((t) => t.role === role).reduce((a, t) => a + t.last - t.first, 0));
    const benchCpu = process.cpuUsage(p.bench);
    const bench = (benchCpu.user + benchCpu.system) / 1e6 / seconds;
    const machineCpu = perSecond(machine.busy - p.machine.busy);
    const cpu = {
      wrangler: byRole("wrangler"),
      workerWorkerd: byRole("worker-workerd"),
      proxyWorkerd: byRole("proxy-workerd"),
      runner: byRole("runner"),
      bench,
      otherProcesses: 0,
      machine: machineCpu,
    };
    cpu.otherProcesses = Math.max(0, machineCpu - cpu.wrangler - cpu.workerWorkerd - cpu.proxyWorkerd - cpu.runner - bench);
    const mib = (kib: number) => Math.round(kib / 102.4) / 10;
    const worker = this.workerdPids().worker;
    const threads = worker ? threadTicks(worker) : new Map<number, number>();
    const deltas = [...threads].map(([tid, t]) => t - (p.workerdThreads.get(tid) ?? t));
    const threadTotal = deltas.reduce((a, b) => a + b, 0);
    return {
      seconds,
      wranglerPeakMiB: mib(p.wranglerPeak),
      workerdPeakMiB: mib(p.workerdPeak),
      runnerPeakMiB: mib(p.runnerPeak),
      cpu,
      workerdBusiestThreadShare: threadTotal > 0 ? Math.max(...deltas) / threadTotal : Number.NaN,
      reloaded: p.reloaded,
    };
  }

  private sample(): void {
    const p = this.phase;
    if (!p) return;
    const w = this.workerdPids();
    if (`${w.proxy},${w.worker}` !== p.workerdPids) p.reloaded = true;
    let wranglerRss = 0;
    for (const m of groupMembers(new Set([this.wranglerPgid]))) {
      const rss = rssKiB(m.pid);
      wranglerRss += rss;
      if (m.comm === "workerd" && m.pid === w.worker) p.workerdPeak = Math.max(p.workerdPeak, rss);
      const role = m.pid === w.worker ? "worker-workerd" : m.pid === w.proxy ? "proxy-workerd" : "wrangler";
      this.track(p.ticks, m, role);
    }
    p.wranglerPeak = Math.max(p.wranglerPeak, wranglerRss);
    let runnerRss = 0;
    for (const pid of this.runnerPids) {
      runnerRss += rssKiB(pid);
      const stat = readStat(pid);
      if (stat) this.track(p.ticks, stat, "runner");
    }
    p.runnerPeak = Math.max(p.runnerPeak, runnerRss);
  }

  private track(ticks: Map<number, { first: number; last: number; role: string }>, stat: ProcStat, role: string): void {
    const seen = ticks.get(stat.pid);
    if (seen) seen.last = stat.ticks;
    else ticks.set(stat.pid, { first: stat.ticks, last: stat.ticks, role });
  }
}

/** wrangler's own Node processes in its process group (not workerd or esbuild). */
export function wranglerNodePids(pgid: number): number[] {
  return groupMembers(new Set([pgid])).filter((m) => m.comm !== "workerd" && m.comm !== "esbuild").map((m) => m.pid);
}

/** CPU seconds a process has used so far (utime + stime), for per-request costs. */
export function cpuSeconds(pid: number): number {
  const stat = readStat(pid);
  return stat ? stat.ticks / TICKS_PER_SECOND : 0;
}
