// Fault injection (npm run test:faults): mixed workflows under SIGKILLed, timing-out and hung runners, crashed and evicted
// Durable Objects, duplicate and re-ordered deliveries and webhooks, failing consumers, D1 writes and http targets, and
// people terminating and rerunning, lose, duplicate, strand, over-admit, reorder and double-run nothing.
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { simulate, type Report } from "./simulation.ts";

declare global {
  namespace Cloudflare {
    interface Env {
      SLUICE_FAULT_RUNS: string;
      SLUICE_FAULT_SEED: string;
    }
  }
}

/** The CI size; a recorded run sets SLUICE_FAULT_RUNS=1000 or more. */
const DEFAULT_RUNS = 300;

/** Seeds that once found a bug, run every time; then one random seed, printed for replay. */
const FIXED_SEEDS = [1905142224, 729383892];

const runs = Number(env.SLUICE_FAULT_RUNS || DEFAULT_RUNS);
const seeds = env.SLUICE_FAULT_SEED ? [Number(env.SLUICE_FAULT_SEED)] : [...FIXED_SEEDS, Math.floor(Math.random() * 2 ** 31)];
const replayOf = (seed: number) => `seed=${seed}; replay: SLUICE_FAULT_SEED=${seed} SLUICE_FAULT_RUNS=${runs} npm run test:faults`;

function describeReport(r: Report): string {
  const v = r.verdict;
  const l = r.lifecycle;
  return [
    `faults: runs=${v.runs} faults=${r.faults} lost=${v.lost} duplicates=${v.duplicates} stuck=${v.stuck} overLimit=${v.overLimit} seed=${r.seed}`,
    `  injected: ${Object.entries(r.injected).map(([k, n]) => `${k}=${n}`).join(" ")}`,
    `  operations: terminates=${r.operations.terminates} reruns=${r.operations.reruns} refused=${r.operations.refused}`,
    `  lifecycle: outOfOrder=${l.outOfOrder} ranAfterTerminate=${l.ranAfterTerminate} concurrentAttempts=${l.concurrentAttempts} claimedAfterFinish=${l.claimedAfterFinish} hangsNotStopped=${r.fleet.hangsNotStopped} overlapsAfterLostLease=${l.overlapsAfterLostLease} killedUnrenewed=${r.fleet.killedUnrenewed}`,
    `  checks: mirrorMismatches=${v.mirrorMismatches} verdictMismatches=${v.verdictMismatches} staleReports=${r.fleet.staleReports} staleReportsAccepted=${r.fleet.staleReportsAccepted} reissuedAfterCompletion=${r.fleet.reissuedAfterCompletion} deadLettered=${r.broker.deadLettered.length} unexplainedFailures=${v.unexplainedFailures} failedByLostAttempt=${v.failedByLostAttempt} leftovers=${v.leftovers} undeliveredByAlarms=${r.undeliveredByAlarms} drained=${r.drainedCleanly}`,
    `  work: requests=${r.requests} instances=${v.instances} ${Object.entries(v.outcomes).map(([k, n]) => `${k}=${n}`).join(" ")} deliveries=${r.broker.deliveries} retriedMessages=${r.broker.retried} webhookDeliveries=${r.webhooks.deliveries} webhookRetries=${r.webhooks.retried} claimed=${r.fleet.claimed} completed=${r.fleet.completed} failedOnPurpose=${r.fleet.failedOnPurpose} abandoned=${r.fleet.abandoned} stoppedByServer=${r.fleet.stoppedByServer} hangsStopped=${r.fleet.timeouts.hangsStopped} rounds=${r.rounds} outboxRepeatRounds=${r.outboxRepeatRounds} seconds=${r.seconds.toFixed(1)}`,
    ...[...v.problems, ...l.problems].map((p) => `  problem: ${p}`),
  ].join("\n");
}

it.each(seeds)(`loses, duplicates, strands, over-admits, reorders and double-runs nothing, nor runs what was terminated, under injected faults (${runs} runs, seed %i)`, async (seed) => {
  const replay = replayOf(seed);
  console.log(`faults: starting ${replay}`);
  const report = await simulate(seed, runs, Number(env.LEASE_SECONDS) * 1000);
  const text = describeReport(report);
  console.log(text);
  const v = report.verdict;
  expect(v.runs, `${replay}\n${text}`).toBeGreaterThanOrEqual(runs);
  expect(v.lost, `lost runs or events; ${replay}\n${text}`).toBe(0);
  expect(v.duplicates, `duplicate runs; ${replay}\n${text}`).toBe(0);
  expect(v.stuck, `instances stuck; ${replay}\n${text}`).toBe(0);
  expect(v.overLimit, `maxParallel or ordering-key violations; ${replay}\n${text}`).toBe(0);
  expect(v.mirrorMismatches, `D1 disagrees with the coordinators; ${replay}\n${text}`).toBe(0);
  expect(v.verdictMismatches, `event log or API answers disagree with what ran; ${replay}\n${text}`).toBe(0);
  expect(report.fleet.staleReportsAccepted, `a report from a runner without the lease was accepted; ${replay}\n${text}`).toBe(0);
  expect(report.fleet.reissuedAfterCompletion, `attempts handed out again after their result was accepted; ${replay}\n${text}`).toBe(0);
  expect(v.unexplainedFailures, `node runs failed for no injected reason; ${replay}\n${text}`).toBe(0);
  expect(v.failedByLostAttempt, `a node failed by a lost attempt while infrastructure retries remained; ${replay}\n${text}`).toBe(0);
  expect(v.leftovers, `undelivered outbox effects or pool tasks; ${replay}\n${text}`).toBe(0);
  expect(report.undeliveredByAlarms, `effects a coordinator committed were not delivered by its alarm; ${replay}\n${text}`).toBe(0);
  const l = report.lifecycle;
  expect(l.outOfOrder, `instances of an ordering key started out of arrival order; ${replay}\n${text}`).toBe(0);
  expect(l.ranAfterTerminate, `a terminated instance ran a node afterwards; ${replay}\n${text}`).toBe(0);
  expect(l.concurrentAttempts, `a node ran twice at once; ${replay}\n${text}`).toBe(0);
  // Never two live processes of one node, not even a lost attempt's beside its retry: the runner kills what it cannot renew.
  expect(l.overlapsAfterLostLease, `a lost attempt's process still ran when its retry started; ${replay}\n${text}`).toBe(0);
  expect(l.claimedAfterFinish, `an attempt was handed out after it finished; ${replay}\n${text}`).toBe(0);
  expect(report.fleet.hangsNotStopped, `a hung node was never stopped; ${replay}\n${text}`).toBe(0);
});
