// Cloudflare Workflows as the bench's peer: its own `wrangler dev` on a free 127.0.0.1 port, and the same workloads as Sluice's.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, ROOT, stopProcess } from "../../scripts/stack.ts";
import { inParallel, sleep } from "../api.ts";
import { percentile } from "../report.ts";
import type { ThroughputSample } from "../throughput.ts";

const CONFIG = join(ROOT, "bench", "peers", "workflows", "wrangler.toml");

interface PeerStatus {
  id: string;
  status: string;
  error?: { message: string };
  output?: { startedAt: number; finishedAt: number };
}

export interface WorkflowsPeer {
  url: string;
  port: number;
  /** wrangler dev, leader of its own process group (so the sampler and stop() find all of it). */
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/** The versions that ran the peer: the wrangler, miniflare (its local Workflows engine) and workerd of this install. */
export function peerVersion(): string {
  const version = (path: string) => {
    try {
      return (JSON.parse(readFileSync(join(ROOT, "node_modules", path, "package.json"), "utf8")) as { version: string }).version;
    } catch {
      return "unknown";
    }
  };
  return `wrangler ${version("wrangler")}, miniflare ${version("wrangler/node_modules/miniflare")}, workerd ${version("wrangler/node_modules/@cloudflare/workerd-linux-64")}`;
}

export async function startWorkflowsPeer(): Promise<WorkflowsPeer> {
  const port = await freePort();
  const persistTo = mkdtempSync(join(tmpdir(), "sluice-bench-workflows-"));
  const output: string[] = [];
  const args = ["dev", "-c", CONFIG, "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort()), "--persist-to", persistTo, "--show-interactive-dev-session=false", "--log-level", "warn"];
  const child = spawn(join(ROOT, "node_modules", ".bin", "wrangler"), args, { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
  child.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProcess(child);
    rmSync(persistTo, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) break;
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) return { url, port, child, output, stop };
    if (Date.now() > deadline) break;
    await sleep(250);
  }
  await stop();
  throw new Error(`the Workflows peer did not start at ${url}:\n${output.join("").slice(-4000)}`);
}

async function call<T>(peer: WorkflowsPeer, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${peer.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) throw new Error(`Workflows peer ${path}: ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

async function statuses(peer: WorkflowsPeer, workflow: "chain" | "single", ids: string[]): Promise<PeerStatus[]> {
  return (await call<{ items: PeerStatus[] }>(peer, "/status", { workflow, ids })).items;
}

/** Polls one instance until it is complete (or errored/terminated: an error, as in Sluice's workloads). */
async function finished(peer: WorkflowsPeer, workflow: "chain" | "single", id: string, pollMs: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [s] = await statuses(peer, workflow, [id]);
    if (s?.status === "complete" && s.output) return s.output;
    if (s && (s.status === "errored" || s.status === "terminated")) throw new Error(`Workflows instance ${id} ${s.status}: ${s.error?.message ?? ""}`);
    if (Date.now() > deadline) throw new Error(`Workflows instance ${id} still ${s?.status} after ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

/** A chain of `steps` noop steps in one instance: create request sent → the end of `run` (Sluice 2a polls every 50 ms too). */
export async function peerChainRun(peer: WorkflowsPeer, steps: number): Promise<number> {
  const sentAt = Date.now();
  const { id } = await call<{ id: string }>(peer, "/chain", { steps });
  const output = await finished(peer, "chain", id, 50, 120_000);
  return output.finishedAt - sentAt;
}

/** `count` one-step instances in a row, each complete before the next: create request sent → its step started. */
export async function peerFirstStepLatencies(peer: WorkflowsPeer, count: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const sentAt = Date.now();
    const { id } = await call<{ id: string }>(peer, "/single", {});
    const output = await finished(peer, "single", id, 20, 30_000);
    samples.push(output.startedAt - sentAt);
  }
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

/**
 * `count` one-step instances: created one per request with `concurrency` in flight, or with createBatch in
 * requests of `batch` (all in flight at once); then their statuses are read until every one is complete.
 */
export async function peerThroughput(peer: WorkflowsPeer, count: number, how: { concurrency: number } | { batch: number }): Promise<ThroughputSample> {
  const ids: string[] = [];
  const firstSentAt = Date.now();
  if ("batch" in how) {
    const requests = Math.ceil(count / how.batch);
    await inParallel(requests, requests, async (i) => {
      const size = Math.min(how.batch, count - i * how.batch);
      ids.push(...(await call<{ ids: string[] }>(peer, "/single/batch", { count: size })).ids);
    });
  } else {
    await inParallel(count, how.concurrency, async () => void ids.push((await call<{ id: string }>(peer, "/single", {})).id));
  }
  const createdSeconds = (Date.now() - firstSentAt) / 1000;
  let pending = ids;
  let lastFinished = 0;
  let failed = 0;
  const deadline = Date.now() + 600_000;
  while (pending.length > 0 && Date.now() < deadline) {
    const still: string[] = [];
    for (let i = 0; i < pending.length; i += 100) {
      for (const s of await statuses(peer, "single", pending.slice(i, i + 100))) {
        if (s.status === "complete" && s.output) lastFinished = Math.max(lastFinished, s.output.finishedAt);
        else if (s.status === "errored" || s.status === "terminated") failed++;
        else still.push(s.id);
      }
    }
    pending = still;
    if (pending.length) await sleep(200);
  }
  const completed = ids.length - failed - pending.length;
  const seconds = (lastFinished - firstSentAt) / 1000;
  return { count, completed, notCompleted: count - completed, createdPerSecond: count / createdSeconds, completedPerSecond: completed / seconds, seconds, cpuMsPerRun: Number.NaN };
}

/** The peer's figures of one sitting, beside Sluice's in the report. */
export interface PeerResults {
  version: string;
  /** Create request sent → end of `run`, ms, for the noop-step chain. */
  chain: number[];
  /** Create request sent → the step started. */
  latency: { p50: number; p99: number }[];
  throughput: ThroughputSample[];
  batch: ThroughputSample[];
}
