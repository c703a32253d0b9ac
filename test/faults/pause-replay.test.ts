// Pause, resume and replay under faults: duplicate and re-ordered deliveries while paused, resumes raced by a second
// resume, by the cron's continuation, by late redeliveries and by Durable Object evictions, and concurrent replays.
// Every kept event starts exactly once per workflow, in arrival order per ordering key; each replay starts exactly one run.
import { createScheduledController, env, evictAllDurableObjects } from "cloudflare:test";
import { expect, it } from "vitest";
import worker from "../../worker/index.ts";
import { unpauseTrigger } from "../../worker/db/kept-events.ts";
import { continueResume } from "../../worker/ingest/resume.ts";
import { api, createWorkflow, FakeRunner, mirrored, runnerToken, shellNode } from "../workers/helpers.ts";
import { createTrigger, publish } from "../workers/trigger-helpers.ts";
import { Broker, type Pending } from "./broker.ts";
import { Rng } from "./rng.ts";

const QUEUE = "user-behavior";
/** More than one resume request decides (200), so the rest goes to its background continuation and the cron. */
const EVENTS = 230;
const USERS = ["u1", "u2", "u3"];
/** A fixed seed every time, then one random seed, printed for replay. */
const seeds = env.SLUICE_FAULT_SEED ? [Number(env.SLUICE_FAULT_SEED)] : [20261206, Math.floor(Math.random() * 2 ** 31)];

async function world(tag: string) {
  const group = `pr${tag}`;
  const key = `pause-${tag}`;
  const trigger = await createTrigger({ name: `pause-${tag}`, type: "queue", config: { queue: QUEUE, key }, ordering: { key: "${workflow.triggerMessage.headers.user}" } });
  const workflows: string[] = [];
  for (const name of ["first", "second"]) {
    const wf = await createWorkflow({ name: `${name}_${tag}`, policy: { triggerId: trigger.id, resourceGroup: group }, nodes: [shellNode("work", 'echo "event ${workflow.triggerMessage.id}"')] });
    await publish(wf.id);
    workflows.push(wf.id);
  }
  return { group, key, triggerId: trigger.id, workflows };
}

