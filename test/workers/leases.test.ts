// The runner protocol's leases: a lease id per lease fences every report, a result brings the next tasks, a stopped attempt keeps its slot until its process is gone.
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, FakeRunner, instance, isolatedGroup, runnerToken, shellNode, startRun } from "./helpers.ts";

const scope = isolatedGroup();
const oneNode = (name: string, code = "true") => scope.createWorkflow({ name: `${name}-${crypto.randomUUID().slice(0, 6)}`, nodes: [shellNode("n", code)] });

describe("lease ids", () => {
  it("issues every task with its own lease id", async () => {
    const wf = await oneNode("ids");
    await startRun(wf.id);
    await startRun(wf.id);
    const tasks = await (await scope.newRunner()).claim();
    expect(tasks).toHaveLength(2);
    expect(tasks[0].leaseId).toMatch(/^lse_[0-9a-f]{32}$/);
    expect(tasks[1].leaseId).not.toBe(tasks[0].leaseId);
  });

  it("refuses a result, a log chunk and a heartbeat under a lease id other than the attempt's, and accepts the right one", async () => {
    const wf = await oneNode("fenced");
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    runner.leases.set(task.attemptId, "lse_guessed");
    const result = await runner.complete(task.attemptId, 0);
    expect(result.status).toBe(409);
    expect(result.json.error).toMatchObject({ code: "lease_lost", message: expect.stringContaining(task.attemptId) });
    expect((await runner.log(task.attemptId, "not mine\n")).status).toBe(409);
    expect((await runner.heartbeat([task.attemptId])).json.cancel).toEqual([task.attemptId]);
    runner.leases.set(task.attemptId, task.leaseId);
    expect((await runner.complete(task.attemptId, 0)).status).toBe(200);
    expect((await instance(id)).status).toBe("succeeded");
  });

  it("answers a report without its lease id with a 400 that names the header", async () => {
    const wf = await oneNode("no-lease");
    await startRun(wf.id);
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    const res = await api("POST", `/api/v1/runner/attempts/${task.attemptId}/complete`, { exitCode: 0, signal: null, outputs: {}, error: null }, runner.token, {
      "x-sluice-runner": runner.runnerId,
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "bad_request", details: [expect.objectContaining({ path: "x-sluice-lease" })] });
  });

  it("refuses the late result of a lease that was given to another runner after it expired unconfirmed", async () => {
    const wf = await oneNode("reoffered");
    await startRun(wf.id);
    const first = await scope.newRunner();
    const [task] = await first.claim();
    await new Promise((r) => setTimeout(r, 2_100)); // LEASE_SECONDS is 2 in tests
    await runDurableObjectAlarm(scope.pool());
    const second = await scope.newRunner();
    const [again] = await second.claim();
    expect(again.attemptId).toBe(task.attemptId);
    expect(again.leaseId).not.toBe(task.leaseId);
    expect((await first.complete(task.attemptId, 0)).status).toBe(409);
    expect((await second.complete(again.attemptId, 0)).status).toBe(200);
  });
});

describe("one hop per node", () => {
  it("answers a result with the runner's next tasks, leased in the same call", async () => {
    const wf = await scope.createWorkflow({
      name: `chain-${crypto.randomUUID().slice(0, 6)}`,
      nodes: [shellNode("a", "true"), shellNode("b", "true"), shellNode("c", "true")],
      edges: [{ from: "a", to: "b" }, { from: "a", to: "c" }],
    });
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [a] = await runner.claim();
    const answer = await runner.complete(a.attemptId, 0, {}, null, 4);
    expect(answer.status).toBe(200);
    const next = answer.json.tasks as { nodeName: string; attemptId: string; leaseId: string }[];
    expect(next.map((t) => t.nodeName).sort()).toEqual(["b", "c"]);
    for (const t of next) expect((await runner.complete(t.attemptId, 0)).json).toEqual({ ok: true, tasks: [] });
    expect((await instance(id)).status).toBe("succeeded");
  });

  it("leases no more next tasks than the free slots the result names", async () => {
    const wf = await oneNode("capped");
    for (let i = 0; i < 3; i++) await startRun(wf.id);
    const runner = await scope.newRunner();
    const [first] = await runner.claim(1);
    const answer = await runner.complete(first.attemptId, 0, {}, null, 1);
    expect(answer.json.tasks).toHaveLength(1);
  });
});

describe("slots held until the process is gone", () => {
  it("a terminated attempt keeps its runner's slot until the runner reports the kill", async () => {
    const doomed = await oneNode("doomed", "sleep 100");
    const waiting = await oneNode("waiting");
    const runner = new FakeRunner(await runnerToken(scope.name()), 1);
    const doomedId = await startRun(doomed.id);
    const [held] = await runner.claim(1);
    expect(held.instanceId).toBe(doomedId);
    await runner.heartbeat([held.attemptId]);
    await startRun(waiting.id);
    expect((await api("POST", `/api/v1/instances/${doomedId}/terminate`)).status).toBe(200);
    expect(await runner.claim(1), "the slot is the terminated process's until it is gone").toEqual([]);
    expect((await runner.heartbeat([held.attemptId])).json.cancel).toEqual([held.attemptId]);
    expect(await runner.claim(1), "told to kill is not gone").toEqual([]);
    // Refused as a result (the node is terminated), but the runner reports only once the process is gone.
    expect((await runner.complete(held.attemptId, null, {}, "killed: cancelled by the server", 1)).status).toBe(409);
    expect((await runner.claim(1)).map((t) => t.workflowId)).toEqual([waiting.id]);
    expect((await instance(doomedId)).nodes[0]).toMatchObject({ status: "terminated", error: "terminated by a user" });
  });

  it("lists a runner's stopped attempt as running until its process is gone", async () => {
    const wf = await oneNode("listed", "sleep 100");
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    await runner.heartbeat([task.attemptId]);
    await api("POST", `/api/v1/instances/${id}/terminate`);
    const running = async () => (await api("GET", `/api/v1/runners?resourceGroup=${scope.name()}`)).json.items[0].running;
    expect(await running()).toBe(1);
    await runner.complete(task.attemptId, null, {}, "killed: cancelled by the server");
    expect(await running()).toBe(0);
  });
});
