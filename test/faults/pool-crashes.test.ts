// ResourcePool under injected crashes (faults project: the hooks are live): finished attempts stay finished, leases expire, one process per node.
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { QueuedTask } from "../../worker/core/runner-protocol.ts";
import { armFault, disarmFaults } from "../../worker/faults.ts";
import { api, instance, isolatedGroup, shellNode, startRun } from "../workers/helpers.ts";

const scope = isolatedGroup();
/** LEASE_SECONDS is 2 in the test bindings. */
const LEASE_MS = 2_000;
const pastLease = () => new Promise((r) => setTimeout(r, LEASE_MS + 200));

afterEach(() => disarmFaults());

const oneShellNode = () => scope.createWorkflow({ name: `pooled-${crypto.randomUUID().slice(0, 6)}`, nodes: [shellNode("work", "true")] });

/** A task as a coordinator dispatches it, for a workflow no coordinator knows (its reports change nothing). */
function queuedTask(attemptId: string, nodeName = "work"): QueuedTask {
  const task = { attemptId, instanceId: `ins_${attemptId}`, workflowId: `wf_${attemptId}`, nodeName, attempt: 1, type: "shell" as const, script: "true", prelude: "", env: {}, timeoutSeconds: 60 };
  return { task, priority: 5, weight: 0, workspaceId: "default" };
}

describe("finished attempts", () => {
  it("never offers an attempt again when the coordinator repeats its dispatch after the attempt completed", async () => {
    const wf = await oneShellNode();
    // Each time, the coordinator dies after the pool took its calls and before it deleted the outbox
    // rows, until the attempt has completed: then its alarm delivers the dispatch once more.
    armFault("outbox.beforeDelete", 1_000);
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    expect((await runner.complete(task.attemptId, 0)).status).toBe(200);
    disarmFaults();
    expect(await runDurableObjectAlarm(env.COORDINATOR.get(env.COORDINATOR.idFromName(wf.id))), "the outbox alarm repeats the dispatch").toBe(true);
    expect((await instance(id)).status).toBe("succeeded");
    expect(await runner.claim()).toEqual([]);
    expect(await (await scope.newRunner()).claim()).toEqual([]);
  });

  it("never brings back a cancelled attempt when its dispatch is repeated", async () => {
    const pool = scope.pool();
    const task = queuedTask(`run_cancelled_${crypto.randomUUID().slice(0, 8)}`);
    await pool.enqueue([task]);
    await pool.cancel([task.task.attemptId]);
    await pool.enqueue([task]);
    expect(await (await scope.newRunner()).claim()).toEqual([]);
  });

  it("never offers a completed attempt again when the pool dies after the coordinator took its result", async () => {
    const wf = await oneShellNode();
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    // The result reaches the coordinator, then the pool dies before forgetting the task, and the
    // runner (which never heartbeated) gives up on the 500.
    armFault("pool.afterComplete");
    expect((await runner.complete(task.attemptId, 0)).status).toBe(500);
    expect((await instance(id)).status).toBe("succeeded");
    await pastLease();
    await runDurableObjectAlarm(scope.pool());
    expect(await (await scope.newRunner()).claim()).toEqual([]);
    expect((await instance(id)).nodes).toMatchObject([{ name: "work", status: "succeeded", attempt: 1 }]);
  });
});

describe("lease expiry", () => {
  it("expires a lease and offers the attempt again when the pool dies right after granting it", async () => {
    const wf = await oneShellNode();
    const id = await startRun(wf.id);
    // The pool dies between granting the lease and answering: the runner never gets the task.
    armFault("pool.afterLease");
    const doomed = await scope.newRunner();
    await doomed.claim().catch(() => []);
    await pastLease();
    // The alarm armed with the lease has fired by now (or runs here): an unconfirmed lease is offered again.
    await runDurableObjectAlarm(scope.pool());
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    expect(task?.nodeName).toBe("work");
    await runner.complete(task.attemptId, 0);
    expect((await instance(id)).status).toBe("succeeded");
  });
});

describe("node timeouts", () => {
  it("fails a hung node whose start notice was lost, once its timeout and grace have passed, and stops its runner", async () => {
    const wf = await scope.createWorkflow({ name: `hung-${crypto.randomUUID().slice(0, 6)}`, nodes: [shellNode("work", "sleep 1000", { timeoutSeconds: 1 })] });
    const id = await startRun(wf.id);
    // The pool's notice that the node started never reaches the coordinator (it was restarting).
    armFault("pool.startNotice");
    const hung = await scope.newRunner();
    const [task] = await hung.claim();
    // The runner hangs: it heartbeats and never reports. Timeout 1 s + grace 2 leases (4 s), and some slack.
    let cancel: string[] = [];
    for (const until = Date.now() + 8_000; cancel.length === 0 && Date.now() < until; await new Promise((r) => setTimeout(r, 250))) {
      cancel = (await hung.heartbeat([task.attemptId])).json.cancel;
    }
    expect(cancel, "the hung runner is told to kill the node").toEqual([task.attemptId]);
    expect((await instance(id)).nodes).toMatchObject([{ name: "work", status: "failed", error: expect.stringMatching(/^timed out/) }]);
  });
});

describe("one process per node", () => {
  it("holds a rerun's attempt until the terminated attempt's runner reports its process gone", async () => {
    const wf = await oneShellNode();
    const id = await startRun(wf.id);
    const old = await scope.newRunner();
    const [first] = await old.claim();
    await old.heartbeat([first.attemptId]);
    expect((await api("POST", `/api/v1/instances/${id}/terminate`)).status).toBe(200);
    expect((await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "all" })).status).toBe(200);
    const next = await scope.newRunner();
    expect(await next.claim(), "the old process may still run until its next heartbeat").toEqual([]);
    expect((await old.heartbeat([first.attemptId])).json.cancel).toEqual([first.attemptId]);
    expect(await next.claim(), "told to kill is not yet gone").toEqual([]);
    expect((await old.complete(first.attemptId, null, {}, "killed: cancelled by the server")).status).toBe(409);
    const [second] = await next.claim();
    expect(second).toMatchObject({ nodeName: "work", attempt: 2 });
  });

  it("holds a retry after a timeout until the hung runner is told to stop, or its lease runs out", async () => {
    const pool = scope.pool();
    const first = queuedTask(`run_hung_${crypto.randomUUID().slice(0, 8)}`);
    const retry: QueuedTask = { ...first, task: { ...first.task, attemptId: `${first.task.attemptId}_2`, attempt: 2 } };
    await pool.enqueue([first]);
    const hung = await scope.newRunner();
    await hung.claim();
    await hung.heartbeat([first.task.attemptId]);
    // The coordinator's timeout backstop fails the node, cancels the attempt and dispatches a retry.
    await pool.cancel([first.task.attemptId]);
    await pool.enqueue([retry]);
    const next = await scope.newRunner();
    expect(await next.claim()).toEqual([]);
    // The hung runner never heartbeats again: once its lease ran out the retry may run.
    await pastLease();
    await runDurableObjectAlarm(pool);
    expect((await next.claim()).map((t) => t.attemptId)).toEqual([retry.task.attemptId]);
  });
});
