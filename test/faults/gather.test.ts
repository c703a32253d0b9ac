// Batching and debounce under faults (DESIGN §2.9): duplicate and re-ordered deliveries, consumers failing after the gate
// committed, gate answers lost, gates and coordinators dying after starting a run, and Durable Objects aborted or evicted
// mid-flight. Every batched event is in exactly one started run's message; every debounce group starts exactly one run;
// nothing is lost.
import { abortAllDurableObjects, env, evictAllDurableObjects } from "cloudflare:test";
import { expect, it } from "vitest";
import { armFault, disarmFaults, faultsFired } from "../../worker/faults.ts";
import { api, isolatedGroup } from "../workers/helpers.ts";
import { eventsOf, instancesOf, queueTriggerSetup } from "../workers/trigger-helpers.ts";
import { Broker } from "./broker.ts";
import { Rng } from "./rng.ts";

const QUEUE = "user-behavior";
const EVENTS_PER_TRIGGER = 60;
const KEYS = ["k1", "k2", "k3"];
/** A gathering run starts within its window plus a few start retries; past this the test reports what is missing. */
const SETTLE_MS = 30_000;

const group = isolatedGroup();
/** A fixed seed (2 once dead-lettered a message while lost answers stayed armed), then one random seed, printed for replay. */
const FIXED_SEEDS = [2];
const seeds = env.SLUICE_FAULT_SEED ? [Number(env.SLUICE_FAULT_SEED)] : [...FIXED_SEEDS, Math.floor(Math.random() * 2 ** 31)];

interface Sent {
  id: string;
  key: string;
  value: string;
}

/** Faults fired by this run: the counts are kept per module, across the seeds of this file. */
const firedSince = (before: Record<string, number>) => Object.fromEntries(Object.entries(faultsFired()).map(([k, n]) => [k, n - (before[k] ?? 0)]));

const triggerMessageOf = async (instanceId: string) => (await api("GET", `/api/v1/instances/${instanceId}`)).json.triggerMessage;

/** Publishes every event with 1-3 copies at random places in the backlog. */
function publishAll(rng: Rng, broker: Broker, triggerKey: string, prefix: string): Sent[] {
  const sent: Sent[] = [];
  for (let i = 0; i < EVENTS_PER_TRIGGER; i++) {
    const s = { id: `${prefix}-${i}`, key: rng.pick(KEYS), value: `${prefix}-${i}` };
    sent.push(s);
    const copy = { id: s.id, body: { key: triggerKey, value: s.value, headers: { k: s.key } }, timestamp: new Date(Date.now() + i), attempts: 1 };
    broker.publish(rng, QUEUE, Array.from({ length: 1 + rng.int(3) }, () => copy));
  }
  return sent;
}

/** Delivers until the backlog is empty, with consumer failures, lost gate answers, dying gates, aborts and evictions. */
async function deliverWithFaults(rng: Rng, broker: Broker, triggerIds: string[]) {
  const faults = { aborts: 0, evictions: 0, gateAnswersLost: 0, gateDiedAfterStart: 0, coordinatorDied: 0 };
  while (broker.pending() > 0) {
    // Rates low enough that no message fails all six deliveries (wrangler.toml max_retries = 5) and dead-letters.
    const batch = broker.takeBatch(rng, QUEUE, 1 + rng.int(12), rng.chance(0.15));
    // A lost answer applies to this batch only: one left armed would fail the trigger's next batches one after another.
    for (const id of triggerIds) disarmFaults(`gate:added:${id}`);
    if (rng.chance(0.1)) {
      armFault(`gate:added:${rng.pick(triggerIds)}`);
      faults.gateAnswersLost++;
    }
    if (rng.chance(0.15)) {
      armFault(`gate:started:${rng.pick(triggerIds)}`);
      faults.gateDiedAfterStart++;
    }
    if (rng.chance(0.1)) {
      // The next coordinator commit (a gate starting a group's run) fails after committing: the gate retries the start.
      armFault("coordinator.afterCommit");
      faults.coordinatorDied++;
    }
    const restart = rng.chance(0.1) ? (rng.chance(0.5) ? "abort" : "evict") : null;
    const delay = rng.int(30);
    await Promise.all([
      broker.deliver(QUEUE, batch),
      restart &&
        new Promise((r) => setTimeout(r, delay)).then(async () => {
          if (restart === "abort") {
            faults.aborts++;
            await abortAllDurableObjects();
          } else {
            faults.evictions++;
            await evictAllDurableObjects();
          }
        }),
    ]);
    // Now and then a pause, so windows close (and alarms run) between deliveries too.
    if (rng.chance(0.1)) await new Promise((r) => setTimeout(r, 400 + rng.int(800)));
  }
  return faults;
}

const groupRow = (e: { source: string }) => e.source === "batch" || e.source === "debounce";

/**
 * Waits until every sent event's log row names instances that exist and every instance has its group's `started` row
 * (a group whose start failed after its coordinator committed writes it on the retry), or the settle time is over.
 */
