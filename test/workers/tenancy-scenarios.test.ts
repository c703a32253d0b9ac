// A second workspace can neither see, claim, run on, nor start anything of the first's; source grants and their revocation.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { QueuedTask } from "../../worker/core/runner-protocol.ts";
import { api, createWorkflow, FakeRunner, mirrored, runnerToken, shellNode, startRun } from "./helpers.ts";
import { otherWorkspace } from "./tenancy-helpers.ts";
import { deliverBatch, eventsOf, instancesOf, message, publish, unique } from "./trigger-helpers.ts";

describe("resource groups belong to their workspace", () => {
  it("runs each workspace's shell nodes only on its own runners, though both groups have one name", async () => {
    const group = unique("g");
    const other = await otherWorkspace(unique("ws"));
    const mine = new FakeRunner(await runnerToken(group));
    const theirs = new FakeRunner(await other.runnerToken(group));
    const wfA = await createWorkflow({ name: unique("a"), policy: { resourceGroup: group }, nodes: [shellNode("n", "echo a")] });
    const wfB = (await api("POST", "/api/v1/workflows", { name: unique("b"), policy: { resourceGroup: group }, nodes: [shellNode("n", "echo b")] }, other.admin)).json;
    const insB = (await api("POST", `/api/v1/workflows/${wfB.id}/runs`, { env: "dev" }, other.admin)).json.id as string;
    expect(await mine.claim(8), "the first workspace's runner gets nothing of the second's").toEqual([]);
    const insA = await startRun(wfA.id);
    const [taskA, ...restA] = await mine.claim(8);
    expect(restA).toEqual([]);
    expect(taskA.instanceId).toBe(insA);
    const [taskB, ...restB] = await theirs.claim(8);
    expect(restB).toEqual([]);
    expect(taskB.instanceId).toBe(insB);
    expect((await theirs.complete(taskA.attemptId, 0)).status, "a result for another workspace's attempt").toBe(404);
    expect((await theirs.complete(taskB.attemptId, 0)).status).toBe(200);
    expect((await mine.complete(taskA.attemptId, 0)).status).toBe(200);
  });

  it("lists only the workspace's own runners", async () => {
    const group = unique("g");
    const other = await otherWorkspace(unique("ws"));
    const mine = new FakeRunner(await runnerToken(group));
    await mine.register();
    const listed = (key?: string) => api("GET", `/api/v1/runners?resourceGroup=${group}`, undefined, key).then((r) => r.json.items.map((i: { id: string }) => i.id));
    expect(await listed()).toEqual([mine.runnerId]);
    expect(await listed(other.admin)).toEqual([]);
    const theirs = new FakeRunner(await other.runnerToken(group));
    await theirs.register();
    expect(await listed(other.admin)).toEqual([theirs.runnerId]);
    expect(await listed()).toEqual([mine.runnerId]);
  });

  it("refuses a runner id the pool did not issue to the token", async () => {
    const token = await runnerToken(unique("g"));
    const res = await api("POST", "/api/v1/runner/claim", { runnerId: "rnr_chosen_by_the_client", slots: 1, waitMs: 0 }, token);
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({ code: "runner_not_registered", message: expect.stringContaining("rnr_chosen_by_the_client") });
    // An id issued to another token of the same group is refused too: ids are bound to their token.
    const registered = new FakeRunner(await runnerToken("default"));
    const stolen = await api("POST", "/api/v1/runner/heartbeat", { runnerId: await registered.register(), slots: 1, leases: [] }, await runnerToken("default"));
    expect(stolen.status).toBe(403);
  });
});

describe("pool state from before groups belonged to workspaces", () => {
  /** A task as a coordinator queued it before: no workspace, in the pool of the bare group name. */
  async function legacyTask(group: string, workspaceId: string) {
    const attemptId = `run_legacy_${crypto.randomUUID().slice(0, 8)}`;
    const instanceId = `ins_legacy_${attemptId}`;
    await env.DB.prepare(
      `INSERT INTO instances (id, workspace_id, workflow_id, workflow_name, version, env, status, priority, trigger_type, trigger_message, params, created_at)
       VALUES (?, ?, 'wf_legacy', 'legacy', NULL, 'dev', 'running', 5, 'manual', '{}', '{}', 0)`,
    )
      .bind(instanceId, workspaceId)
      .run();
    const task: QueuedTask = {
      task: { attemptId, instanceId, workflowId: "wf_legacy", nodeName: "n", attempt: 1, type: "shell", script: "true", prelude: "", env: {}, timeoutSeconds: 60 },
      priority: 5,
      weight: 0,
    };
    await env.POOL.get(env.POOL.idFromName(group)).enqueue([task]);
    return attemptId;
  }

  it("leases a default-workspace task where it was, and moves another workspace's to that workspace's pool", async () => {
    const group = unique("g");
    const other = await otherWorkspace(unique("ws"));
    const mine = await legacyTask(group, "default");
    const theirs = await legacyTask(group, other.id);
    const defaultRunner = new FakeRunner(await runnerToken(group));
    const otherRunner = new FakeRunner(await other.runnerToken(group));
    expect((await defaultRunner.claim(8)).map((t) => t.attemptId)).toEqual([mine]);
    expect((await otherRunner.claim(8)).map((t) => t.attemptId)).toEqual([theirs]);
    expect(await defaultRunner.claim(8)).toEqual([]);
  });
});

