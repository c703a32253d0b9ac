// Runs through the coordinator and the pool in the Workers runtime, with a test double playing the runner.
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, instance, isolatedGroup, nodeStatus, shellNode, startRun as start, untilNodeStatus } from "./helpers.ts";

const scope = isolatedGroup();
const { createWorkflow, newRunner, pool: groupPool } = scope;

describe("runs", () => {
  it("runs a dev draft: the runner gets the script with bizdate bound, logs and completes", async () => {
    const wf = await createWorkflow({ name: "scenario1", nodes: [shellNode("hello", 'echo "Hello, Trigger Workflow! Current time is ${bizdate}"')] });
    const id = await start(wf.id, { env: "dev", runDate: "20260310" });
    const runner = await newRunner();
    const [task] = await runner.claim();
    expect(task).toMatchObject({ instanceId: id, nodeName: "hello", type: "shell", attempt: 1 });
    expect(task.values).toEqual(["20260309"]);
    expect(task.script).not.toContain("20260309");
    expect(task.script).not.toContain("${bizdate}");
    await untilNodeStatus(id, "hello", "running");

    expect((await runner.log(task.attemptId, "Hello, Trigger Workflow! Current time is 20260309\n")).status).toBe(204);
    expect((await runner.complete(task.attemptId, 0)).status).toBe(200);
    const done = await instance(id);
    expect(done.status).toBe("succeeded");
    expect((await api("GET", `/api/v1/instances/${id}/nodes/hello/log`)).text).toBe("Hello, Trigger Workflow! Current time is 20260309\n");
  });

  it("refuses a prod run of an unpublished workflow with 409", async () => {
    const wf = await createWorkflow({ name: "unpublished", nodes: [{ name: "n", type: "noop" }] });
    const res = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "prod" });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe("not_published");
  });

  it("prod runs the published version, not a newer draft", async () => {
    const wf = await createWorkflow({ name: "prod-version", nodes: [shellNode("n", "echo published")] });
    await api("POST", `/api/v1/workflows/${wf.id}/publish`, {});
    await api("PUT", `/api/v1/workflows/${wf.id}`, { name: "prod-version", policy: { resourceGroup: scope.name() }, nodes: [shellNode("n", "echo draft")] });
    const prodId = await start(wf.id, { env: "prod" });
    const devId = await start(wf.id, { env: "dev" });
    const runner = await newRunner();
    const tasks = await runner.claim(10);
    const byInstance = Object.fromEntries(tasks.map((t) => [t.instanceId, t.script]));
    expect(byInstance[prodId]).toContain("echo published");
    expect(byInstance[devId]).toContain("echo draft");
    expect((await instance(prodId)) as unknown).toMatchObject({ version: 1, env: "prod" });
    expect((await instance(devId)) as unknown).toMatchObject({ version: null, env: "dev" });
  });

  it("names an undeclared run param and an invalid run date", async () => {
    const wf = await createWorkflow({ name: "bad-runs", params: { a: "1" }, nodes: [{ name: "n", type: "noop" }] });
    const unknownParam = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev", params: { b: "2" } });
    expect(unknownParam.status).toBe(400);
    expect(unknownParam.json.error.message).toMatch(/'b'/);
    const badDate = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev", runDate: "20260230" });
    expect(badDate.status).toBe(400);
    expect(badDate.json.error.message).toMatch(/20260230/);
  });

  it("completes noop-only DAGs inside the coordinator", async () => {
    const wf = await createWorkflow({
      name: "noops",
      nodes: ["start", "a", "b", "join"].map((name) => ({ name, type: "noop" })),
      edges: [{ from: "start", to: "a" }, { from: "start", to: "b" }, { from: "a", to: "join" }, { from: "b", to: "join" }],
    });
    const id = await start(wf.id);
    expect((await instance(id)).status).toBe("succeeded");
    expect(Object.values(await nodeStatus(id))).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
  });

  it("runs nodes in dependency order, skips below a failure and lets other branches finish", async () => {
    const wf = await createWorkflow({
      name: "order",
      nodes: [shellNode("first", "true"), shellNode("second", "true"), shellNode("below", "true"), shellNode("side", "true")],
      edges: [{ from: "first", to: "second" }, { from: "second", to: "below" }],
    });
    const id = await start(wf.id);
    const runner = await newRunner();
    const firstWave = await runner.claim(10);
    expect(firstWave.map((t) => t.nodeName).sort()).toEqual(["first", "side"]);
    for (const t of firstWave) await runner.complete(t.attemptId, 0);
    const [second] = await runner.claim(10);
    expect(second.nodeName).toBe("second");
    await runner.complete(second.attemptId, 1);
    const done = await instance(id);
    expect(done.status).toBe("failed");
    expect(await nodeStatus(id)).toEqual({ below: "skipped", first: "succeeded", second: "failed", side: "succeeded" });
    expect(done.nodes.find((n) => n.name === "second")).toMatchObject({ exitCode: 1, error: "exit code 1" });
  });

  it("fails a node with an unresolvable reference before it runs, naming the reference", async () => {
    const wf = await createWorkflow({ name: "unresolved", nodes: [shellNode("needs_key", 'echo "${workflow.triggerMessage.data.object.key}"')] });
    const id = await start(wf.id, { env: "dev", triggerMessage: { data: {} } });
    const done = await instance(id);
    expect(done.status).toBe("failed");
    expect(done.nodes[0]!.error).toMatch(/workflow\.triggerMessage\.data\.object\.key/);
    expect((await api("GET", `/api/v1/instances/${id}/nodes/needs_key/log`)).text).toMatch(/workflow\.triggerMessage\.data\.object\.key/);
    const runner = await newRunner();
    expect(await runner.claim(10, 0)).toEqual([]);
  });

  it("hands out work by priority: a runtime override beats the workflow priority", async () => {
    const low = await createWorkflow({ name: "low", policy: { priority: 1 }, nodes: [shellNode("n", "true")] });
    const high = await createWorkflow({ name: "high", policy: { priority: 3 }, nodes: [shellNode("n", "true")] });
    const lowId = await start(low.id);
    const highId = await start(high.id);
    const urgentId = await start(low.id, { env: "dev", priority: 8 });
    const runner = await newRunner();
    const order = [];
    for (let i = 0; i < 3; i++) order.push((await runner.claim(1))[0].instanceId);
    expect(order).toEqual([urgentId, highId, lowId]);
  });
});

