// The benchmark workloads of issue 3: shell chain, noop DAGs, run → first node latency, the maxParallel spike.
import type { ChildProcess } from "node:child_process";
import { Api, inParallel, ms, sleep, type Instance } from "./api.ts";

/** Timestamps the runner's `[runner] <node> attempt <n> started|succeeded` lines as they arrive. */
export class RunnerLines {
  readonly lines: { at: number; text: string }[] = [];
  private waiters: { match: (text: string) => boolean; resolve: () => void }[] = [];

  constructor(runners: ChildProcess[]) {
    for (const runner of runners) {
      let partial = "";
      runner.stdout?.on("data", (chunk: Buffer) => {
        const at = Date.now();
        const parts = (partial + chunk.toString()).split("\n");
        partial = parts.pop() ?? "";
        for (const text of parts) this.add(at, text);
      });
    }
  }

  /** Resolves when a line matching `match` arrives, or after `timeoutMs` (the caller then polls the API). */
  waitFor(match: (text: string) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push({ match, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Drops what was recorded so far (between repetitions, so memory stays flat). */
  clear(): void {
    this.lines.length = 0;
  }

  private add(at: number, text: string): void {
    if (!text.startsWith("[runner] ")) return;
    this.lines.push({ at, text });
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(text)) return true;
      w.resolve();
      return false;
    });
  }
}

