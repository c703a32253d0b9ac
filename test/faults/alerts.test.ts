// Alerts under faults (faults project: the hooks are live): failing runs whose alert receiver fails now and then, with
// coordinators dying after commits, after sends and between rounds. Every alert that should fire is delivered at least
// once, and every attempt the log counts is one the receiver saw.
import { abortAllDurableObjects, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { armFault, disarmFaults, faultsFired } from "../../worker/faults.ts";
import { api, instance, isolatedGroup, mirrored, startRun } from "../workers/helpers.ts";
import { fakeHttpTarget } from "../workers/http-target.ts";
import { eventually, publish, unique } from "../workers/trigger-helpers.ts";
import { Rng } from "./rng.ts";

const scope = isolatedGroup();
const NODE_HOST = "faulty-node.sluice.test";
const ALERT_HOST = "faulty-receiver.sluice.test";
const WORKFLOWS = 3;
const ROUNDS = 4;
/** Seeds run every time, then one random seed (printed in the test's name for replay with SLUICE_FAULT_SEED). */
const FIXED_SEEDS = [1, 20261206, 1971497738];
const seeds = env.SLUICE_FAULT_SEED ? [Number(env.SLUICE_FAULT_SEED)] : [...FIXED_SEEDS, Math.floor(Math.random() * 2 ** 31)];

afterEach(() => disarmFaults());

/** The http nodes wait at a gate the test opens: then every one of them answers 500 (the instance fails). */
let gate: { open: () => void; opened: Promise<void> } = newGate();
let nodeRequests = 0;
function newGate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}
fakeHttpTarget(NODE_HOST, async () => {
  nodeRequests++;
  await gate.opened;
  return new Response("node failed", { status: 500 });
});

/**
 * The receiver fails the first 0–2 tries of each delivery (a 500, or no answer at all), by its webhook-id so it
 * does not depend on timing; then it answers 200. It records what it answered to each try.
 */
const answers = new Map<string, number[]>();
/** Deliveries of earlier seeds' workflows (the receiver's record spans the file). */
const delivered = new Set<string>();
const failuresFor = (webhookId: string) => [...webhookId].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 3;
fakeHttpTarget(ALERT_HOST, async (request) => {
  const id = request.headers.get("webhook-id") ?? "none";
  const tries = answers.get(id) ?? [];
  answers.set(id, tries);
  if (tries.length < failuresFor(id)) {
    const refuse = tries.length % 2 === 0;
    tries.push(refuse ? 0 : 500);
    if (refuse) throw new Error("connection reset");
    return new Response("receiver failing", { status: 500 });
  }
  tries.push(200);
  return new Response("ok", { status: 200 });
});

const coordinatorOf = (workflowId: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));
const pendingJobs = (workflowId: string) =>
  runInDurableObject(coordinatorOf(workflowId), (_, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM alert_jobs`).one().n);

async function alertLog(workflowId: string): Promise<any[]> {
  await mirrored(workflowId);
  const res = await api("GET", `/api/v1/workflows/${workflowId}/alerts?limit=200`);
  expect(res.status).toBe(200);
  return res.json.items;
}

describe("alerts under coordinator faults", () => {
  it.each(seeds)("delivers every failure's alert at least once and logs only attempts the receiver saw (seed=%i)", async (seed) => {
    const rng = new Rng(seed);
    const firedBefore = faultsFired().alerts ?? 0;
    const workflows: string[] = [];
    for (let i = 0; i < WORKFLOWS; i++) {
      const wf = await scope.createWorkflow({
        name: unique("faulty-alerts"),
        nodes: [{ name: "call", type: "http", http: { url: `http://${NODE_HOST}/work` }, timeoutSeconds: 30 }],
        policy: { alerts: [{ on: ["failed"], url: `http://${ALERT_HOST}/hook` }] },
      });
      await publish(wf.id);
      workflows.push(wf.id);
    }

    const failed: string[] = [];
    let aborts = 0;
    for (let round = 0; round < ROUNDS; round++) {
      gate = newGate();
      nodeRequests = 0;
      const ids = await Promise.all(workflows.map((wf) => startRun(wf, { env: "prod" })));
      await eventually(async () => nodeRequests, (n) => n === ids.length);
      // The commits that fail the instances die before their alerts go out (the alarm sends them), or the
      // coordinator dies after a POST and before recording its answer (sent again): either, both or neither.
      if (rng.chance(0.5)) armFault("coordinator.afterCommit", ids.length);
      if (rng.chance(0.5)) armFault("alerts.afterSend", 1 + rng.int(3));
      gate.open();
      await eventually(() => Promise.all(ids.map((id) => instance(id))), (views) => views.every((v) => v.status === "failed"));
      failed.push(...ids);
      await new Promise((r) => setTimeout(r, rng.int(50)));
      disarmFaults();
      if (rng.chance(0.5)) {
        aborts++;
        await abortAllDurableObjects();
      }
    }

    // Time passes: each waiting delivery comes due and the alarm sends it, until none is left.
    for (let pass = 0; pass < 20; pass++) {
      const left = await Promise.all(workflows.map(pendingJobs));
      if (left.every((n) => n === 0)) break;
      for (const wf of workflows) {
        await runInDurableObject(coordinatorOf(wf), (_, state) => state.storage.sql.exec(`UPDATE alert_jobs SET next_at = 0`));
        await runDurableObjectAlarm(coordinatorOf(wf));
      }
    }
    expect(await Promise.all(workflows.map(pendingJobs)), "no delivery is left waiting").toEqual(workflows.map(() => 0));

    const logs = (await Promise.all(workflows.map(alertLog))).flat();
    // Exactly one delivery per failed instance: a resent attempt is the same delivery, never a second alert.
    expect(logs.map((d) => d.instanceId).sort()).toEqual([...failed].sort());
    // An attempt goes unlogged only when its coordinator died between the POST and the record: an injected
    // fault there, or an abort that caught a delivery in flight.
    const lostRecords = (faultsFired().alerts ?? 0) - firedBefore + aborts * WORKFLOWS;
    for (const delivery of logs) {
      const seen = answers.get(delivery.id) ?? [];
      expect(delivery, `delivery ${delivery.id}`).toMatchObject({ event: "failed", status: "delivered", responseStatus: 200 });
      expect(seen, `the receiver answered 200 to delivery ${delivery.id}`).toContain(200);
      // Every logged attempt reached the receiver.
      expect(delivery.attempts, `attempts of ${delivery.id}`).toBeLessThanOrEqual(seen.length);
      expect(seen.length - delivery.attempts).toBeLessThanOrEqual(lostRecords);
      expect(delivery.attempts, "failed tries are logged before the one that delivered").toBeGreaterThanOrEqual(failuresFor(delivery.id) + 1 - lostRecords);
    }
    // The receiver saw no delivery the log does not show.
    const ours = new Set(logs.map((d) => d.id));
    expect([...answers.keys()].filter((id) => id.startsWith("alr_") && !ours.has(id) && !delivered.has(id))).toEqual([]);
    for (const id of ours) delivered.add(id);
  });
});