describe("leases and fencing", () => {
  it("refuses a completion for an attempt its pool never had, as not found", async () => {
    const runner = await newRunner();
    const res = await runner.complete("run_unknown_attempt_1", 0);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe("not_found");
  });

  // Lease expiry, re-offers and renewal are decided in worker/core/leases.ts (core/leases.test.ts), lost
  // attempts' infrastructure retries in worker/core/scheduler/ (progression.test.ts): here, their wiring.
  it("marks an attempt lost when its lease expires, refuses the late report and retries it as infrastructure", async () => {
    const wf = await createWorkflow({ name: "lease", nodes: [shellNode("slow", "sleep 100")] });
    const id = await start(wf.id);
    const runner = await newRunner();
    const [task] = await runner.claim();
    expect((await runner.heartbeat([task.attemptId])).json.cancel).toEqual([]); // the runner confirms the task
    const pool = groupPool();
    // The lease runs out now instead of after LEASE_SECONDS.
    await runInDurableObject(pool, (_, state) => {
      state.storage.sql.exec(`UPDATE tasks SET lease_expires_at = 0 WHERE attempt_id = ?`, task.attemptId);
    });
    await runDurableObjectAlarm(pool);
    const after = await instance(id);
    // The machine lost it, not the script: the run goes on with attempt 2, the node's own retries (none) untouched.
    expect(after.status).toBe("running");
    expect(after.nodes[0]).toMatchObject({ name: "slow", attempt: 2 });
    const first = await api("GET", `/api/v1/instances/${id}/nodes/slow/log?attempt=1`);
    expect(first.text).toMatch(/attempt lost: .*infrastructure retry 1 of 2 starts now/);
    expect((await runner.complete(task.attemptId, 0)).status).toBe(409);
    expect((await runner.heartbeat([task.attemptId])).json.cancel).toEqual([task.attemptId]);
  });

  it("refuses outputs over 64 KB with a 400 and keeps the lease for a corrected report", async () => {
    const wf = await createWorkflow({ name: "chatty", nodes: [shellNode("n", "true")] });
    const id = await start(wf.id);
    const runner = await newRunner();
    const [task] = await runner.claim();
    const big = await runner.complete(task.attemptId, 0, { blob: "x".repeat(70 * 1024) });
    expect(big.status).toBe(400);
    expect(big.json.error.message).toMatch(/outputs are at most/);
    expect((await runner.complete(task.attemptId, 0, { rows: "1" })).status).toBe(200);
    expect((await instance(id)).status).toBe("succeeded");
  });
});

describe("restarts", () => {
  it("finishes an instance after both Durable Objects are evicted mid-run", async () => {
    const wf = await createWorkflow({
      name: "evicted",
      nodes: [shellNode("a", "true"), shellNode("b", "true")],
      edges: [{ from: "a", to: "b" }],
    });
    const id = await start(wf.id);
    const runner = await newRunner();
    const [a] = await runner.claim();
    const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(wf.id));
    const pool = groupPool();
    await evictDurableObject(coordinator);
    await evictDurableObject(pool);
    expect((await runner.complete(a.attemptId, 0)).status).toBe(200);
    await evictDurableObject(coordinator);
    const [b] = await runner.claim();
    expect(b.nodeName).toBe("b");
    await evictDurableObject(pool);
    expect((await runner.complete(b.attemptId, 0)).status).toBe(200);
    expect((await instance(id)).status).toBe("succeeded");
  });

  it("a repeated completion (runner retry after a lost response) changes nothing", async () => {
    const wf = await createWorkflow({ name: "twice-complete", nodes: [shellNode("a", "true")] });
    const id = await start(wf.id);
    const runner = await newRunner();
    const [a] = await runner.claim();
    expect((await runner.complete(a.attemptId, 0)).status).toBe(200);
    expect((await runner.complete(a.attemptId, 1)).status).toBe(409);
    expect((await instance(id)).status).toBe("succeeded");
  });
});

describe("runners", () => {
  it("lists the runners of a group with their slots and running attempts", async () => {
    const wf = await createWorkflow({ name: "listed", nodes: [shellNode("n", "true")] });
    await start(wf.id);
    const runner = await newRunner();
    const [task] = await runner.claim();
    await runner.heartbeat([task.attemptId]);
    const res = await api("GET", `/api/v1/runners?resourceGroup=${scope.name()}`);
    expect(res.status).toBe(200);
    expect(res.json.items).toEqual([expect.objectContaining({ id: runner.runnerId, slots: 4, running: 1, connected: true })]);
  });
});
