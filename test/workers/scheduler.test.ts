// Scheduler semantics in the Workers runtime: admission, priorities, retries, terminate, rerun, dedup, ordering.
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RunSpec } from "../../worker/core/run-starts.ts";
import { newInstanceId } from "../../worker/core/ids.ts";
import { api, instance, isolatedGroup, mirrored, nodeStatus, shellNode, startRun, untilNodeStatus } from "./helpers.ts";

const scope = isolatedGroup();
const coordinator = (workflowId: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));

/** The coordinator's own count, the ground truth for maxParallel. */
async function runningNow(workflowId: string): Promise<number> {
  return runInDurableObject(coordinator(workflowId), (_, state) =>
    state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM instances WHERE status = 'running'`).one().n,
  );
}

/** A small deterministic PRNG, so a failing property run can be replayed from its seed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

/** Makes the coordinator's timers of a kind due now and runs its alarm: time passes without a sleep. */
async function fireTimers(workflowId: string, kind: "retry" | "timeout"): Promise<void> {
  await runInDurableObject(coordinator(workflowId), (_, state) => {
    state.storage.sql.exec(`UPDATE timers SET due_at = 0 WHERE kind = ?`, kind);
    // A timeout backstop counts from the node's start: it started long ago.
    if (kind === "timeout") state.storage.sql.exec(`UPDATE node_runs SET started_at = 0 WHERE status = 'running'`);
    // A delayed retry's attempt also carries its time; it has come too.
    if (kind === "retry") state.storage.sql.exec(`UPDATE node_runs SET not_before = 0 WHERE not_before IS NOT NULL`);
  });
  await runDurableObjectAlarm(coordinator(workflowId));
}

// Admission, retries, timeouts, terminate and rerun are decided in worker/core/scheduler/ and unit-tested
// there with a fake host and clock; these tests check the wiring through the API, the pool and SQLite.
describe("maxParallel", () => {
  it("never runs more than maxParallel instances under bursts, failures, retries, terminations and evictions", async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? 20261125);
    const random = prng(seed);
    const limit = 3;
    const wf = await scope.createWorkflow({
      name: "spiky",
      policy: { maxParallel: limit },
      nodes: [shellNode("work", "true", { retry: { count: 1 } }), shellNode("after", "true")],
      edges: [{ from: "work", to: "after" }],
    });
    const runner = await scope.newRunner();
    const started: string[] = [];
    let peak = 0;
    const check = async (when: string) => {
      const running = await runningNow(wf.id);
      peak = Math.max(peak, running);
      expect(running, `seed ${seed}: ${when}`).toBeLessThanOrEqual(limit);
    };
    for (let round = 0; round < 8; round++) {
      const burst = 1 + Math.floor(random() * 6);
      started.push(...(await Promise.all(Array.from({ length: burst }, () => startRun(wf.id, { env: "dev", priority: [1, 3, 5, 7, 8][Math.floor(random() * 5)] })))));
      await check(`round ${round} after a burst of ${burst}`);
      if (random() < 0.3) await evictDurableObject(coordinator(wf.id));
      if (random() < 0.25) await api("POST", `/api/v1/instances/${started[Math.floor(random() * started.length)]}/terminate`);
      await check(`round ${round} after a terminate`);
      for (const task of await runner.claim(10)) {
        const status = (await runner.complete(task.attemptId, random() < 0.25 ? 1 : 0)).status;
        expect([200, 409]).toContain(status); // 409: its instance was terminated meanwhile
      }
      await check(`round ${round} after completions`);
    }
    // Drain: everything that was started finishes; nothing is lost or stuck.
    for (let i = 0; i < 200; i++) {
      const tasks = await runner.claim(10);
      const left = await runInDurableObject(coordinator(wf.id), (_, state) =>
        state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM instances WHERE status IN ('running', 'waiting')`).one().n,
      );
      if (tasks.length === 0 && left === 0) break;
      for (const task of tasks) await runner.complete(task.attemptId, 0);
      await check(`drain ${i}`);
    }
    const statuses = await Promise.all(started.map(async (id) => (await instance(id)).status));
    expect(statuses.filter((s) => !["succeeded", "failed", "terminated"].includes(s)), `seed ${seed}`).toEqual([]);
    expect(peak).toBe(limit);
  }, 30_000);

  it("starts waiting instances by priority, then arrival, and says why they wait", async () => {
    const wf = await scope.createWorkflow({ name: "one-at-a-time", policy: { maxParallel: 1 }, nodes: [shellNode("work", "true")] });
    const first = await startRun(wf.id);
    const low = await startRun(wf.id, { env: "dev", priority: 1 });
    const urgent = await startRun(wf.id, { env: "dev", priority: 8 });
    const normal = await startRun(wf.id, { env: "dev", priority: 5 });
    const urgent2 = await startRun(wf.id, { env: "dev", priority: 8 });
    const waiting = (await api("GET", `/api/v1/instances/${low}`)).json;
    expect(waiting.status).toBe("waiting");
    expect(waiting.waitReason).toMatch(/maxParallel 1 reached/);
    const runner = await scope.newRunner();
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      const [task] = await runner.claim(1);
      order.push(task.instanceId);
      await runner.complete(task.attemptId, 0);
    }
    expect(order).toEqual([first, urgent, urgent2, normal, low]);
  });
});

