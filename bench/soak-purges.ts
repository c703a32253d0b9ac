// What the retention cron deleted during a soak, read from the Worker's log lines, and the ingest rate it must outpace.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../scripts/stack.ts";
import type { PurgeRun } from "./soak-report.ts";

// worker/index.ts writes one such line for each cron run that deleted something.
const LINE = /sluice retention: purged (\d+) instances, (\d+) trigger events, (\d+) audit rows in (\d+) ms, (\d+) D1 queries and (\d+) R2 calls(; more left)?/g;

/** Reads the stack's collected output as it grows: every purge line once, in order. */
export class PurgeLog {
  private readonly output: string[];
  private readonly startedAt: number;
  private chunks = 0;
  private pending = "";
  private readonly runs: PurgeRun[] = [];

  constructor(output: string[], startedAt: number) {
    this.output = output;
    this.startedAt = startedAt;
  }

  read(): { instances: number; runs: PurgeRun[] } {
    const fresh = this.pending + this.output.slice(this.chunks).join("");
    this.chunks = this.output.length;
    // A line may be cut between two chunks: keep what follows the last newline for the next read.
    const end = fresh.lastIndexOf("\n") + 1;
    this.pending = fresh.slice(end);
    const seconds = (Date.now() - this.startedAt) / 1000;
    for (const m of fresh.slice(0, end).matchAll(LINE)) {
      this.runs.push({ seconds, instances: Number(m[1]), triggerEvents: Number(m[2]), auditEvents: Number(m[3]), ms: Number(m[4]), queries: Number(m[5]), r2Calls: Number(m[6]), complete: m[7] === undefined });
    }
    return { instances: this.runs.reduce((sum, r) => sum + r.instances, 0), runs: this.runs };
  }
}

/** The fastest run starts bench/RESULTS.json records: the median of its batch benchmark (100 runs a request). */
export function highestIngest(): { name: string; perSecond: number } | null {
  const file = join(ROOT, "bench", "RESULTS.json");
  if (!existsSync(file)) return null;
  const results = JSON.parse(readFileSync(file, "utf8")) as { batch?: { completedPerSecond: number }[] };
  const rates = (results.batch ?? []).map((b) => b.completedPerSecond).sort((a, b) => a - b);
  if (rates.length === 0) return null;
  return { name: "API batches of 100 runs (bench/RESULTS.json, median of its rounds)", perSecond: Math.round(rates[Math.floor(rates.length / 2)]!) };
}
