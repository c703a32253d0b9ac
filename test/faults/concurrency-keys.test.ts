// Concurrency keys under faults (npm run test:faults): many instances over a handful of keys with a small limit, under
// duplicate deliveries, coordinators dying after commit, evictions, terminations, failures and abandoned leases. Per key
// no more than `limit` instances ever hold a place (nor have a live process at a runner), and every instance ends.
import { env, evictAllDurableObjects, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, expect, it } from "vitest";
import { armFault, disarmFaults } from "../../worker/faults.ts";
import { api, FakeRunner, isolatedGroup, shellNode } from "../workers/helpers.ts";
import { Rng } from "./rng.ts";

const scope = isolatedGroup();
const LIMIT = 2;
const KEYS = ["k0", "k1", "k2", "k3"];
/** LEASE_SECONDS is 2 in the faults project's bindings. */
const LEASE_MS = 2_000;
/** The CI size: a recorded run sets SLUICE_FAULT_RUNS. */
const RUNS = Math.min(Number(env.SLUICE_FAULT_RUNS || 80), 2_000);
const seed = env.SLUICE_FAULT_SEED ? Number(env.SLUICE_FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
const FINAL = new Set(["succeeded", "failed", "terminated", "skipped"]);

const coordinator = (id: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(id));

afterEach(() => disarmFaults());

/** Places held per key in the coordinator's own SQLite: instances running, or stopped with a process still exiting. */
async function placesByKey(workflowId: string): Promise<{ k: string; n: number }[]> {
  return runInDurableObject(coordinator(workflowId), (_, state) =>
    state.storage.sql
      .exec<{ k: string; n: number }>(
        `SELECT concurrency_key AS k, COUNT(*) AS n FROM instances i WHERE concurrency_key IS NOT NULL
           AND (status = 'running' OR EXISTS (SELECT 1 FROM node_runs r WHERE r.instance_id = i.id AND r.exiting = 1))
         GROUP BY concurrency_key`,
      )
      .toArray(),
  ).catch(() => []); // an object being evicted fails the read: the next sample reads it again
}

/** An attempt a runner holds: its process lives until the runner completes it, or (abandoned) until its lease ran out. */
interface Held {
  runner: FakeRunner;
  attemptId: string;
  instanceId: string;
  abandonedAt: number | null;
}

it(`never lets more than limit instances of a key hold a place, and ends every instance, under faults (${RUNS} runs, seed ${seed})`, async () => {
  console.log(`concurrency-keys: seed=${seed}; replay: SLUICE_FAULT_SEED=${seed} npx vitest run --project faults test/faults/concurrency-keys.test.ts`);
  const rng = new Rng(seed);
  // queue waits its turn; replace terminates a running instance of the key, whose process still holds the place until
  // gone; latest skips the older waiting one, and what waits longer than a lease period is skipped.
  const workflows = await Promise.all(
    (["queue", "replace", "latest"] as const).map((overlap) =>
      scope.createWorkflow({
        name: `keys-${overlap}-${crypto.randomUUID().slice(0, 6)}`,
        policy: {
          concurrency: { key: "${workflow.triggerMessage.user}", limit: LIMIT },
          overlap,
          waitingTimeoutSeconds: overlap === "latest" ? LEASE_MS / 1000 : null,
        },
        nodes: [shellNode("work", "true", { retry: { count: 1 } }), shellNode("after", "true")],
        edges: [{ from: "work", to: "after" }],
      }),
    ),
  );
  const runners = [await scope.newRunner(), await scope.newRunner()];
  const keyOf = new Map<string, string>();
  const answers = new Map<string, Set<string>>();
  const held = new Map<string, Held>();
  const violations: string[] = [];

  /** Instances per key with a live process at a runner: never more than the limit (the limit counts real processes). */
  const checkRunners = (when: string) => {
    const now = Date.now();
    const alive = new Map<string, Set<string>>();
    for (const h of held.values()) {
      if (h.abandonedAt !== null && now > h.abandonedAt + LEASE_MS) continue; // the runner killed what it could not renew
      const key = keyOf.get(h.instanceId)!;
      alive.set(key, (alive.get(key) ?? new Set()).add(h.instanceId));
    }
    for (const [key, ids] of alive) if (ids.size > LIMIT) violations.push(`${when}: ${ids.size} instances of ${key} have live processes`);
  };

  /** A run request, sent once or twice at once with one Idempotency-Key (a duplicate delivery), retried on a 5xx. */
  const start = async (n: number) => {
    const wf = rng.pick(workflows);
    const user = `${wf.id}:${rng.pick(KEYS)}`;
    const tag = `run-${seed}-${n}`;
    const copies = rng.chance(0.3) ? 2 : 1;
    const send = async () => {
      for (let attempt = 0; ; attempt++) {
        const res = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev", triggerMessage: { user } }, undefined, { "idempotency-key": tag });
        if (res.status === 200 || res.status === 201) return res.json.id as string;
        if (res.status < 500 || attempt >= 8) throw new Error(`run ${tag}: ${res.status} ${res.text}`);
        await new Promise((r) => setTimeout(r, 30 * (attempt + 1)));
      }
    };
    const ids = await Promise.all(Array.from({ length: copies }, send));
    answers.set(tag, new Set(ids));
    for (const id of ids) keyOf.set(id, user);
  };

  /** Each runner heartbeats what it holds (killing what it is told to), then finishes, keeps or abandons some, and claims more. */
  const work = async (faulty: boolean) => {
    for (const runner of runners) {
      const mine = [...held.values()].filter((h) => h.runner === runner && h.abandonedAt === null);
      if (mine.length > 0) {
        const { json } = await runner.heartbeat(mine.map((h) => h.attemptId));
        for (const attemptId of (json?.cancel ?? []) as string[]) {
          await runner.complete(attemptId, null, {}, "killed: cancelled by the server");
          held.delete(attemptId);
        }
      }
      for (const h of mine) {
        if (!held.has(h.attemptId)) continue;
        const roll = rng.next();
        if (faulty && roll < 0.05) h.abandonedAt = Date.now();
        else if (roll < 0.75) {
          await runner.complete(h.attemptId, faulty && rng.chance(0.2) ? 1 : 0);
          held.delete(h.attemptId);
        }
      }
      const tasks = await runner.claim(1 + rng.int(4)).catch(() => []);
      for (const t of tasks) held.set(t.attemptId, { runner, attemptId: t.attemptId, instanceId: t.instanceId, abandonedAt: null });
      checkRunners("after a claim");
    }
    for (const [id, h] of held) if (h.abandonedAt !== null && Date.now() > h.abandonedAt + 3 * LEASE_MS) held.delete(id);
  };

  let peak = 0;
  const sample = async () => {
    for (const wf of workflows) {
      for (const { k, n } of await placesByKey(wf.id)) {
        peak = Math.max(peak, n);
        if (n > LIMIT) violations.push(`${n} instances hold a place of key ${k}`);
      }
    }
  };

  let sent = 0;
  while (sent < RUNS) {
    const burst = Math.min(RUNS - sent, 1 + rng.int(6));
    if (rng.chance(0.15)) armFault("coordinator.afterCommit", 1);
    await Promise.all(Array.from({ length: burst }, (_, i) => start(sent + i)));
    sent += burst;
    disarmFaults("coordinator.afterCommit");
    await sample();
    if (rng.chance(0.1)) await evictAllDurableObjects();
    else if (rng.chance(0.15)) await evictDurableObject(coordinator(rng.pick(workflows).id)).catch(() => undefined);
    if (rng.chance(0.15) && keyOf.size > 0) await api("POST", `/api/v1/instances/${rng.pick([...keyOf.keys()])}/terminate`);
    await work(true);
    await sample();
  }

  // Drain without faults: every instance ends (abandoned leases run out, their attempts are retried or fail).
  const ids = [...keyOf.keys()];
  const deadline = Date.now() + 40_000;
  let open = ids.length;
  while (Date.now() < deadline) {
    await work(false);
    await sample();
    const statuses = await Promise.all(
      workflows.map((wf) =>
        runInDurableObject(coordinator(wf.id), (_, state) => state.storage.sql.exec<{ id: string; status: string }>(`SELECT id, status FROM instances`).toArray()),
      ),
    );
    const byId = new Map(statuses.flat().map((r) => [r.id, r.status]));
    open = ids.filter((id) => !FINAL.has(byId.get(id) ?? "missing")).length;
    if (open === 0 && held.size === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  const finals = await Promise.all(
    workflows.map((wf) =>
      runInDurableObject(coordinator(wf.id), (_, state) => state.storage.sql.exec<{ status: string; n: number }>(`SELECT status, COUNT(*) AS n FROM instances GROUP BY status`).toArray()),
    ),
  );
  const outcomes = finals.flat().reduce<Record<string, number>>((acc, { status, n }) => ({ ...acc, [status]: (acc[status] ?? 0) + n }), {});
  const report = `seed=${seed} runs=${RUNS} instances=${ids.length} open=${open} violations=${violations.length} peak=${peak} ${JSON.stringify(outcomes)}`;
  console.log(`concurrency-keys: ${report}`);
  expect(violations, report).toEqual([]);
  // The keys were under pressure: some sample saw a key at its limit.
  expect(peak, report).toBe(LIMIT);
  // A duplicate delivery answers with the instance the first one started: one instance per request.
  for (const [tag, started] of answers) expect(started.size, `${tag}: ${[...started].join(", ")}`).toBe(1);
  expect(ids.length, report).toBe(RUNS);
  expect(open, `instances not finished; ${report}`).toBe(0);
});