describe("retries and timeouts", () => {
  it("retries a failing node up to its count and keeps every attempt", async () => {
    const wf = await scope.createWorkflow({ name: "flaky", nodes: [shellNode("flaky", "exit 1", { retry: { count: 2 } })] });
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    for (const exit of [1, 1, 0]) {
      const [task] = await runner.claim();
      await runner.log(task.attemptId, `attempt ${task.attempt}\n`);
      await runner.complete(task.attemptId, exit);
    }
    const done = await instance(id);
    expect(done.status).toBe("succeeded");
    expect(done.nodes[0]).toMatchObject({ status: "succeeded", attempt: 3 });
    expect((await api("GET", `/api/v1/instances/${id}/nodes/flaky/log?attempt=1`)).text).toBe("attempt 1\n");
    expect((await api("GET", `/api/v1/instances/${id}/nodes/flaky/log`)).text).toBe("attempt 3\n");
  });

  it("fails the node once its retries are used up", async () => {
    const wf = await scope.createWorkflow({ name: "hopeless", nodes: [shellNode("n", "exit 1", { retry: { count: 1 } })] });
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    for (let i = 0; i < 2; i++) await runner.complete((await runner.claim())[0].attemptId, 1);
    expect(await runner.claim(4, 0)).toEqual([]);
    expect((await instance(id)).nodes[0]).toMatchObject({ status: "failed", attempt: 2 });
  });

  it("dispatches a delayed retry when its timer fires, across an eviction", async () => {
    const wf = await scope.createWorkflow({ name: "delayed", nodes: [shellNode("n", "exit 1", { retry: { count: 1, delaySeconds: 60 } })] });
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    await runner.complete((await runner.claim())[0].attemptId, 1);
    expect(await runner.claim(4, 0)).toEqual([]);
    expect((await instance(id)).nodes[0]).toMatchObject({ status: "pending", attempt: 2 });
    await evictDurableObject(coordinator(wf.id));
    await fireTimers(wf.id, "retry");
    const [retry] = await runner.claim(4, 1_000);
    expect(retry).toMatchObject({ nodeName: "n", attempt: 2 });
  });

  it("fails a running node whose runner never reports when its timeout timer fires, and has the runner kill it", async () => {
    const wf = await scope.createWorkflow({ name: "silent", nodes: [shellNode("n", "sleep 100", { timeoutSeconds: 1 })] });
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    expect((await runner.heartbeat([task.attemptId])).json.cancel).toEqual([]);
    await untilNodeStatus(id, "n", "running");
    await fireTimers(wf.id, "timeout");
    const done = await instance(id);
    expect(done.status).toBe("failed");
    expect(done.nodes[0]!.error).toMatch(/timed out/);
    expect((await runner.heartbeat([task.attemptId])).json.cancel).toEqual([task.attemptId]);
  });
});

describe("terminate", () => {
  it("kills running node runs, drops queued ones and refuses late reports", async () => {
    const wf = await scope.createWorkflow({
      name: "stop-me",
      nodes: [shellNode("long", "sleep 1000"), shellNode("queued", "true"), shellNode("after", "true")],
      edges: [{ from: "long", to: "after" }],
    });
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    // One root runs, the other stays queued in the pool.
    const [long] = await runner.claim(1);
    const res = await api("POST", `/api/v1/instances/${id}/terminate`);
    expect(res.status).toBe(200);
    expect(res.json.status).toBe("terminated");
    expect(await nodeStatus(id)).toEqual({ after: "terminated", long: "terminated", queued: "terminated" });
    expect((await instance(id)).nodes.every((n) => n.error === "terminated by a user")).toBe(true);
    expect((await runner.heartbeat([long.attemptId])).json.cancel).toEqual([long.attemptId]);
    expect(await runner.claim(4, 0)).toEqual([]);
    expect((await runner.complete(long.attemptId, 0)).status).toBe(409);
    expect((await api("POST", `/api/v1/instances/${id}/terminate`)).status).toBe(409);
  });

  it("terminating a waiting instance lets the next one start", async () => {
    const wf = await scope.createWorkflow({ name: "queue-of-two", policy: { maxParallel: 1 }, nodes: [shellNode("n", "true")] });
    const a = await startRun(wf.id);
    const b = await startRun(wf.id);
    expect((await api("POST", `/api/v1/instances/${a}/terminate`)).status).toBe(200);
    expect((await instance(b)).status).toBe("running");
  });
});

