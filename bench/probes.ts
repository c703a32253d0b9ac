// Probes that explain the results: request overhead, D1 and claim round trips, spawn cost, CPU per request, a V8 profile.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Attempt } from "../runner/src/attempt.ts";
import { Api, inParallel } from "./api.ts";
import { percentile } from "./report.ts";
import { cpuSeconds, type StackSampler } from "./stack-metrics.ts";

export interface Latency {
  p50: number;
  p99: number;
}

function latency(samples: number[]): Latency {
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

/** Times `count` sequential calls after a short warm-up. */
async function timed(count: number, call: () => Promise<unknown>): Promise<Latency> {
  for (let i = 0; i < 10; i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await call();
    samples.push(performance.now() - start);
  }
  return latency(samples);
}

export interface RoundTrips {
  /** GET /api/v1/health: wrangler dev's proxy + the Worker, no auth, no storage. */
  health: Latency;
  /** Requests per second of GET /health with 16 in flight: the request ceiling of wrangler dev here. */
  healthPerSecond: number;
  /** GET of a missing instance with the admin key: one D1 read (no D1 auth lookup for the bootstrap key). */
  d1Read: Latency;
  /** A request with an unknown key: the uncached API-key check (SHA-256 digests + a D1 query), then 401. */
  apiKeyAuth: Latency;
  /** POST /runner/claim with waitMs 0 when nothing is ready: API-key auth + a ResourcePool RPC with a write. */
  emptyClaim: Latency;
}

export async function roundTrips(api: Api, runnerToken: string, count = 100): Promise<RoundTrips> {
  const health = await timed(count, () => fetch(`${api.url}/api/v1/health`).then((r) => r.text()));
  let done = 0;
  const started = performance.now();
  await inParallel(300, 16, async () => {
    await fetch(`${api.url}/api/v1/health`).then((r) => r.text());
    done++;
  });
  const healthPerSecond = done / ((performance.now() - started) / 1000);
  const d1Read = await timed(count, () => api.call("GET", "/api/v1/instances/ins_doesnotexist"));
  // A fresh unknown key each time: verified keys are cached per isolate, unknown ones never are.
  let unknown = 0;
  const apiKeyAuth = await timed(count, () => api.call("GET", "/api/v1/instances?limit=1", undefined, `sk_bench_unknown_${unknown++}`));
  // The pool issues runner ids: the probe registers once, as a runner does at start.
  const { runnerId } = (await api.call<{ runnerId: string }>("POST", "/api/v1/runner/register", { name: "bench-probe", slots: 1 }, runnerToken)).json;
  const emptyClaim = await timed(count, () => api.call("POST", "/api/v1/runner/claim", { runnerId, name: "bench-probe", slots: 1, waitMs: 0 }, runnerToken));
  return { health, healthPerSecond, d1Read, apiKeyAuth, emptyClaim };
}

export interface RunnerCosts {
  /** spawn("bash", ["-c", "true"]) with piped output, until the pipes close, in Node. */
  spawn: Latency;
  /** The runner's whole Attempt (work dir, script file, spawn, pipes, output file, clean-up) with a client that answers at once. */
  attempt: Latency;
}

export async function runnerCosts(count = 100): Promise<RunnerCosts> {
  const spawnOnce = () =>
    new Promise<void>((resolve, reject) => {
      const child = spawn("bash", ["-c", "true"], { stdio: ["ignore", "pipe", "pipe"], detached: true });
      child.on("error", reject);
      child.on("close", () => resolve());
    });
  const spawnLatency = await timed(count, spawnOnce);
  const workRoot = mkdtempSync(join(tmpdir(), "sluice-bench-attempts-"));
  mkdirSync(workRoot, { recursive: true });
  const instantClient = { appendLog: async () => {}, complete: async () => {} };
  const settings = {
    client: instantClient as never,
    workRoot,
    interpreters: { bash: "bash", python: "python3" },
    runnerEnv: process.env,
    killGraceMs: 5_000,
    keepWorkDirs: false,
    warn: () => {},
    onUnauthorized: () => {},
  };
  let n = 0;
  const attempt = await timed(count, async () => {
    const task = { attemptId: `probe_${n++}`, instanceId: "ins_probe", workflowId: "wf_probe", nodeName: "a", attempt: 1, type: "shell" as const, script: "true\n", prelude: "", env: {}, timeoutSeconds: 60, leaseSeconds: 30, leaseId: `lease_probe_${n}` };
    await new Attempt(task, settings).finished;
  });
  rmSync(workRoot, { recursive: true, force: true });
  return { spawn: spawnLatency, attempt };
}

export interface CpuPerRequest {
  requests: number;
  /** CPU ms per request in the workerd running the Worker, its Durable Objects and local D1 (one thread). */
  workerWorkerd: number;
  /** CPU ms per request in wrangler's proxy workerd (the one listening on the stack's port). */
  proxyWorkerd: number;
  /** CPU ms per request in wrangler's Node processes (request logging, dev server). */
  wrangler: number;
  perSecond: number;
}

/** CPU each process spends per request, from /proc, for `requests` requests with 16 in flight. */
export async function cpuPerRequest(sampler: StackSampler, wranglerPids: number[], requests: number, call: () => Promise<unknown>): Promise<CpuPerRequest> {
  const { proxy, worker } = sampler.workerdPids();
  const read = () => ({
    worker: worker ? cpuSeconds(worker) : 0,
    proxy: proxy ? cpuSeconds(proxy) : 0,
    wrangler: wranglerPids.reduce((a, pid) => a + cpuSeconds(pid), 0),
  });
  const before = read();
  const started = performance.now();
  await inParallel(requests, 16, async () => void (await call()));
  const seconds = (performance.now() - started) / 1000;
  const after = read();
  const per = (a: number, b: number) => ((b - a) * 1000) / requests;
  return {
    requests,
    workerWorkerd: per(before.worker, after.worker),
    proxyWorkerd: per(before.proxy, after.proxy),
    wrangler: per(before.wrangler, after.wrangler),
    perSecond: requests / seconds,
  };
}

export interface ProfileEntry {
  name: string;
  /** Share of the isolate's busy time spent in this function and what it called. */
  share: number;
  msPerUnit: number;
}

interface InspectorSocket {
  send(data: string): void;
  close(): void;
  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void;
}

/** Generic frames that say nothing about Sluice's own costs. */
const GENERIC = /^(\(root\)|\(program\)|\(anon\)|\(idle\)|\(garbage collector\)|fetch|next|dispatch|#dispatch|__facade_.*|withSpan|enterSpan|__name)$/;

/**
 * A V8 CPU profile of the Worker's isolate (through wrangler's inspector proxy) while `work` runs:
 * the functions with the largest inclusive and self time, per unit of work. Null when the inspector refuses us.
 */
export interface WorkerProfile {
  busyMsPerUnit: number;
  /** By inclusive time (the function and what it called synchronously). */
  top: ProfileEntry[];
  /** By self time (native calls such as SQLite `exec` or `digest` show up here). */
  topSelf: ProfileEntry[];
}

export async function profileWorker(inspectorPort: number, units: number, work: () => Promise<unknown>): Promise<WorkerProfile | null> {
  // Node's WebSocket (undici) accepts headers; wrangler's inspector proxy insists on a DevTools Origin.
  const WS = (globalThis as { WebSocket: unknown }).WebSocket as new (url: string, init: { headers: Record<string, string> }) => InspectorSocket;
  const ws = new WS(`ws://127.0.0.1:${inspectorPort}/ws`, { headers: { Origin: "https://devtools.devprod.cloudflare.dev" } });
  try {
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener("error", reject);
      setTimeout(() => reject(new Error("inspector: no connection")), 5_000);
    });
  } catch {
    ws.close();
    return null;
  }
  const pending = new Map<number, (result: any) => void>();
  let id = 0;
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: unknown };
    if (message.id !== undefined && pending.has(message.id)) {
      pending.get(message.id)!(message.result ?? message.error);
      pending.delete(message.id);
    }
  });
  const send = (method: string, params: object = {}) =>
    Promise.race([
      new Promise<any>((resolve) => {
        pending.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
      new Promise<any>((resolve) => setTimeout(() => resolve(null), 10_000)),
    ]);
  try {
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: 500 });
    await send("Profiler.start");
    await work();
    const stopped = await send("Profiler.stop");
    const profile = stopped?.profile as { nodes: { id: number; callFrame: { functionName: string }; children?: number[] }[]; samples: number[]; timeDeltas: number[] } | undefined;
    if (!profile) return null;
    const self = new Map<number, number>();
    profile.samples.forEach((node, i) => self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const inclusive = new Map<string, number>();
    const selfByName = new Map<string, number>();
    let busy = 0;
    for (const node of profile.nodes) {
      const t = self.get(node.id) ?? 0;
      if (t === 0 || node.callFrame.functionName === "(idle)") continue;
      busy += t;
      const own = node.callFrame.functionName || "(anon)";
      selfByName.set(own, (selfByName.get(own) ?? 0) + t);
      const seen = new Set<string>();
      for (let cur: typeof node | undefined = node; cur; cur = byId.get(parent.get(cur.id) ?? -1)) {
        const name = cur.callFrame.functionName || "(anon)";
        if (seen.has(name) || GENERIC.test(name)) continue;
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + t);
      }
    }
    const rank = (m: Map<string, number>, n: number) =>
      [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, t]) => ({ name, share: t / busy, msPerUnit: t / units }));
    return { busyMsPerUnit: busy / units, top: rank(inclusive, 16), topSelf: rank(selfByName, 10) };
  } finally {
    ws.close();
  }
}