describe("source grants", () => {
  it("shows and replaces a workspace's grants; unknown names are refused by name and nothing is saved", async () => {
    const other = await otherWorkspace(unique("ws"));
    const path = `/api/v1/workspaces/${other.id}/sources`;
    expect((await api("GET", path)).json).toEqual({ buckets: [], queues: [] });
    const bad = await api("PUT", path, { buckets: ["uploads", "no-such-bucket"], queues: ["nope"] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/no bucket 'no-such-bucket'.*no queue 'nope'/);
    expect(bad.json.error.details.map((d: { path: string }) => d.path)).toEqual(["buckets[1]", "queues[0]"]);
    expect((await api("GET", path)).json).toEqual({ buckets: [], queues: [] });
    const put = await api("PUT", path, { buckets: ["uploads", "uploads"], queues: ["user-behavior"] });
    expect(put.status).toBe(200);
    expect((await api("GET", path)).json).toEqual({ buckets: ["uploads"], queues: ["user-behavior"] });
    expect((await api("GET", "/api/v1/workspaces/ws_missing/sources")).status).toBe(404);
  });

  it("refuses triggers, uploads and sends on a source not granted, naming it, and allows them once granted", async () => {
    const other = await otherWorkspace(unique("ws"));
    const asOther = (method: string, path: string, body?: unknown) => api(method, path, body, other.admin);
    const refused = [
      await asOther("POST", "/api/v1/triggers", { name: "q", type: "queue", config: { queue: "user-behavior" } }),
      await asOther("POST", "/api/v1/triggers", { name: "r", type: "r2", config: { bucket: "uploads" } }),
      await asOther("POST", "/api/v1/queues/user-behavior/messages", { key: "k", value: "v" }),
      await asOther("PUT", "/api/v1/buckets/uploads/objects/other/x.txt", "x"),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    expect(refused.map((r) => r.json.error.message.match(/(queue|bucket) '[^']+'/)?.[0])).toEqual(["queue 'user-behavior'", "bucket 'uploads'", "queue 'user-behavior'", "bucket 'uploads'"]);
    const webhook = await asOther("POST", "/api/v1/triggers", { name: "w", type: "webhook", config: {} });
    expect(webhook.status, "a webhook has no shared source").toBe(201);
    expect((await api("PUT", `/api/v1/workspaces/${other.id}/sources`, { buckets: [], queues: ["user-behavior"] })).status).toBe(200);
    const trigger = await asOther("POST", "/api/v1/triggers", { name: "q", type: "queue", config: { queue: "user-behavior" } });
    expect(trigger.status).toBe(201);
    // Moving a trigger onto a source not granted is refused like creating one.
    const moved = await asOther("PUT", `/api/v1/triggers/${trigger.json.id}`, { name: "q", type: "r2", config: { bucket: "uploads" } });
    expect(moved.status).toBe(403);
    expect(moved.json.error.message).toContain("bucket 'uploads'");
    expect((await asOther("PUT", "/api/v1/buckets/uploads/objects/other/x.txt", "x")).status).toBe(403);
  });

  it("delivers a source's events only to workspaces that hold it; a revoked trigger logs not_granted without the message", async () => {
    const other = await otherWorkspace(unique("ws"));
    const key = unique("key");
    const sourcesPath = `/api/v1/workspaces/${other.id}/sources`;
    await api("PUT", sourcesPath, { buckets: [], queues: ["user-behavior"] });
    const theirTrigger = (await api("POST", "/api/v1/triggers", { name: "listen", type: "queue", config: { queue: "user-behavior", key } }, other.admin)).json;
    const theirWf = (await api("POST", "/api/v1/workflows", { name: "theirs", policy: { triggerId: theirTrigger.id }, nodes: [{ name: "n", type: "noop" }] }, other.admin)).json;
    expect((await api("POST", `/api/v1/workflows/${theirWf.id}/publish`, {}, other.admin)).status).toBe(200);
    const myTrigger = (await api("POST", "/api/v1/triggers", { name: unique("mine"), type: "queue", config: { queue: "user-behavior", key } })).json;
    const myWf = await createWorkflow({ name: unique("mine"), policy: { triggerId: myTrigger.id }, nodes: [{ name: "n", type: "noop" }] });
    await publish(myWf.id);

    await deliverBatch("user-behavior", [message(unique("m"), { key, value: "while granted" })]);
    await mirrored(theirWf.id);
    expect((await api("GET", `/api/v1/instances?workflowId=${theirWf.id}`, undefined, other.admin)).json.items).toHaveLength(1);

    await api("PUT", sourcesPath, { buckets: [], queues: [] });
    await deliverBatch("user-behavior", [message(unique("m"), { key, value: "secret of the first workspace" })]);
    expect(await instancesOf(myWf.id)).toHaveLength(2);
    await mirrored(theirWf.id);
    expect((await api("GET", `/api/v1/instances?workflowId=${theirWf.id}`, undefined, other.admin)).json.items).toHaveLength(1);
    const events = (await api("GET", `/api/v1/triggers/${theirTrigger.id}/events`, undefined, other.admin)).json.items;
    expect(events.map((e: { outcome: string }) => e.outcome)).toEqual(["not_granted", "started"]);
    expect(events[0]).toMatchObject({ message: null, sourceId: null, instanceIds: [], detail: expect.stringContaining("no longer holds queue 'user-behavior'") });
    expect(JSON.stringify(events[0])).not.toContain("secret of the first workspace");
    expect((await eventsOf(myTrigger.id)).map((e) => e.outcome)).toEqual(["started", "started"]);
  });
});
