// What the coordinator does with lost and stopped attempts: infrastructure retries, and places held until processes are gone.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, instance, isolatedGroup, shellNode, startRun } from "./helpers.ts";

const scope = isolatedGroup();
const coordinator = (workflowId: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));
/** Attempt ids are derived from the instance, node and attempt number (core/scheduler/records.ts). */
const attemptId = (instanceId: string, node: string, attempt: number) => `${instanceId.replace(/^ins_/, "run_")}_${node}_${attempt}`;
const failedRun = (exitCode: number) => ({ exitCode, signal: null, outputs: {}, error: null });

describe("lost attempts", () => {
  it("are retried as infrastructure twice without using the node's own retries, then fail the node", async () => {
    const wf = await scope.createWorkflow({ name: "lost-thrice", nodes: [shellNode("n", "sleep 100")] });
    const id = await startRun(wf.id);
    for (const attempt of [1, 2]) {
      await coordinator(wf.id).nodeLost(attemptId(id, "n", attempt), "the runner stopped heartbeating");
      const now = await instance(id);
      expect(now.status).toBe("running");
      expect(now.nodes[0]).toMatchObject({ attempt: attempt + 1, status: "queued" });
    }
    await coordinator(wf.id).nodeLost(attemptId(id, "n", 3), "the runner stopped heartbeating");
    const done = await instance(id);
    expect(done.status).toBe("failed");
    expect(done.nodes[0]).toMatchObject({ attempt: 3, status: "failed", error: "lost: the runner stopped heartbeating (all 2 infrastructure retries used)" });
    const log = await api("GET", `/api/v1/instances/${id}/nodes/n/log?attempt=2`);
    expect(log.text).toContain("[sluice] attempt lost: the runner stopped heartbeating; infrastructure retry 2 of 2 starts now");
  });

  it("leave the node's own retries for its script's failures", async () => {
    const wf = await scope.createWorkflow({ name: "lost-then-failed", nodes: [shellNode("n", "exit 1", { retry: { count: 1, delaySeconds: 0 } })] });
    const id = await startRun(wf.id);
    await coordinator(wf.id).nodeLost(attemptId(id, "n", 1), "gone");
    await coordinator(wf.id).nodeFinished(attemptId(id, "n", 2), failedRun(1));
    expect((await instance(id)).nodes[0]).toMatchObject({ attempt: 3 }); // the one own retry
    await coordinator(wf.id).nodeFinished(attemptId(id, "n", 3), failedRun(1));
    expect(await instance(id)).toMatchObject({ status: "failed", nodes: [{ attempt: 3, status: "failed", error: "exit code 1" }] });
  });
});

describe("a stopped attempt's place in maxParallel", () => {
  async function twoInstancesOneRunning() {
    const wf = await scope.createWorkflow({ name: `held-place-${scope.name()}`, policy: { maxParallel: 1 }, nodes: [shellNode("n", "sleep 100")] });
    const a = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    expect((await runner.heartbeat([task.attemptId])).json.cancel).toEqual([]); // its process runs
    const b = await startRun(wf.id);
    expect((await instance(b)).status).toBe("waiting");
    expect((await api("POST", `/api/v1/instances/${a}/terminate`)).status).toBe(200);
    return { wf, a, b, runner, task };
  }

  it("is held after terminate until the pool says the process is gone", async () => {
    const { wf, b, task } = await twoInstancesOneRunning();
    expect((await instance(b)).status).toBe("waiting");
    expect(await coordinator(wf.id).waitReason(b)).toMatch(/maxParallel 1 reached \(1 running, 1 of them stopped but with processes still exiting\)/);
    await coordinator(wf.id).processGone([task.attemptId]);
    expect((await instance(b)).status).toBe("running");
  });

  it("is given up when the killed process's late report arrives", async () => {
    const { wf, b, task } = await twoInstancesOneRunning();
    await coordinator(wf.id).nodeFinished(task.attemptId, { exitCode: null, signal: "SIGKILL", outputs: {}, error: null });
    expect((await instance(b)).status).toBe("running");
  });

  it("is given up two lease periods after the stop at the latest", async () => {
    const { wf, b } = await twoInstancesOneRunning();
    await runInDurableObject(coordinator(wf.id), (_, state) => {
      state.storage.sql.exec(`UPDATE timers SET due_at = 0 WHERE kind = 'exit'`);
    });
    await runDurableObjectAlarm(coordinator(wf.id));
    expect((await instance(b)).status).toBe("running");
  });
});