describe("rerun", () => {
  it("reruns failed nodes and their downstream with new attempts beside the old ones", async () => {
    const wf = await scope.createWorkflow({
      name: "rerun-failed",
      nodes: [shellNode("a", "true"), shellNode("b", "true"), shellNode("c", "true")],
      edges: [{ from: "a", to: "b" }, { from: "b", to: "c" }],
    });
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    await runner.complete((await runner.claim())[0].attemptId, 0);
    await runner.complete((await runner.claim())[0].attemptId, 1);
    expect((await instance(id)).status).toBe("failed");
    expect((await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "failed" })).json.status).toBe("running");
    const [b2] = await runner.claim();
    expect(b2).toMatchObject({ nodeName: "b", attempt: 2 });
    await runner.complete(b2.attemptId, 0);
    await runner.complete((await runner.claim())[0].attemptId, 0);
    const done = await instance(id);
    expect(done.status).toBe("succeeded");
    expect(Object.fromEntries(done.nodes.map((n) => [n.name, n.attempt]))).toEqual({ a: 1, b: 2, c: 2 });

    expect((await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "all" })).status).toBe(200);
    expect((await runner.claim())[0]).toMatchObject({ nodeName: "a", attempt: 2 });
  });

  it("refuses to rerun a running instance", async () => {
    const wf = await scope.createWorkflow({ name: "busy", nodes: [shellNode("n", "true")] });
    const id = await startRun(wf.id);
    expect((await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "all" })).status).toBe(409);
  });
});

describe("dedup and ordering keys in the coordinator", () => {
  /** A queue-like start straight to the coordinator (dev: the draft), as trigger deliveries send it. */
  async function start(workflowId: string, extra: Partial<RunSpec>) {
    const now = Date.now();
    const run: RunSpec = {
      instanceId: newInstanceId(workflowId, now),
      env: "dev",
      receivedAt: now,
      runDate: null,
      priorityOverride: null,
      triggerType: "queue",
      triggerMessage: {},
      params: null,
      ...extra,
    };
    const draftRevision = (await api("GET", `/api/v1/workflows/${workflowId}`)).json.draftRevision as number;
    const started = await coordinator(workflowId).startMany({ workspaceId: "default", workflowId, publishedVersion: null, draftRevision, runs: [run] });
    if (!started.ok) throw new Error(started.error.message);
    return started.value[0]!;
  }

  it("starts one instance for a dedup key delivered three times, even across an eviction", async () => {
    const wf = await scope.createWorkflow({ name: "dedup", nodes: [shellNode("n", "true")] });
    const stub = coordinator(wf.id);
    const dedup = { key: "q:msg-1", windowSeconds: 3600 };
    const first = await start(wf.id, { dedup });
    await evictDurableObject(stub);
    const again = await Promise.all([start(wf.id, { dedup }), start(wf.id, { dedup })]);
    expect(first.duplicate).toBeUndefined();
    expect(again.map((s) => s.duplicate)).toEqual([true, true]);
    expect(again.map((s) => s.id)).toEqual([first.id, first.id]);
    const other = await start(wf.id, { dedup: { key: "q:msg-2", windowSeconds: 3600 } });
    expect(other.id).not.toBe(first.id);
  });

  it("runs instances that share an ordering key one at a time, in arrival order", async () => {
    const wf = await scope.createWorkflow({ name: "ordered", nodes: [shellNode("n", "true")] });
    const a1 = await start(wf.id, { orderingKey: "user-1" });
    const b1 = await start(wf.id, { orderingKey: "user-2" });
    const a2 = await start(wf.id, { orderingKey: "user-1", priorityOverride: 8 });
    expect([a1.status, b1.status, a2.status]).toEqual(["running", "running", "waiting"]);
    const runner = await scope.newRunner();
    const first = await runner.claim(10);
    expect(first.map((t) => t.instanceId).sort()).toEqual([a1.id, b1.id].sort());
    await runner.complete(first.find((t) => t.instanceId === a1.id).attemptId, 0);
    const [next] = await runner.claim(10);
    expect(next.instanceId).toBe(a2.id);
  });
});

describe("retention", () => {
  it("purges finished history from D1 in bounded batches and keeps what is younger", async () => {
    const { purgeHistory } = await import("../../worker/db/retention.ts");
    const wf = await scope.createWorkflow({ name: "old-news", nodes: [{ name: "n", type: "noop" }] });
    const id = await startRun(wf.id);
    expect((await instance(id)).status).toBe("succeeded");
    await mirrored(wf.id);
    const inD1 = () => env.DB.prepare("SELECT COUNT(*) AS n FROM instances WHERE id = ?").bind(id).first<number>("n");
    expect(await purgeHistory(env, 30)).toMatchObject({ instances: 0 });
    expect(await inD1()).toBe(1);
    const later = Date.now() + 31 * 24 * 3600 * 1000;
    expect((await purgeHistory(env, 30, later)).instances).toBeGreaterThanOrEqual(1);
    // D1 only: the coordinator keeps its own copy until its own retention, by its own clock.
    expect(await inD1()).toBe(0);
  });
});
