// The soak's baseline: a Worker that only answers "ok", under the same wrangler dev, at a steady request rate.
// What its workerd processes grow by is wrangler's and workerd's own, not Sluice's.
import { join } from "node:path";
import { freePort, ROOT, startProcess, stopProcess } from "../scripts/stack.ts";
import { sleep } from "./api.ts";
import { groupMembers, rssKiB } from "./stack-metrics.ts";

export interface BaselineSample {
  seconds: number;
  workerdRssMiB: number;
}

export interface Baseline {
  requestsPerSecond: number;
  samples: BaselineSample[];
}

/** Runs the hello-world Worker for `minutes` at `rate` requests/s (10 at a time), sampling RSS every `windowSeconds`. */
export async function runBaseline(minutes: number, rate: number, windowSeconds: number): Promise<Baseline> {
  const port = await freePort();
  const dir = join(ROOT, "bench", "baseline-worker");
  const worker = startProcess("wrangler", ["dev", "--ip", "127.0.0.1", "--port", String(port), "--show-interactive-dev-session=false"], dir);
  const url = `http://127.0.0.1:${port}/`;
  try {
    const upBy = Date.now() + 60_000;
    while (!(await fetch(url).then((r) => r.ok, () => false))) {
      if (Date.now() > upBy) throw new Error("the baseline Worker did not start in 60 s");
      await sleep(250);
    }
    const samples: BaselineSample[] = [];
    const startedAt = Date.now();
    const rss = () => groupMembers(new Set([worker.pid!])).filter((m) => m.comm === "workerd").reduce((sum, m) => sum + rssKiB(m.pid), 0) / 1024;
    const take = () => samples.push({ seconds: (Date.now() - startedAt) / 1000, workerdRssMiB: Math.round(rss() * 10) / 10 });
    take();
    let nextSample = startedAt + windowSeconds * 1000;
    const tickMs = (10 / rate) * 1000;
    for (let tick = 0; Date.now() < startedAt + minutes * 60_000; tick++) {
      const wait = startedAt + tick * tickMs - Date.now();
      if (wait > 0) await sleep(wait);
      await Promise.all(Array.from({ length: 10 }, () => fetch(url).then((r) => r.arrayBuffer(), () => null)));
      if (Date.now() >= nextSample) {
        take();
        nextSample += windowSeconds * 1000;
      }
    }
    take();
    return { requestsPerSecond: rate, samples };
  } finally {
    await stopProcess(worker);
  }
}