/** Every item of a paged list, following its cursor. */
async function allPages(path: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; json: any; text: string } = await api("GET", `${path}${path.includes("?") ? "&" : "?"}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(res.status, res.text).toBe(200);
    items.push(...res.json.items);
    cursor = res.json.nextCursor;
  } while (cursor);
  return items;
}
const eventsOf = (triggerId: string) => allPages(`/api/v1/triggers/${triggerId}/events`);

/** Delivers the broker's backlog in random batches (shuffled, some failing after their runs committed) until none is left. */
async function drain(broker: Broker, rng: Rng, until = () => broker.pendingIn(QUEUE) === 0): Promise<void> {
  while (!until()) await broker.deliver(QUEUE, broker.takeBatch(rng, QUEUE, 1 + rng.int(10), rng.chance(0.2)));
}

/** Runs every instance of the group as one runner, head of each ordering line first; returns, per (workflow, user), the events in run order. */
async function runAll(token: string, expected: number, userOf: Map<string, string>): Promise<Map<string, string[]>> {
  const runner = new FakeRunner(token, 16);
  const lines = new Map<string, string[]>();
  let done = 0;
  while (done < expected) {
    const tasks = await runner.claim(16, 2_000);
    expect(tasks.length, `claimable work left (${done}/${expected} done)`).toBeGreaterThan(0);
    for (const t of tasks) {
      // The node echoes the queue message id: a resolved value the runner is handed with the task.
      const eventId = (t.values as string[]).find((v) => v.startsWith("msg-"))!;
      const line = `${t.workflowId}/${userOf.get(eventId)}`;
      lines.set(line, [...(lines.get(line) ?? []), eventId]);
      expect((await runner.complete(t.attemptId, 0)).status).toBe(200);
      done++;
    }
  }
  return lines;
}

it.each(seeds)("starts every kept event once per workflow, in arrival order, and each replay once, under raced resumes, redeliveries and evictions (seed %i)", async (seed) => {
  console.log(`pause-replay: seed=${seed}; replay: SLUICE_FAULT_SEED=${seed} npx vitest run --project faults test/faults/pause-replay.test.ts`);
  const rng = new Rng(seed);
  const tag = crypto.randomUUID().slice(0, 8);
  const w = await world(tag);
  const broker = new Broker();
  expect((await api("POST", `/api/v1/triggers/${w.triggerId}/pause`)).status).toBe(200);

  // Distinct arrival times in sending order; 1-3 copies each, landing anywhere in the backlog.
  const t0 = Date.now() - 60_000;
  const userOf = new Map<string, string>();
  const arrival: string[] = [];
  const late: Pending[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const id = `msg-${tag}-${i}`;
    const user = rng.pick(USERS);
    userOf.set(id, user);
    arrival.push(id);
    const copy: Pending = { id, body: { key: w.key, value: `v${i}`, headers: { user } }, timestamp: new Date(t0 + i * 10), attempts: 1 };
    broker.publish(rng, QUEUE, Array.from({ length: 1 + rng.weighted([[0, 6], [1, 3], [2, 1]] as const) }, () => copy));
    if (rng.chance(0.25)) late.push(copy); // redelivered while the resume runs
  }
  await drain(broker, rng);
  const kept = await eventsOf(w.triggerId);
  expect(kept.map((e) => e.outcome)).toEqual(arrival.map(() => "paused"));

  // The resume request's first step, taken here so that every contender below starts deciding at once.
  await unpauseTrigger(env.DB, "default", w.triggerId, Date.now());
  // The resume request, a second resume, small-budget continuations (as the request's background and the cron),
  // late redeliveries of kept events and evictions of every coordinator, all at once.
  const cron = () => worker.scheduled!(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), env);
  const stats = { resumeAnswers: [] as string[], continued: 0, continuedDecided: 0, continuationErrors: 0, crons: 0, evictions: 0, late: late.length };
  const resume = async () => {
    const res = await api("POST", `/api/v1/triggers/${w.triggerId}/resume`);
    stats.resumeAnswers.push(res.status === 200 ? `200 resumed=${res.json.resumed} remaining=${res.json.remaining}` : `${res.status}`);
  };
  const contenders: Promise<unknown>[] = [
    resume(),
    resume(),
    ...[7, 13].map(async (size) => {
      for (let i = 0; i < 8; i++) {
        await continueResume(env, w.triggerId, { maxEvents: size, maxMs: 5_000 }).then(
          (p) => {
            stats.continued += p.resumed;
            stats.continuedDecided += p.decided;
          },
          () => stats.continuationErrors++,
        );
        await new Promise((r) => setTimeout(r, rng.int(10)));
      }
    }),
    (async () => {
      for (let i = 0; i < 3; i++) {
        await cron().catch(() => {});
        stats.crons++;
      }
    })(),
    (async () => {
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, rng.int(40)));
        await evictAllDurableObjects();
        stats.evictions++;
      }
    })(),
    (async () => {
      for (const copy of late) broker.publish(rng, QUEUE, [{ ...copy, attempts: 2 }]);
      await drain(broker, rng);
    })(),
  ];
  await Promise.all(contenders);
  console.log(`pause-replay: ${JSON.stringify(stats)} broker=${JSON.stringify({ ...broker.stats, deadLettered: broker.stats.deadLettered.length })}`);
  // Whatever an eviction cut short, the cron finishes.
  for (let i = 0; i < 10 && (await eventsOf(w.triggerId)).some((e) => e.outcome === "paused"); i++) await cron();

  const events = await eventsOf(w.triggerId);
  expect(events).toHaveLength(EVENTS);
  const runsOf = new Map<string, string[]>();
  for (const e of events) {
    expect(e, `event ${e.sourceId}`).toMatchObject({ outcome: "started" });
    runsOf.set(e.sourceId, e.instanceIds);
  }
  const instances = (await Promise.all(w.workflows.map(async (id) => (await mirrored(id), allPages(`/api/v1/instances?workflowId=${id}`))))).flat();
  expect(instances, "one instance per (event, workflow)").toHaveLength(EVENTS * w.workflows.length);
  for (const [sourceId, ids] of runsOf) {
    expect(ids, `event ${sourceId} names one run per workflow`).toHaveLength(w.workflows.length);
    expect(new Set(ids.map((id) => id.split(".")[1])), `event ${sourceId}`).toEqual(new Set(w.workflows));
  }
  expect(new Set([...runsOf.values()].flat())).toEqual(new Set(instances.map((i) => i.id)));

  // Run order per ordering line is arrival order.
  const token = await runnerToken(w.group);
  const lines = await runAll(token, EVENTS * w.workflows.length, userOf);
  for (const wf of w.workflows) {
    for (const user of USERS) {
      expect(lines.get(`${wf}/${user}`) ?? [], `line ${wf}/${user}`).toEqual(arrival.filter((id) => userOf.get(id) === user));
    }
  }

  // Concurrent replays: each request its own number and exactly one run per workflow.
  const replayed = arrival.slice(0, 3).map((sourceId) => events.find((e) => e.sourceId === sourceId)!);
  const answers = await Promise.all(replayed.flatMap((e) => Array.from({ length: 4 }, () => api("POST", `/api/v1/triggers/${w.triggerId}/events/${e.id}/replay`))));
  for (const a of answers) expect(a.status, a.text).toBe(201);
  expect(new Set(answers.map((a) => a.json.id)).size).toBe(answers.length);
  const replayRuns = answers.flatMap((a) => a.json.instanceIds as string[]);
  expect(new Set(replayRuns).size, "each replay its own runs").toBe(answers.length * w.workflows.length);
  const after = await eventsOf(w.triggerId);
  for (const e of replayed) {
    expect(after.filter((x) => x.replayOf === e.id).map((x) => x.dedupKey).sort()).toEqual([1, 2, 3, 4].map((n) => `replay:${e.id}:${n}`).sort());
  }
  const replayLines = await runAll(token, replayRuns.length, new Map(replayed.map((e) => [e.sourceId, userOf.get(e.sourceId)!])));
  expect([...replayLines.values()].flat()).toHaveLength(replayRuns.length);
});
