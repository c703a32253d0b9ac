// Run throughput (issue 11): 1,000 API runs of a one-`noop` workflow, 32 in flight or as batch requests of 100 → completed/s.
import { type Api, inParallel, ms, sleep } from "./api.ts";
import { cpuSeconds, type StackSampler } from "./stack-metrics.ts";

export interface ThroughputSample {
  count: number;
  completed: number;
  notCompleted: number;
  /** Runs whose request was answered, per second from the first send to the last answer. */
  createdPerSecond: number;
  /** Runs completed per second, from the first send to the last run's finish (the server's clock). */
  completedPerSecond: number;
  seconds: number;
  /** CPU of the stack's two workerd processes (the Worker's and wrangler's proxy) per run, send → all completed, client polling included. */
  cpuMsPerRun: number;
}

/** What a batch request answered when the API does not take `{runs: [...]}` (yet): the row says so instead of a figure. */
export class BatchUnavailable extends Error {}

/** Sends `size` runs in one request; throws BatchUnavailable unless the answer is `201 {items: [...size]}`. */
async function runBatch(api: Api, workflowId: string, size: number): Promise<void> {
  const res = await api.call<{ items?: unknown[] }>("POST", `/api/v1/workflows/${workflowId}/runs`, { runs: Array.from({ length: size }, () => ({ env: "dev" })) });
  if (res.status === 201 && Array.isArray(res.json.items) && res.json.items.length === size) return;
  const why = res.status === 201 ? "201 without one item per run" : String(res.status);
  throw new BatchUnavailable(`not available (the API answered ${why} to \`{runs: [...]}\`)`);
}

/** Asks once with two runs whether batch run requests exist, so an old API costs no 1,000-run attempt. */
export async function batchAvailable(api: Api, workflowId: string): Promise<string | null> {
  try {
    await runBatch(api, workflowId, 2);
    return null;
  } catch (err) {
    if (err instanceof BatchUnavailable) return err.message;
    throw err;
  }
}

/**
 * `count` dev runs of a one-`noop` workflow without maxParallel: one per request with `concurrency` in flight,
 * or in requests of `batch` runs (all in flight at once). Then waits until none is waiting or running and every
 * run is listed finished (the D1 listing may lag the coordinator), and takes the last finishedAt.
 */
export async function sluiceThroughput(api: Api, workflowId: string, count: number, how: { concurrency: number } | { batch: number }): Promise<ThroughputSample> {
  const firstSentAt = Date.now();
  if ("batch" in how) {
    const requests = Math.ceil(count / how.batch);
    await inParallel(requests, requests, (i) => runBatch(api, workflowId, Math.min(how.batch, count - i * how.batch)));
  } else {
    await inParallel(count, how.concurrency, async () => void (await api.run(workflowId)));
  }
  const createdSeconds = (Date.now() - firstSentAt) / 1000;
  const deadline = Date.now() + 600_000;
  let succeeded: { finishedAt: string | null }[] = [];
  let failed = 0;
  let quietChecks = 0;
  for (;;) {
    const [running, waiting] = await Promise.all([api.instancesPage(workflowId, "running", null, 1), api.instancesPage(workflowId, "waiting", null, 1)]);
    if (running.items.length === 0 && waiting.items.length === 0) {
      succeeded = await api.allInstances(workflowId, "succeeded");
      failed = (await api.allInstances(workflowId, "failed")).length + (await api.allInstances(workflowId, "terminated")).length;
      // Nothing left to run, yet runs missing from the listing for 10 s: they are reported as not completed.
      if (succeeded.length + failed >= count || ++quietChecks > 50) break;
    }
    if (Date.now() > deadline) break;
    await sleep(200);
  }
  const lastFinished = Math.max(...succeeded.map((i) => ms(i.finishedAt)));
  const seconds = (lastFinished - firstSentAt) / 1000;
  return { count, completed: succeeded.length, notCompleted: count - succeeded.length, createdPerSecond: count / createdSeconds, completedPerSecond: succeeded.length / seconds, seconds, cpuMsPerRun: Number.NaN };
}

/** Runs a throughput workload and sets its CPU per run: both workerd processes of the stack the sampler watches. */
export async function withWorkerdCpu(sampler: StackSampler, workload: () => Promise<ThroughputSample>): Promise<ThroughputSample> {
  const { proxy, worker } = sampler.workerdPids();
  const read = () => (worker ? cpuSeconds(worker) : 0) + (proxy ? cpuSeconds(proxy) : 0);
  const before = read();
  const sample = await workload();
  return { ...sample, cpuMsPerRun: ((read() - before) * 1000) / sample.count };
}