const unique = (name: string) => `${name}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export function chainDefinition(name: string, count: number, type: "shell" | "noop") {
  const nodes = Array.from({ length: count }, (_, i) => ({ name: `n${i}`, type, code: type === "shell" ? "true" : "" }));
  const edges = nodes.slice(1).map((node, i) => ({ from: `n${i}`, to: node.name }));
  return { name: unique(name), nodes, edges };
}

/** start → `width` parallel noop nodes → end. */
export function fanDefinition(name: string, width: number) {
  const middle = Array.from({ length: width }, (_, i) => ({ name: `m${i}`, type: "noop" }));
  return {
    name: unique(name),
    nodes: [{ name: "start", type: "noop" }, ...middle, { name: "end", type: "noop" }],
    edges: [...middle.map((m) => ({ from: "start", to: m.name })), ...middle.map((m) => ({ from: m.name, to: "end" }))],
  };
}

export function singleNodeDefinition(name: string, type: "shell" | "noop", maxParallel: number | null = null) {
  return { name: unique(name), policy: { maxParallel }, nodes: [{ name: "a", type, code: type === "shell" ? "true" : "" }] };
}

export interface ChainSample {
  msPerNode: number;
  totalMs: number;
  /** Mean per node (nodes 2..n) of where the time between two node completions goes. */
  phases: { dispatch: number; claimDelivery: number; runnerAndReport: number; ack: number };
}

/**
 * One run of a shell chain: ms per node from the instance's createdAt → finishedAt, and a per-node split
 * from server timestamps (startedAt is the pool's lease, finishedAt the coordinator's) and runner output.
 */
export async function shellChainRun(api: Api, runner: RunnerLines, workflowId: string, count: number): Promise<ChainSample> {
  runner.clear();
  const last = `[runner] n${count - 1} attempt 1 `;
  const lineSeen = runner.waitFor((t) => t.startsWith(last) && !t.endsWith(" started"), 120_000);
  const { id } = await api.run(workflowId);
  await lineSeen;
  const instance = await api.finished(id, 120_000);
  if (instance.status !== "succeeded") throw new Error(`shell chain ${id} ended ${instance.status}`);
  const totalMs = ms(instance.finishedAt) - ms(instance.createdAt);
  const at = (node: string, what: string) => runner.lines.find((l) => l.text === `[runner] ${node} attempt 1 ${what}`)?.at ?? Number.NaN;
  const byName = new Map(instance.nodes.map((n) => [n.name, n]));
  const sums = { dispatch: 0, claimDelivery: 0, runnerAndReport: 0, ack: 0 };
  let counted = 0;
  for (let i = 1; i < count; i++) {
    const prev = byName.get(`n${i - 1}`)!;
    const node = byName.get(`n${i}`)!;
    const parts = {
      dispatch: ms(node.startedAt) - ms(prev.finishedAt),
      claimDelivery: at(node.name, "started") - ms(node.startedAt),
      runnerAndReport: ms(node.finishedAt) - at(node.name, "started"),
      ack: at(node.name, "succeeded") - ms(node.finishedAt),
    };
    if (Object.values(parts).some((v) => Number.isNaN(v))) continue;
    for (const k of Object.keys(sums) as (keyof typeof sums)[]) sums[k] += parts[k];
    counted++;
  }
  const phases = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, counted ? v / counted : Number.NaN])) as ChainSample["phases"];
  return { msPerNode: totalMs / count, totalMs, phases };
}

export interface DagSample {
  /** Run request sent → the instance's finishedAt. */
  totalMs: number;
  /** Run request sent → its answer (the coordinator answers after mirroring to D1). */
  answeredMs: number;
}

/** One run of a noop DAG: from the client's send time to the instance's finishedAt. */
export async function noopDagRun(api: Api, workflowId: string): Promise<DagSample> {
  const { id, sentAt, answeredAt } = await api.run(workflowId);
  const instance = await api.finished(id, 120_000, 50);
  if (instance.status !== "succeeded") throw new Error(`noop DAG ${id} ended ${instance.status}`);
  return { totalMs: ms(instance.finishedAt) - sentAt, answeredMs: answeredAt - sentAt };
}

/**
 * `count` runs one after another of a one-node workflow: the node's startedAt minus the client's send
 * time (same machine, same clock). Each run finishes before the next is sent.
 */
export async function firstNodeLatencies(api: Api, runner: RunnerLines, workflowId: string, type: "shell" | "noop", count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    runner.clear();
    const done = type === "shell" ? runner.waitFor((t) => t.startsWith("[runner] a attempt 1 ") && !t.endsWith(" started"), 10_000) : null;
    const { id, sentAt } = await api.run(workflowId);
    if (done) await done;
    const instance: Instance = await api.finished(id, 30_000, 20);
    const started = ms(instance.nodes[0]?.startedAt ?? null);
    if (instance.status !== "succeeded" || Number.isNaN(started)) throw new Error(`run ${id} ended ${instance.status} without a start time`);
    samples.push(started - sentAt);
  }
  return samples;
}

export interface SpikeSample {
  instances: number;
  completedPerSecond: number;
  /** First run request sent → last instance finished (its finishedAt). */
  seconds: number;
  peakRunning: number;
  runningSamples: number;
  succeeded: number;
  notSucceeded: number;
  requestErrors: number;
  requestP50: number;
  requestP99: number;
}

/**
 * `count` runs of a one-node workflow with maxParallel sent at once (`concurrency` in flight), while
 * GET /instances?status=running is sampled every 200 ms; afterwards every instance must have succeeded.
 */
export async function spikeRun(api: Api, workflowId: string, count: number, concurrency: number, timeoutMs: number): Promise<SpikeSample> {
  let peakRunning = 0;
  let runningSamples = 0;
  let sending = true;
  const sampler = (async () => {
    while (sending) {
      const page = await api.instancesPage(workflowId, "running", null, 200).catch(() => null);
      if (page) {
        runningSamples++;
        peakRunning = Math.max(peakRunning, page.items.length + (page.nextCursor ? 1 : 0));
      }
      await sleep(200);
    }
  })();
  const latencies: number[] = [];
  let requestErrors = 0;
  const firstSentAt = Date.now();
  try {
    await inParallel(count, concurrency, async () => {
      const sentAt = performance.now();
      try {
        await api.run(workflowId);
      } catch {
        requestErrors++;
      }
      latencies.push(performance.now() - sentAt);
    });
    // Wait for the tail: nothing running or waiting any more (bounded).
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [running, waiting] = await Promise.all([api.instancesPage(workflowId, "running", null, 1), api.instancesPage(workflowId, "waiting", null, 1)]);
      if (running.items.length === 0 && waiting.items.length === 0) break;
      if (Date.now() > deadline) throw new Error(`spike: instances still running or waiting after ${timeoutMs} ms`);
      await sleep(200);
    }
  } finally {
    sending = false;
    await sampler;
  }
  const succeeded = await api.allInstances(workflowId, "succeeded");
  let notSucceeded = 0;
  for (const status of ["failed", "terminated", "running", "waiting"]) notSucceeded += (await api.allInstances(workflowId, status)).length;
  const lastFinished = Math.max(...succeeded.map((i) => ms(i.finishedAt)));
  const seconds = (lastFinished - firstSentAt) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    instances: count,
    completedPerSecond: succeeded.length / seconds,
    seconds,
    peakRunning,
    runningSamples,
    succeeded: succeeded.length,
    notSucceeded,
    requestErrors,
    requestP50: latencies[Math.floor(latencies.length * 0.5)] ?? Number.NaN,
    requestP99: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? Number.NaN,
  };
}

