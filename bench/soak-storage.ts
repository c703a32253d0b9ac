// What the soak reads off the local stack each window: instance counts and sizes from wrangler's state files, memory from /proc.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Api } from "./api.ts";
import type { Load, LoadSample, Sample } from "./soak-report.ts";
import { groupMembers, rssKiB } from "./stack-metrics.ts";

const MiB = 2 ** 20;
const round1 = (n: number) => Math.round(n * 10) / 10;
/** How long after its finish an instance is counted for good: its mirror row has reached D1 by then. */
const SETTLE_MS = 10_000;

/** The SQLite files of one kind of local state (D1 databases, a Durable Object class), without miniflare's metadata. */
function sqliteFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")
    .map((f) => join(dir, f));
}

/** Bytes in use, as the database itself counts them (the write-ahead log included): what `ctx.storage.sql.databaseSize` reports. */
function databaseBytes(db: DatabaseSync): number {
  const pages = db.prepare("PRAGMA page_count").get() as { page_count: number };
  const size = db.prepare("PRAGMA page_size").get() as { page_size: number };
  return pages.page_count * size.page_size;
}

function withDatabase<T>(file: string, read: (db: DatabaseSync) => T, fallback: T): T {
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    return read(db);
  } catch {
    return fallback; // being created or checkpointed this instant: the next window reads it
  } finally {
    db?.close();
  }
}

/**
 * Whether a workerd process is wrangler's proxy (it listens on the stack's port and runs no Sluice code) rather
 * than the one running the Worker, its Durable Objects and the local D1, R2 and Queues.
 */
function isProxy(pid: number, port: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(`--socket-addr=entry=127.0.0.1:${port}`);
  } catch {
    return false;
  }
}

/** What `GET /api/v1/stats` answers, as far as the soak reads it. */
export interface StorageStats {
  coordinators: { databaseSize: number; liveInstances: number }[];
  pools: { databaseSize: number }[];
}

/** Each Durable Object's own report of its size and live instances; null when the call failed (the sample falls back to files). */
export async function storageStats(api: Api): Promise<StorageStats | null> {
  try {
    const res = await api.call<StorageStats>("GET", "/api/v1/stats");
    return res.status === 200 ? res.json : null;
  } catch {
    return null;
  }
}

/**
 * Reads the stack's state while it runs. The instance counts come from D1 (the mirror), which is what the
 * API lists; sizes are the local D1 database and every Durable Object's SQLite database.
 */
export class StorageProbe {
  private readonly v3: string;
  private readonly wranglerPgid: number;
  private readonly runnerPids: number[];
  private last: { at: number; completed: Map<string, number> } | null = null;
  private d1: DatabaseSync | null = null;
  /** Per workflow: finished instances counted up to `cut` (ms), by status. */
  private readonly counted = new Map<string, { cut: number; byStatus: Record<string, number> }>();

  private readonly port: number;

  constructor(persistTo: string, wranglerPgid: number, runnerPids: number[], port: number) {
    this.port = port;
    this.v3 = join(persistTo, "v3");
    this.wranglerPgid = wranglerPgid;
    this.runnerPids = runnerPids;
  }

  private database(): DatabaseSync | null {
    if (this.d1) return this.d1;
    const [file] = sqliteFiles(join(this.v3, "d1", "miniflare-D1DatabaseObject"));
    if (file) this.d1 = new DatabaseSync(file, { readOnly: true });
    return this.d1;
  }

  /**
   * Instances of a workflow by status, counted so that retention cannot take them back: an instance that finished
   * before `cut` is counted once, in the window it finished in, and kept in a running total; what finished after it
   * (the mirror may still be delivering) and what has not finished are counted as D1 has them now.
   */
  private statuses(workflowId: string, cut: number, remember: boolean): Record<string, number> {
    const db = this.database();
    if (!db) return {};
    const since = this.counted.get(workflowId) ?? { cut: 0, byStatus: {} };
    const newlyFinished = db
      .prepare("SELECT status, COUNT(*) AS n FROM instances WHERE workflow_id = ? AND finished_at > ? AND finished_at <= ? GROUP BY status")
      .all(workflowId, since.cut, cut) as { status: string; n: number }[];
    const total = { ...since.byStatus };
    for (const r of newlyFinished) total[r.status] = (total[r.status] ?? 0) + r.n;
    if (remember) this.counted.set(workflowId, { cut, byStatus: { ...total } });
    const open = db
      .prepare("SELECT status, COUNT(*) AS n FROM instances WHERE workflow_id = ? AND (finished_at IS NULL OR finished_at > ?) GROUP BY status")
      .all(workflowId, cut) as { status: string; n: number }[];
    for (const r of open) total[r.status] = (total[r.status] ?? 0) + r.n;
    return total;
  }

