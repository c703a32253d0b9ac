// The fault suite's driver: seeded rounds of events, webhooks, API calls, operators, runner work and injected faults, then a fault-free drain.
import { abortAllDurableObjects, env, evictAllDurableObjects, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { armFault, disarmFaults, faultsFired } from "../../worker/faults.ts";
import { Broker, type BrokerStats, type Pending } from "./broker.ts";
import { HttpTarget } from "./http-target.ts";
import { judge, readCoordinator, sampleLimits, type Verdict } from "./invariants.ts";
import { judgeLifecycles, type LifecycleVerdict } from "./lifecycle-checks.ts";
import { Operators, type PlannedOperation } from "./operators.ts";
import { Rng } from "./rng.ts";
import { RunnerFleet, type FleetStats } from "./runners.ts";
import { WebhookSender } from "./webhooks.ts";
import { buildWorld, messageBody, planRequests, QUEUE, R2_QUEUE, sendApiRun, type RunRequest, type World } from "./world.ts";

const RUNNERS_PER_GROUP = 2;
/** Per round: the chance of each fault the round decides on (runners draw theirs per attempt, the broker per batch). */
const P_RESTART = 0.35;
const P_D1_FAILURE = 0.12;
const P_CONSUMER_FAILURE = 0.15;
const P_COORDINATOR_DIES = 0.1;
const P_D1_OUTAGE = 0.06;
const P_POOL_DIES_AFTER_LEASE = 0.06;
const P_POOL_DIES_AFTER_COMPLETE = 0.06;
const P_START_NOTICES_LOST = 0.12;
const P_OUTBOX_REPEATS = 0.08;
/** A round in which every outbox delivery dies before deleting its rows: they all repeat later, from the alarms. */
const P_OUTBOX_REPEATS_ALL_ROUND = 0.1;
const P_TERMINATE = 0.4;
const P_RERUN = 0.25;
/** worker/coordinator/outbox.ts retries a failed delivery from its alarm this long after. */
const OUTBOX_RETRY_MS = 2_000;

/**
 * A Durable Object restart: one object evicted (graceful: in-flight calls finish, memory is dropped),
 * every object evicted, or every object aborted (a crash: in-flight calls fail).
 */
type Restart = { kind: "one"; namespace: "coordinator" | "pool"; name: string } | { kind: "all" } | { kind: "crash" };

interface Round {
  faulty: boolean;
  publish: RunRequest[];
  batches: Map<string, Pending[][]>;
  restart: { what: Restart; afterMs: number } | null;
  d1Failures: number;
  /** D1 fails every mirror write for the whole round, then recovers while no new work arrives. */
  d1Outage: boolean;
  /** How many coordinator commits die right after committing, before delivering their effects. */
  coordinatorDies: number;
  /** Pool crashes: right after granting leases (the runner never gets them), after the coordinator took a result. */
  poolDies: { afterLease: boolean; afterComplete: boolean };
  /** How many of the pool's notices that a node started never reach the coordinator. */
  startNoticesLost: number;
  /** How many outbox deliveries die after the pool calls and before their rows are deleted (the calls repeat); "round": all of this round's. */
  outboxRepeats: number | "round";
  operations: PlannedOperation[];
  /** Webhook deliveries replayed this round, as senders do after a lost answer. */
  replays: RunRequest[];
  slots: number[];
  claimFirst: boolean[];
}

export interface Report {
  seed: number;
  seconds: number;
  rounds: number;
  /** Rounds in which every outbox delivery died before deleting its rows (their firings count as faults). */
  outboxRepeatRounds: number;
  requests: number;
  faults: number;
  injected: Record<string, number>;
  verdict: Verdict;
  lifecycle: LifecycleVerdict;
  operations: { terminates: number; reruns: number; refused: number };
  webhooks: WebhookSender["stats"];
  broker: BrokerStats;
  fleet: FleetStats;
  /** Outbox effects still undelivered after a quiet spell in which only alarms could deliver them (must be 0). */
  undeliveredByAlarms: number;
  drainedCleanly: boolean;
}

/** Installs the http nodes' target for the run (it replaces the isolate's fetch) and drives the simulation. */
export async function simulate(seed: number, runs: number, leaseMs: number): Promise<Report> {
  const target = new HttpTarget(seed);
  target.install();
  try {
    return await drive(seed, runs, leaseMs, target);
  } finally {
    target.uninstall();
  }
}

async function drive(seed: number, runs: number, leaseMs: number, target: HttpTarget): Promise<Report> {
  const began = Date.now();
  const rng = new Rng(seed);
  const world = await buildWorld(`${seed.toString(36)}${crypto.randomUUID().slice(0, 4)}`);
  const requests = planRequests(world, rng, runs);
  const broker = new Broker();
  const fleet = new RunnerFleet(seed, world, RUNNERS_PER_GROUP, leaseMs);
  const sender = new WebhookSender(world);
  const operators = new Operators(world);
  const apiAnswers = new Map<string, (string | null)[]>();
  const replays = new Map<number, RunRequest[]>();
  const sampled: string[] = [];
  const restarts = { coordinator: 0, pool: 0, all: 0, crash: 0 };
  let next = 0;
  let rounds = 0;
  let outboxRepeatRounds = 0;

  /** Every random choice of a round, drawn up front in a fixed order, so a seed replays the same plan. */
  const plan = (faulty: boolean): Round => {
    const publish = faulty ? requests.slice(next, (next = Math.min(requests.length, next + 1 + rng.int(8)))) : [];
    for (const r of publish.filter((r) => r.source !== "api" && r.source !== "webhook")) broker.publish(rng, r.source === "r2" ? R2_QUEUE : QUEUE, copiesOf(world, r));
    for (const r of publish.filter((r) => r.replayAfter > 0)) replays.set(rounds + r.replayAfter, [...(replays.get(rounds + r.replayAfter) ?? []), r]);
    // The drain replays whatever is still due.
    const replaying = faulty ? (replays.get(rounds) ?? []) : [...replays.entries()].filter(([round]) => round >= rounds).flatMap(([, rs]) => rs);
    if (!faulty) replays.clear();
    const batches = new Map<string, Pending[][]>();
    for (const queue of broker.queueNames()) {
      const count = faulty ? rng.int(3) : Infinity;
      for (let i = 0; i < count && broker.pendingIn(queue) > 0; i++) {
        const batch = broker.takeBatch(rng, queue, faulty ? 1 + rng.int(20) : 100, faulty && rng.chance(P_CONSUMER_FAILURE));
        batches.set(queue, [...(batches.get(queue) ?? []), batch]);
      }
    }
    // At least one outage per run: the last round that sends new work has one.
    const d1Outage = faulty && (rng.chance(P_D1_OUTAGE) || next === requests.length);
    let restart: Round["restart"] = null;
    // An outage round restarts nothing, so only the outbox's own alarm can deliver what D1 refused.
    if (faulty && !d1Outage && rng.chance(P_RESTART)) {
      const kind = rng.weighted<Restart["kind"]>([["one", 8], ["all", 1], ["crash", 1]]);
      const one = (): Restart =>
        rng.chance(0.75) ? { kind: "one", namespace: "coordinator", name: rng.pick(world.workflows).id } : { kind: "one", namespace: "pool", name: rng.pick(world.groups) };
      restart = { what: kind === "one" ? one() : { kind }, afterMs: rng.int(40) };
    }
    const d1Failures = faulty && !d1Outage && rng.chance(P_D1_FAILURE) ? 1 + rng.int(2) : 0;
    const coordinatorDies = faulty && rng.chance(d1Outage ? 0.5 : P_COORDINATOR_DIES) ? 1 + rng.int(d1Outage ? 3 : 1) : 0;
    const poolDies = { afterLease: faulty && rng.chance(P_POOL_DIES_AFTER_LEASE), afterComplete: faulty && rng.chance(P_POOL_DIES_AFTER_COMPLETE) };
    const startNoticesLost = faulty && rng.chance(P_START_NOTICES_LOST) ? 1 + rng.int(3) : 0;
    const outboxRepeats = !faulty ? 0 : rng.chance(P_OUTBOX_REPEATS_ALL_ROUND) ? "round" : rng.chance(P_OUTBOX_REPEATS) ? 1 + rng.int(2) : 0;
    const operations = faulty ? operators.plan(rng, rng.chance(P_TERMINATE) ? 1 + rng.int(2) : 0, rng.chance(P_RERUN) ? 1 : 0) : [];
    const slots = Array.from({ length: fleet.size }, () => (faulty ? 1 + rng.int(6) : 16));
    const claimFirst = Array.from({ length: fleet.size }, () => rng.chance(0.5));
    return { faulty, publish, batches, restart, d1Failures, d1Outage, coordinatorDies, poolDies, startNoticesLost, outboxRepeats, operations, replays: replaying, slots, claimFirst };
  };

  const restart = async ({ what, afterMs }: NonNullable<Round["restart"]>) => {
    await new Promise((r) => setTimeout(r, afterMs));
    if (what.kind === "crash") await abortAllDurableObjects();
    else if (what.kind === "all") await evictAllDurableObjects();
    else {
      const ns = what.namespace === "coordinator" ? env.COORDINATOR : env.POOL;
      // Rejects when the object is not running: nothing to evict, nothing counted.
      if (!(await evictDurableObject(ns.get(ns.idFromName(what.name))).then(() => true, () => false))) return;
    }
    restarts[what.kind === "one" ? what.namespace : what.kind]++;
  };

  const play = async (round: Round) => {
    rounds++;
    if (round.d1Failures > 0) armFault("outbox.d1", round.d1Failures);
    if (round.coordinatorDies > 0) armFault("coordinator.afterCommit", round.coordinatorDies);
    if (round.poolDies.afterLease) armFault("pool.afterLease");
    if (round.poolDies.afterComplete) armFault("pool.afterComplete");
    if (round.startNoticesLost > 0) armFault("pool.startNotice", round.startNoticesLost);
    if (round.outboxRepeats !== 0) armFault("outbox.beforeDelete", round.outboxRepeats === "round" ? 1_000_000 : round.outboxRepeats);
    let done = false;
    const watch = (async () => {
      while (!done) {
        // Aborted objects fail the read; the next sample reads them again.
        sampled.push(...(await sampleLimits(world).catch(() => [])));
        // A pause between samples: an eviction waits for a moment with no request in flight.
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await Promise.all([
      ...round.publish.filter((r) => r.source === "api").map(async (r) => {
        // Duplicate API calls race each other with one Idempotency-Key.
        const answers = await Promise.all(Array.from({ length: r.copies }, () => sendApiRun(world, r)));
        apiAnswers.set(r.tag, answers.map((a) => a.id));
      }),
      ...[...round.batches].map(async ([queue, batches]) => {
        for (const batch of batches) await broker.deliver(queue, batch);
      }),
      ...round.publish.filter((r) => r.source === "webhook").map((r) => sender.send(r)),
      ...round.replays.map((r) => sender.replay(r)),
      operators.perform(round.operations),
      fleet.round(round.slots, round.claimFirst, round.faulty),
      round.restart ? restart(round.restart) : null,
    ]);
    await fleet.sendLateReports();
    if (round.outboxRepeats === "round") {
      disarmFaults("outbox.beforeDelete");
      outboxRepeatRounds++;
    }
    done = true;
    await watch;
  };

  const alarmChecks = { outages: 0, failedWrites: 0, undelivered: 0, notes: [] as string[] };
  /** With no new work for a while, only the coordinators' alarms can deliver what their outboxes still hold: they must. */
  const quietCheck = async (after: string) => {
    await fleet.keepAlive(OUTBOX_RETRY_MS + 1_500);
    for (const wf of world.workflows) {
      const left = (await readCoordinator(wf)).outbox;
      alarmChecks.undelivered += left;
      if (left > 0) alarmChecks.notes.push(`${wf.name}: ${left} outbox effects still undelivered ${OUTBOX_RETRY_MS + 1_500} ms after ${after}`);
    }
  };

  /** D1 down for a round (some coordinators also die right after committing), then back. */
  const outage = async (round: Round) => {
    const before = faultsFired()["outbox.d1"] ?? 0;
    armFault("outbox.d1", 1_000_000);
    await play(round);
    disarmFaults("outbox.d1");
    disarmFaults("coordinator.afterCommit");
    alarmChecks.outages++;
    alarmChecks.failedWrites += (faultsFired()["outbox.d1"] ?? 0) - before;
    await quietCheck("a D1 outage ended");
  };

  // The last request is kept for the end: a client starts a run, the coordinator dies right after
  // committing it, and the client gives up, so no retry will ever flush that coordinator's outbox.
  const abandoned = requests.at(-1)!;
  while (next < requests.length) {
    const round = plan(true);
    round.publish = round.publish.filter((r) => r !== abandoned);
    await (round.d1Outage ? outage(round) : play(round));
  }
  armFault("coordinator.afterCommit");
  apiAnswers.set(abandoned.tag, [(await sendApiRun(world, abandoned)).id]);
  disarmFaults("coordinator.afterCommit");
  await quietCheck("a coordinator died after committing a run whose client gave up");

  // Drain without new faults until every instance is final and every effect delivered, or give up.
  disarmFaults();
  const deadline = Date.now() + 60_000 + runs * 60;
  let drainedCleanly = false;
  while (Date.now() < deadline) {
    await play(plan(false));
    if (await quiet(world, broker, fleet)) {
      drainedCleanly = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  const verdict = await judge(world, requests, apiAnswers, sender.answers, sampled);
  verdict.problems.push(...alarmChecks.notes.slice(0, 5), ...fleet.notes);
  const lifecycle = await judgeLifecycles(world, operators.log, fleet.claims, fleet.executions, target.calls, (c) => target.endOf(c));
  const fired = faultsFired();
  const injected = {
    sigkillUnacked: fleet.stats.kills.unacked,
    sigkillAcked: fleet.stats.kills.acked,
    sigkillLogged: fleet.stats.kills.logged,
    evictCoordinator: restarts.coordinator,
    evictPool: restarts.pool,
    evictAll: restarts.all,
    abortAll: restarts.crash,
    coordinatorDiesAfterCommit: fired["coordinator.afterCommit"] ?? 0,
    duplicateDeliveries: broker.stats.duplicateDeliveries,
    duplicateApiCalls: requests.filter((r) => r.source === "api").reduce((n, r) => n + r.copies - 1, 0),
    reorderedBatches: broker.stats.reorderedBatches,
    consumerExceptions: fired.ingest ?? 0,
  webhookHandlerExceptions: fired.hooks ?? 0,
    d1WriteFailures: (fired["outbox.d1"] ?? 0) - alarmChecks.failedWrites,
    d1Outages: alarmChecks.outages,
    poolDiesAfterLease: fired["pool.afterLease"] ?? 0,
    poolDiesAfterComplete: fired["pool.afterComplete"] ?? 0,
    startNoticesLost: fired["pool.startNotice"] ?? 0,
    coordinatorDiesBeforeOutboxDelete: fired["outbox.beforeDelete"] ?? 0,
    runnerDiesOnFailedReport: fleet.stats.kills.onFailedReport,
    duplicateWebhooks: sender.stats.duplicates,
    replayedWebhooks: sender.stats.replays,
    runnerTimeouts: fleet.stats.timeouts.reported,
    hungRunners: fleet.stats.timeouts.hung,
    httpFailures: target.stats.failedOnPurpose,
    httpHangs: target.stats.hung,
  };
  return {
    seed,
    seconds: (Date.now() - began) / 1000,
    rounds,
    outboxRepeatRounds,
    requests: requests.length,
    faults: Object.values(injected).reduce((a, b) => a + b, 0),
    injected,
    verdict,
    lifecycle,
    operations: { terminates: operators.count("terminate"), reruns: operators.count("rerun"), refused: operators.log.filter((o) => o.status !== 200).length },
    webhooks: sender.stats,
    broker: broker.stats,
    fleet: fleet.stats,
    undeliveredByAlarms: alarmChecks.undelivered,
    drainedCleanly,
  };
}

/** Every copy of an event as a queue message: the same id each time, except a re-sent R2 notification. */
function copiesOf(world: World, r: RunRequest): Pending[] {
  const id = `m-${world.tag}-${r.tag}`;
  return Array.from({ length: r.copies }, (_, i) => ({
    id: r.resent && i > 0 ? `${id}-resent${i}` : id,
    body: messageBody(world, r),
    timestamp: r.at,
    attempts: 1,
  }));
}

/** Nothing left anywhere: no backlog, no work in runners' hands, every instance final, every outbox and pool empty. */
async function quiet(world: World, broker: Broker, fleet: RunnerFleet): Promise<boolean> {
  if (broker.pending() > 0 || fleet.busy() > 0) return false;
  for (const wf of world.workflows) {
    const live = await readCoordinator(wf);
    if (live.outbox > 0 || live.instances.some((i) => i.status === "waiting" || i.status === "running")) return false;
  }
  for (const group of world.groups) {
    const pool = env.POOL.get(env.POOL.idFromName(group));
    if (await runInDurableObject(pool, (_, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks`).one().n > 0)) return false;
  }
  return true;
}
