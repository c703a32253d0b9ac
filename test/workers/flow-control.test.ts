// Flow control through the public API (DESIGN §2.9, §2.10): concurrency keys, overlap, waiting timeouts, skipped instances, rerun from a node.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createWorkflow, instance, isolatedGroup, mirrored, shellNode, startRun, untilNodeStatus } from "./helpers.ts";

const scope = isolatedGroup();
const coordinator = (workflowId: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));
const USER_KEY = "${workflow.triggerMessage.user}";

const keyedWorkflow = (name: string, policy: Record<string, unknown>, nodes = [shellNode("work", "true")]) =>
  scope.createWorkflow({ name, policy: { concurrency: { key: USER_KEY, limit: 1 }, ...policy }, nodes });
const runFor = (workflowId: string, user: string) => startRun(workflowId, { env: "dev", triggerMessage: { user } });
const view = async (id: string) => (await api("GET", `/api/v1/instances/${id}`)).json as Record<string, any>;

describe("concurrency keys", () => {
  it("refuses at save a key no run can resolve, naming policy.concurrency.key", async () => {
    const res = await api("POST", "/api/v1/workflows", {
      name: "bad-key",
      policy: { concurrency: { key: "${nodes.work.outputs.x}", limit: 1 } },
      nodes: [shellNode("work", "true")],
    });
    expect(res.status).toBe(400);
    expect(res.json.error.details).toEqual([expect.objectContaining({ path: "policy.concurrency.key", message: expect.stringMatching(/node outputs do not exist yet/) })]);
    const cel = await api("POST", "/api/v1/workflows", { name: "bad-cel", policy: { concurrency: { key: "cel:workflow.(", limit: 1 } }, nodes: [shellNode("w", "true")] });
    expect(cel.status).toBe(400);
    expect(cel.json.error.details[0].path).toBe("policy.concurrency.key");
  });

  it("runs at most limit instances per key value; a free key passes a long line held by a full one", async () => {
    const wf = await keyedWorkflow("keyed", {});
    const runner = await scope.newRunner();
    const u1: string[] = [];
    for (let i = 0; i < 6; i++) u1.push(await runFor(wf.id, "u1"));
    const u2 = await runFor(wf.id, "u2");
    expect((await instance(u1[0]!)).status).toBe("running");
    expect((await instance(u2)).status).toBe("running");
    const third = await view(u1[2]!);
    expect(third).toMatchObject({ status: "waiting", concurrencyKey: "u1", waitReason: "concurrency key 'u1' limit 1 reached (1 running); 2nd in its line" });
    // Each key's line has one head, the first to wait: admission reads heads only.
    const heads = await runInDurableObject(coordinator(wf.id), (_, state) =>
      state.storage.sql.exec<{ id: string }>(`SELECT id FROM instances WHERE status = 'waiting' AND line_head = 1`).toArray().map((r) => r.id),
    );
    expect(heads).toEqual([u1[1]]);
    // ...through the heads' index, not by filtering every waiting row.
    const plan = await runInDurableObject(coordinator(wf.id), (_, state) =>
      state.storage.sql
        .exec<{ detail: string }>(`EXPLAIN QUERY PLAN SELECT * FROM instances WHERE env = 'dev' AND status = 'waiting' AND line_head = 1 ORDER BY priority DESC, seq LIMIT 4`)
        .toArray()
        .map((r) => r.detail)
        .join("; "),
    );
    expect(plan).toMatch(/USING INDEX instances_line_heads \(env=\? AND status=\? AND line_head=\?\)/);
    // Each u1 instance starts only when the one before it has finished, in arrival order.
    for (let i = 0; i < u1.length; i++) {
      const tasks = await runner.claim(10);
      const mine = tasks.find((t) => t.instanceId === u1[i]);
      expect(mine, `u1[${i}] is the one u1 instance offered`).toBeDefined();
      expect(tasks.filter((t) => u1.includes(t.instanceId))).toHaveLength(1);
      for (const t of tasks) await runner.complete(t.attemptId, 0);
    }
    expect((await instance(u1.at(-1)!)).status).toBe("succeeded");
    await mirrored(wf.id);
    const row = await env.DB.prepare(`SELECT concurrency_key FROM instances WHERE id = ?`).bind(u2).first<{ concurrency_key: string }>();
    expect(row!.concurrency_key).toBe("u2");
  });

  it("reaches a field inside a JSON string value with a cel: key", async () => {
    const wf = await scope.createWorkflow({
      name: "cel-key",
      policy: { concurrency: { key: "cel:bytes(workflow.triggerMessage.value).json().user", limit: 1 } },
      nodes: [shellNode("work", "true")],
    });
    const id = await startRun(wf.id, { env: "dev", triggerMessage: { topic: "q", value: JSON.stringify({ user: "u9" }) } });
    expect(await view(id)).toMatchObject({ concurrencyKey: "u9", status: "running" });
  });

  it("skips an instance whose key cannot be resolved, saying why", async () => {
    const wf = await keyedWorkflow("unresolved", {});
    const id = await startRun(wf.id, { env: "dev", triggerMessage: { other: 1 } });
    const skipped = await view(id);
    expect(skipped).toMatchObject({ status: "skipped", concurrencyKey: null });
    expect(skipped.reason).toMatch(/^skipped: policy.concurrency.key could not be resolved: .*user/);
  });
});