  /** Events accepted whose runs have not finished, over every load. */
  backlog(loads: Load[]): number {
    return loads.reduce((sum, load) => sum + this.loadSample(load, Date.now(), false).unfinished, 0);
  }

  private loadSample(load: Load, now: number, remember: boolean): LoadSample {
    const byStatus = this.statuses(load.workflowId, now - SETTLE_MS, remember);
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const completed = (byStatus.succeeded ?? 0) + (byStatus.failed ?? 0) + (byStatus.terminated ?? 0);
    const started = total - (byStatus.waiting ?? 0);
    const before = this.last?.completed.get(load.workflowId) ?? 0;
    const seconds = this.last ? (now - this.last.at) / 1000 : 0;
    if (remember) this.last?.completed.set(load.workflowId, completed);
    return {
      kind: load.kind,
      accepted: load.accepted,
      failedSends: load.failed + load.refused,
      started,
      completed,
      failed: byStatus.failed ?? 0,
      completedPerSecond: seconds > 0 ? (completed - before) / seconds : 0,
      lag: Math.max(0, load.accepted - started),
      unfinished: Math.max(0, load.accepted - completed),
    };
  }

  sample(startedAt: number, phase: Sample["phase"], loads: Load[], stats: StorageStats | null): Omit<Sample, "purgedInstances" | "workerHeapMiB"> {
    const now = Date.now();
    const loadSamples = loads.map((load) => this.loadSample(load, now, true));
    this.last = { at: now, completed: new Map(loads.map((l, i) => [l.workflowId, loadSamples[i]!.completed])) };
    // Durable Object sizes as they report them (GET /api/v1/stats); wrangler's state files when the call failed.
    const doSizes = (cls: string) => sqliteFiles(join(this.v3, "do", `sluice-${cls}`)).map((f) => withDatabase(f, databaseBytes, 0));
    const coordinators = stats?.coordinators.map((c) => c.databaseSize) ?? doSizes("WorkflowCoordinator");
    const pools = stats?.pools.map((p) => p.databaseSize) ?? doSizes("ResourcePool");
    const d1 = this.database();
    const workerd = groupMembers(new Set([this.wranglerPgid])).filter((m) => m.comm === "workerd");
    return {
      seconds: (now - startedAt) / 1000,
      phase,
      loads: loadSamples,
      workerdRssMiB: round1(workerd.reduce((sum, m) => sum + rssKiB(m.pid), 0) / 1024),
      proxyRssMiB: round1(workerd.filter((m) => isProxy(m.pid, this.port)).reduce((sum, m) => sum + rssKiB(m.pid), 0) / 1024),
      runnerRssMiB: round1(this.runnerPids.reduce((sum, pid) => sum + rssKiB(pid), 0) / 1024),
      d1MiB: round1(d1 ? databaseBytes(d1) / MiB : 0),
      largestDoMiB: round1(Math.max(0, ...coordinators, ...pools) / MiB),
      coordinatorsMiB: round1(coordinators.reduce((a, b) => a + b, 0) / MiB),
      poolsMiB: round1(pools.reduce((a, b) => a + b, 0) / MiB),
      liveInstances: stats?.coordinators.reduce((sum, c) => sum + c.liveInstances, 0) ?? null,
      r2Objects: this.r2Objects(),
      finishedLogChunks: this.finishedLogChunks(now),
    };
  }

  /** D1 log chunks of attempts that finished over a minute ago: the archive should have moved them all to R2. */
  private finishedLogChunks(now: number): number {
    const db = this.database();
    if (!db) return 0;
    const row = db
      .prepare("SELECT COUNT(*) AS n FROM node_logs l JOIN node_runs r ON r.id = l.node_run_id WHERE r.finished_at IS NOT NULL AND r.finished_at < ?")
      .get(now - 60_000) as { n: number };
    return row.n;
  }

  private r2Objects(): number {
    const r2 = join(this.v3, "r2");
    if (!existsSync(r2)) return 0;
    return readdirSync(r2)
      .filter((bucket) => existsSync(join(r2, bucket, "blobs")))
      .reduce((sum, bucket) => sum + readdirSync(join(r2, bucket, "blobs")).length, 0);
  }

  close(): void {
    this.d1?.close();
    this.d1 = null;
  }
}
