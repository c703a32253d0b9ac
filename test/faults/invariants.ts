// What the fault suite checks: maxParallel and ordering keys (sampled live and swept over history), then loss,
// duplicates, stuck instances, the D1 mirror and the event log, from the coordinators' own SQLite.
import { env, runInDurableObject } from "cloudflare:test";
import type { WebhookAnswer } from "./webhooks.ts";
import { tagIn, type RunRequest, type World, type WorkflowUnderTest } from "./world.ts";

const FINAL = new Set(["succeeded", "failed", "terminated"]);
const FINAL_NODE = new Set(["succeeded", "failed", "skipped", "terminated"]);

export interface InstanceRow {
  id: string;
  /** Arrival order at the coordinator. */
  seq: number;
  status: string;
  ordering_key: string | null;
  started_at: number | null;
  finished_at: number | null;
  trigger_message: string;
}

export interface NodeRunRow {
  id: string;
  instance_id: string;
  node_name: string;
  status: string;
  current: number;
  error: string | null;
  started_at: number | null;
  finished_at: number | null;
}

/** Why a node run may fail in this suite: each is injected on purpose, on the nodes it is injected on. */
const EXPLAINED_FAILURES: [RegExp, (node: string) => boolean][] = [
  [/^exit code 1$/, () => true],
  [/^lost: /, () => true],
  // A runner that says its node timed out, the coordinator giving up on a hung one, an http node's deadline.
  [/^timed out/, (node) => node === "wait" || node === "right"],
  [/^HTTP 500$/, (node) => node === "right"],
];

const coordinator = (id: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(id));
const pool = (group: string) => env.POOL.get(env.POOL.idFromName(group));

/** The coordinator's live state: the ground truth every other view is compared with. */
export function readCoordinator(wf: WorkflowUnderTest) {
  return runInDurableObject(coordinator(wf.id), (_, state) => ({
    instances: state.storage.sql.exec<InstanceRow & Record<string, SqlStorageValue>>(
      `SELECT id, seq, status, ordering_key, started_at, finished_at, trigger_message FROM instances`,
    ).toArray() as InstanceRow[],
    nodeRuns: state.storage.sql
      .exec<NodeRunRow & Record<string, SqlStorageValue>>(`SELECT id, instance_id, node_name, status, current, error, started_at, finished_at FROM node_runs`)
      .toArray() as NodeRunRow[],
    outbox: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox`).one().n,
  }));
}

/** Instances running right now, by workflow and by ordering key, against their limits; returns what it saw exceeded. */
export async function sampleLimits(world: World): Promise<string[]> {
  const seen: string[] = [];
  await Promise.all(
    world.workflows
      .filter((wf) => wf.maxParallel !== null || wf.ordered)
      .map(async (wf) => {
        const { running, keys } = await runInDurableObject(coordinator(wf.id), (_, state) => ({
          running: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM instances WHERE status = 'running'`).one().n,
          keys: state.storage.sql
            .exec<{ k: string; n: number }>(
              `SELECT ordering_key AS k, COUNT(*) AS n FROM instances WHERE status = 'running' AND ordering_key IS NOT NULL GROUP BY ordering_key HAVING COUNT(*) > 1`,
            )
            .toArray(),
        }));
        if (wf.maxParallel !== null && running > wf.maxParallel) seen.push(`${wf.name}: ${running} running, maxParallel ${wf.maxParallel}`);
        for (const { k, n } of keys) seen.push(`${wf.name}: ${n} running with ordering key ${k}`);
      }),
  );
  return seen;
}

/** How often the number of overlapping [started, finished) intervals rose above `limit`. */
export function overlapsAbove(intervals: InstanceRow[], limit: number): number {
  const points: [number, number][] = [];
  for (const i of intervals) {
    if (i.started_at === null) continue;
    points.push([i.started_at, 1]);
    if (i.finished_at !== null) points.push([i.finished_at, -1]);
  }
  // A finish and a start at the same instant: the finish frees the slot first (the same transaction admits the next).
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let over = 0;
  for (const [, step] of points) {
    running += step;
    if (step > 0 && running > limit) over++;
  }
  return over;
}

export interface Verdict {
  runs: number;
  instances: number;
  lost: number;
  duplicates: number;
  stuck: number;
  overLimit: number;
  mirrorMismatches: number;
  verdictMismatches: number;
  unexplainedFailures: number;
  /** Nodes failed by a lost attempt while infrastructure retries remained (the machine's fault, not the script's). */
  failedByLostAttempt: number;
  leftovers: number;
  outcomes: Record<string, number>;
  problems: string[];
}