async function settled(workflowId: string, triggerId: string, sent: Sent[]) {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const instances = await instancesOf(workflowId);
    const events = await eventsOf(triggerId);
    const existing = new Set(instances.map((i) => i.id));
    const members = events.filter((e) => e.outcome === "batched" || e.outcome === "debounced");
    const allNamed = sent.every((s) => members.some((e) => e.sourceId === s.id && e.instanceIds.every((id: string) => existing.has(id))));
    const startedRows = new Set(events.filter((e) => groupRow(e) && e.outcome === "started").flatMap((e) => e.instanceIds));
    const allLogged = instances.every((i) => startedRows.has(i.id));
    if ((allNamed && allLogged) || Date.now() > deadline) return { instances, events, members };
    await new Promise((r) => setTimeout(r, 200));
  }
}

it.each(seeds)("batches and debounces every event exactly once under duplicates, re-ordering, dying gates and restarts (seed %i)", async (seed) => {
  console.log(`gather faults: seed=${seed}; replay: SLUICE_FAULT_SEED=${seed} npx vitest run --project faults test/faults/gather.test.ts`);
  const rng = new Rng(seed);
  const firedBefore = faultsFired();
  const keyTemplate = "${workflow.triggerMessage.headers.k}";
  const batching = await queueTriggerSetup(group, { batch: { maxEvents: 5, windowSeconds: 1, key: keyTemplate } });
  const debouncing = await queueTriggerSetup(group, { debounce: { windowSeconds: 1, maxWaitSeconds: 2, key: keyTemplate } });
  const broker = new Broker();
  const sentBatch = publishAll(rng, broker, batching.key, "b");
  const sentDebounce = publishAll(rng, broker, debouncing.key, "d");
  const faults = await deliverWithFaults(rng, broker, [batching.trigger.id, debouncing.trigger.id]);
  disarmFaults();
  const report = `seed=${seed} planned=${JSON.stringify(faults)} fired=${JSON.stringify(firedSince(firedBefore))} broker=${JSON.stringify({ ...broker.stats, deadLettered: broker.stats.deadLettered.length })}`;
  console.log(`gather faults: ${report}`);
  expect(broker.stats.deadLettered, report).toEqual([]);

  // Batch: every event in exactly one run's message, each run's events of one key, at most maxEvents.
  const b = await settled(batching.wf.id, batching.trigger.id, sentBatch);
  const messages = await Promise.all(b.instances.map(async (i) => ({ id: i.id, message: await triggerMessageOf(i.id) })));
  const seen = new Map<string, string[]>();
  for (const { id, message } of messages) {
    expect(message.events.length, report).toBeLessThanOrEqual(5);
    expect(message.batch.count, report).toBe(message.events.length);
    expect(Date.parse(message.batch.firstReceivedAt), report).toBeLessThanOrEqual(Date.parse(message.batch.lastReceivedAt));
    for (const e of message.events) {
      expect(e.headers.k, `run ${id} mixes keys; ${report}`).toBe(message.batch.key);
      seen.set(e.id, [...(seen.get(e.id) ?? []), id]);
    }
  }
  const lost = sentBatch.filter((s) => !seen.has(s.id)).map((s) => s.id);
  const twice = [...seen].filter(([, runs]) => runs.length > 1).map(([id]) => id);
  expect(lost, `batched events in no run; ${report}`).toEqual([]);
  expect(twice, `batched events in two runs; ${report}`).toEqual([]);
  expect(seen.size, report).toBe(sentBatch.length);
  // Each event's log row names the run that holds it.
  for (const s of sentBatch) {
    const row = b.members.find((e) => e.sourceId === s.id);
    expect(row?.instanceIds, `event ${s.id}'s log row; ${report}`).toEqual(seen.get(s.id));
  }

  // Debounce: every event logged as debounced, naming a run that exists; every run named by its events; one run per group.
  const d = await settled(debouncing.wf.id, debouncing.trigger.id, sentDebounce);
  const runs = new Set(d.instances.map((i) => i.id));
  const membersByRun = new Map<string, Sent[]>();
  for (const s of sentDebounce) {
    const row = d.members.find((e) => e.sourceId === s.id);
    expect(row, `debounced event ${s.id} not logged; ${report}`).toBeDefined();
    expect(row!.instanceIds, report).toHaveLength(1);
    const run = row!.instanceIds[0] as string;
    expect(runs.has(run), `event ${s.id} names ${run}, which never started; ${report}`).toBe(true);
    membersByRun.set(run, [...(membersByRun.get(run) ?? []), s]);
  }
  expect([...runs].filter((r) => !membersByRun.has(r)), `debounced runs no event joined; ${report}`).toEqual([]);
  for (const [run, members] of membersByRun) {
    expect(new Set(members.map((m) => m.key)).size, `run ${run} mixes keys; ${report}`).toBe(1);
    const message = await triggerMessageOf(run);
    expect(members.map((m) => m.id), `run ${run}'s message is not one of its events; ${report}`).toContain(message.id);
  }
  // The groups' own rows: one started row per run, naming that run.
  const groupRows = [...b.events, ...d.events].filter((e) => groupRow(e) && e.outcome === "started");
  expect(groupRows.flatMap((e) => e.instanceIds).sort(), report).toEqual([...b.instances, ...d.instances].map((i) => i.id).sort());
}, 120_000);