describe("overlap and skipped instances", () => {
  it("skip: the arrival is skipped with its reason, mirrored to D1; terminate is refused and rerun allowed", async () => {
    const wf = await keyedWorkflow("skipper", { overlap: "skip" });
    const runner = await scope.newRunner();
    const first = await runFor(wf.id, "u1");
    const second = await runFor(wf.id, "u1");
    const skipped = await view(second);
    expect(skipped).toMatchObject({ status: "skipped", reason: "skipped: concurrency key 'u1' limit 1 reached (1 running) (overlap: skip)" });
    expect(skipped.nodes).toEqual([expect.objectContaining({ name: "work", status: "skipped", error: skipped.reason })]);
    await mirrored(wf.id);
    const row = await env.DB.prepare(`SELECT status, reason FROM instances WHERE id = ?`).bind(second).first();
    expect(row).toEqual({ status: "skipped", reason: skipped.reason });
    expect((await api("GET", `/api/v1/instances?workflowId=${wf.id}&status=skipped`)).json.items.map((i: any) => [i.id, i.reason])).toEqual([[second, skipped.reason]]);
    expect((await api("POST", `/api/v1/instances/${second}/terminate`)).status).toBe(409);
    for (const t of await runner.claim(4)) await runner.complete(t.attemptId, 0);
    expect((await instance(first)).status).toBe("succeeded");
    const rerun = await api("POST", `/api/v1/instances/${second}/rerun`, {});
    expect(rerun.json).toEqual({ id: second, status: "running" });
    expect(await view(second)).toMatchObject({ reason: null, status: "running" });
  });

  it("replace: the running instance of the key is terminated and the newcomer starts once its process is gone", async () => {
    const wf = await keyedWorkflow("replacer", { overlap: "replace" });
    const runner = await scope.newRunner();
    const old = await runFor(wf.id, "u1");
    const [task] = await runner.claim(4);
    await untilNodeStatus(old, "work", "running");
    const newer = await runFor(wf.id, "u1");
    expect(await view(old)).toMatchObject({ status: "terminated", reason: `replaced by a newer arrival ${newer} (overlap: replace)` });
    expect((await instance(newer)).status).toBe("waiting");
    // The runner is told to kill the replaced process and confirms it gone: the place frees.
    expect((await runner.heartbeat([task.attemptId])).json.cancel).toEqual([task.attemptId]);
    await runner.complete(task.attemptId, null, {}, "killed");
    for (let i = 0; i < 100 && (await instance(newer)).status !== "running"; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await instance(newer)).status).toBe("running");
  });

  it("latest: a newer arrival takes the waiting place and the older waiting one is skipped", async () => {
    const wf = await keyedWorkflow("latest", { overlap: "latest" });
    await runFor(wf.id, "u1");
    const older = await runFor(wf.id, "u1");
    const newer = await runFor(wf.id, "u1");
    expect(await view(older)).toMatchObject({ status: "skipped", reason: `skipped: replaced by a newer arrival ${newer} (overlap: latest)` });
    expect((await instance(newer)).status).toBe("waiting");
  });

  it("waiting timeout: an instance still waiting at its deadline is skipped", async () => {
    const wf = await keyedWorkflow("impatient", { waitingTimeoutSeconds: 60 });
    await runFor(wf.id, "u1");
    const late = await runFor(wf.id, "u1");
    // Time passes without a sleep: the waiting timer is made due and the alarm runs.
    await runInDurableObject(coordinator(wf.id), (_, state) => state.storage.sql.exec(`UPDATE timers SET due_at = 0 WHERE kind = 'waiting'`));
    await runDurableObjectAlarm(coordinator(wf.id));
    expect(await view(late)).toMatchObject({ status: "skipped", reason: "skipped: waited longer than 60 s (policy.waitingTimeoutSeconds)" });
  });
});

describe("rerun from a node", () => {
  it("reruns the node and everything downstream, reusing upstream outputs", async () => {
    const wf = await createWorkflow({
      name: "chain-from",
      policy: { resourceGroup: scope.name() },
      nodes: [shellNode("a", "true"), shellNode("b", "true"), shellNode("c", "echo ${nodes.a.outputs.x}")],
      edges: [{ from: "a", to: "b" }, { from: "b", to: "c" }],
    });
    const runner = await scope.newRunner();
    const id = await startRun(wf.id);
    const outputs: Record<string, Record<string, string>> = { a: { x: "from-a" } };
    for (let i = 0; i < 3; i++) for (const t of await runner.claim(4)) await runner.complete(t.attemptId, 0, outputs[t.nodeName] ?? {});
    expect((await instance(id)).status).toBe("succeeded");

    expect((await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "from" })).status).toBe(400);
    const unknown = await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "from", node: "zz" });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toMatch(/node 'zz' is not a node/);
    expect((await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "all", node: "b" })).status).toBe(400);

    expect((await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "from", node: "b" })).json).toEqual({ id, status: "running" });
    const [b] = await runner.claim(4);
    expect([b.nodeName, b.attempt]).toEqual(["b", 2]);
    await runner.complete(b.attemptId, 0);
    const [c] = await runner.claim(4);
    expect([c.nodeName, c.attempt, c.values]).toEqual(["c", 2, ["from-a"]]);
    await runner.complete(c.attemptId, 0);
    const done = await instance(id);
    expect(done.status).toBe("succeeded");
    expect(Object.fromEntries(done.nodes.map((n) => [n.name, n.attempt]))).toEqual({ a: 1, b: 2, c: 2 });
  });
});