/** Every request started exactly one instance per workflow, everything finished, and every view agrees with the coordinators. */
export async function judge(
  world: World,
  requests: RunRequest[],
  apiAnswers: Map<string, (string | null)[]>,
  webhookAnswers: Map<string, WebhookAnswer[]>,
  sampled: string[],
): Promise<Verdict> {
  const problems: string[] = [...sampled.slice(0, 5)];
  const note = (p: string) => problems.length < 40 && problems.push(p);
  const v: Verdict = {
    runs: 0, instances: 0, lost: 0, duplicates: 0, stuck: 0, overLimit: sampled.length,
    mirrorMismatches: 0, verdictMismatches: 0, unexplainedFailures: 0, failedByLostAttempt: 0, leftovers: 0, outcomes: {}, problems,
  };
  const byTag = new Map<string, string[]>();
  const wanted = new Map<string, RunRequest>(requests.map((r) => [r.tag, r]));
  for (const wf of world.workflows) {
    const live = await readCoordinator(wf);
    v.instances += live.instances.length;
    v.leftovers += live.outbox;
    if (live.outbox > 0) note(`${wf.name}: ${live.outbox} outbox effects never delivered`);
    const found = new Map<string, string[]>();
    for (const i of live.instances) {
      const tag = tagIn(i.trigger_message);
      if (!tag || !wanted.has(tag) || !world.sources[wanted.get(tag)!.source].workflows.includes(wf)) {
        v.duplicates++;
        note(`${wf.name}: instance ${i.id} answers no request (${i.trigger_message.slice(0, 80)})`);
        continue;
      }
      found.set(tag, [...(found.get(tag) ?? []), i.id]);
      byTag.set(tag, [...(byTag.get(tag) ?? []), i.id]);
      v.outcomes[i.status] = (v.outcomes[i.status] ?? 0) + 1;
      if (!FINAL.has(i.status)) {
        v.stuck++;
        note(`${wf.name}: instance ${i.id} (${tag}) still ${i.status}`);
      }
    }
    for (const r of requests.filter((r) => world.sources[r.source].workflows.includes(wf))) {
      v.runs++;
      const n = found.get(r.tag)?.length ?? 0;
      // A client told only "5xx" may or may not have a run: both are right, two are not.
      const unanswered =
        r.source === "webhook"
          ? (webhookAnswers.get(r.tag) ?? []).every((a) => a.status >= 500)
          : (apiAnswers.get(r.tag) ?? []).length > 0 && apiAnswers.get(r.tag)!.every((a) => a === null);
      if (n === 0 && !unanswered) note(`${wf.name}: request ${r.tag} (${r.source}, ${r.copies} copies) started nothing`);
      if (n > 1) note(`${wf.name}: request ${r.tag} started ${n} instances`);
      v.lost += n === 0 && !unanswered ? 1 : 0;
      v.duplicates += Math.max(0, n - 1);
    }
    for (const run of live.nodeRuns) {
      const instance = live.instances.find((i) => i.id === run.instance_id);
      if (run.current === 1 && instance && FINAL.has(instance.status) && !FINAL_NODE.has(run.status)) {
        v.stuck++;
        note(`${wf.name}: node run ${run.id} still ${run.status} in a ${instance.status} instance`);
      }
      // A lost attempt is always the machine's: retried as infrastructure (announced), or failed once those are used.
      const lostError = /^lost: /.test(run.error ?? "") ? run.error! : null;
      const retriedAsInfrastructure = lostError !== null && / \(infrastructure retry \d+ of \d+ follows\)$/.test(lostError);
      const retriesUsed = lostError !== null && / \(all \d+ infrastructure retries used\)$/.test(lostError);
      if (lostError !== null && (!(retriedAsInfrastructure || retriesUsed) || (retriedAsInfrastructure && run.current === 1))) {
        v.failedByLostAttempt++;
        note(`${wf.name}: node run ${run.id} (current=${run.current}) lost without its infrastructure retry: ${lostError}`);
      }

      if (run.status === "failed" && !EXPLAINED_FAILURES.some(([error, on]) => error.test(run.error ?? "") && on(run.node_name))) {

        v.unexplainedFailures++;
        note(`${wf.name}: node run ${run.id} failed for no injected reason: ${run.error}`);
      }
    }
    if (wf.maxParallel !== null) {
      const over = overlapsAbove(live.instances, wf.maxParallel);
      v.overLimit += over;
      if (over > 0) note(`${wf.name}: history shows ${over} moments above maxParallel ${wf.maxParallel}`);
    }
    if (wf.ordered) {
      const keys = new Map<string, InstanceRow[]>();
      for (const i of live.instances) if (i.ordering_key !== null) keys.set(i.ordering_key, [...(keys.get(i.ordering_key) ?? []), i]);
      for (const [key, rows] of keys) {
        const over = overlapsAbove(rows, 1);
        v.overLimit += over;
        if (over > 0) note(`${wf.name}: ordering key ${key} had ${over} moments with two instances running`);
      }
    }
    v.mirrorMismatches += await compareMirror(wf, live.instances, live.nodeRuns, note);
  }
  for (const group of world.groups) {
    const left = await runInDurableObject(pool(group), (_, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks`).one().n);
    v.leftovers += left;
    if (left > 0) note(`pool ${group}: ${left} tasks left`);
  }
  const log = await compareEventLog(world, requests, byTag, note);
  for (const r of requests.filter((r) => r.source === "webhook")) {
    const expected = JSON.stringify([...(byTag.get(r.tag) ?? [])].sort());
    const wrong = (webhookAnswers.get(r.tag) ?? []).filter((a) => a.status < 500 && (a.status >= 300 || JSON.stringify([...a.instanceIds].sort()) !== expected));
    if (wrong.length > 0) {
      v.verdictMismatches++;
      note(`webhook ${r.tag}: answers ${wrong.map((a) => `${a.status} ${a.outcome} ${a.instanceIds.join(",")}`).join("; ")} for instances ${expected}`);
    }
  }
  v.verdictMismatches += log.mismatches;
  v.lost += log.unlogged;
  for (const r of requests.filter((r) => r.source === "api")) {
    const answers = apiAnswers.get(r.tag) ?? [];
    const ids = byTag.get(r.tag) ?? [];
    if (answers.length !== r.copies || answers.some((a) => a !== null && a !== ids[0])) {
      v.verdictMismatches++;
      note(`API request ${r.tag}: answers ${answers.join(",")} for instances ${ids.join(",")}`);
    }
  }
  return v;
}

/** D1's instances and node runs must equal the coordinator's: same rows, same states. */
async function compareMirror(wf: WorkflowUnderTest, instances: InstanceRow[], runs: NodeRunRow[], note: (p: string) => void): Promise<number> {
  const d1Instances = (await env.DB.prepare(`SELECT id, status FROM instances WHERE workflow_id = ?`).bind(wf.id).all<{ id: string; status: string }>()).results;
  const d1Runs = (
    await env.DB.prepare(`SELECT r.id, r.status FROM node_runs r JOIN instances i ON i.id = r.instance_id WHERE i.workflow_id = ?`).bind(wf.id).all<{ id: string; status: string }>()
  ).results;
  let mismatches = 0;
  const compare = (what: string, live: { id: string; status: string }[], mirror: { id: string; status: string }[]) => {
    const mirrored = new Map(mirror.map((r) => [r.id, r.status]));
    for (const row of live) {
      if (mirrored.get(row.id) === row.status) continue;
      mismatches++;
      note(`${wf.name}: D1 has ${what} ${row.id} as ${mirrored.get(row.id) ?? "missing"}, the coordinator as ${row.status}`);
    }
    const known = new Set(live.map((r) => r.id));
    for (const row of mirror.filter((r) => !known.has(r.id))) {
      mismatches++;
      note(`${wf.name}: D1 has ${what} ${row.id} that the coordinator does not`);
    }
  };
  compare("instance", instances, d1Instances);
  compare("node run", runs, d1Runs);
  return mismatches;
}

/**
 * Each delivered event has its rows in the trigger's event log: exactly one `started` naming the
 * instances it started (a re-sent R2 notification adds `duplicate` rows naming the same ones).
 * An event with no row at all was lost by the consumer.
 */
async function compareEventLog(world: World, requests: RunRequest[], byTag: Map<string, string[]>, note: (p: string) => void) {
  const triggerIds = Object.values(world.sources).flatMap((s) => (s.triggerId ? [s.triggerId] : []));
  const rows = (
    await env.DB.prepare(`SELECT trigger_id, source_id, outcome, instance_ids FROM trigger_events WHERE trigger_id IN (${triggerIds.map(() => "?").join(",")})`)
      .bind(...triggerIds)
      .all<{ trigger_id: string; source_id: string; outcome: string; instance_ids: string }>()
  ).results;
  const logged = new Map<string, typeof rows>();
  for (const row of rows) {
    const tag = tagIn(row.source_id);
    if (tag) logged.set(tag, [...(logged.get(tag) ?? []), row]);
  }
  let mismatches = 0;
  let unlogged = 0;
  for (const r of requests.filter((r) => r.source !== "api")) {
    const own = world.sources[r.source].triggerId;
    // A webhook the sender gave up on may have no row: its every answer was a 5xx.
    if (r.source === "webhook" && (logged.get(r.tag) ?? []).length === 0 && byTag.get(r.tag) === undefined) continue;
    const events = (logged.get(r.tag) ?? []).filter((e) => e.trigger_id === own);
    // The other queue trigger hears the message too and logs that its key does not match.
    const others = (logged.get(r.tag) ?? []).filter((e) => e.trigger_id !== own && e.outcome !== "key_mismatch");
    if (events.length === 0) {
      unlogged++;
      note(`event ${r.tag} (${r.source}) is not in its trigger's event log`);
      continue;
    }
    const expected = JSON.stringify([...(byTag.get(r.tag) ?? [])].sort());
    const started = events.filter((e) => e.outcome === "started").length;
    const wrong = events.filter((e) => !["started", "duplicate"].includes(e.outcome) || JSON.stringify((JSON.parse(e.instance_ids) as string[]).sort()) !== expected);
    // A webhook delivery gets a fresh row each time; one answered 5xx after its runs committed leaves the
    // row to its retry, which finds them as duplicates. A queue redelivery updates its message's row.
    const startedOk = r.source === "webhook" ? started <= 1 : started === 1;
    if (!startedOk || wrong.length > 0 || others.length > 0) {
      mismatches++;
      note(`event ${r.tag}: log rows ${[...events, ...others].map((e) => `${e.outcome} ${e.instance_ids}`).join("; ")}, instances ${expected}`);
    }
  }
  return { mismatches, unlogged };
}
