// Races around publish, terminate, rerun and delete: publish freezes the draft it validated, control works before D1 mirrors, delete stops the coordinator.
import { env, runDurableObjectAlarm, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { WorkflowRepo } from "../../worker/db/workflows.ts";
import { ADMIN, api, instance, isolatedGroup, mirrored, shellNode, startRun } from "./helpers.ts";
import { otherWorkspace } from "./tenancy-helpers.ts";

const scope = isolatedGroup();
const { createWorkflow, newRunner } = scope;
const coordinator = (workflowId: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));

/** As if D1 had not received the instance yet: its mirror rows are taken away, the coordinator's live state stays. */
async function unmirror(instanceId: string): Promise<void> {
  await mirrored(instanceId.slice(instanceId.indexOf(".") + 1));
  await env.DB.batch([
    env.DB.prepare("DELETE FROM node_runs WHERE instance_id = ?").bind(instanceId),
    env.DB.prepare("DELETE FROM instances WHERE id = ?").bind(instanceId),
  ]);
}

describe("publish", () => {
  it("freezes nothing when the draft is saved between validation and freeze (409)", async () => {
    const wf = await createWorkflow({ name: "cas", nodes: [shellNode("n", "echo validated")] });
    const repo = new WorkflowRepo(env.DB, "default");
    const validated = await repo.get(wf.id);
    const saved = await api("PUT", `/api/v1/workflows/${wf.id}`, { name: "cas", policy: { resourceGroup: scope.name() }, nodes: [shellNode("n", "echo saved later")] });
    expect(saved.status).toBe(200);
    await expect(repo.publish(wf.id, validated.definition, validated.draftRevision, {}, "")).rejects.toMatchObject({ status: 409 });
    expect((await api("GET", `/api/v1/workflows/${wf.id}/versions`)).json.items).toEqual([]);
    expect((await api("GET", `/api/v1/workflows/${wf.id}`)).json.publishedVersion).toBeNull();
  });

  it("freezes the revision it validated when nothing changed in between", async () => {
    const wf = await createWorkflow({ name: "cas-ok", nodes: [shellNode("n", "echo one")] });
    expect((await api("POST", `/api/v1/workflows/${wf.id}/publish`, {})).json).toEqual({ version: 1 });
    expect((await api("GET", `/api/v1/workflows/${wf.id}/versions/1`)).json.definition.nodes[0].code).toBe("echo one");
  });
});

describe("terminate and rerun before D1 mirrors the instance", () => {
  it("terminates an instance D1 does not have yet", async () => {
    const wf = await createWorkflow({ name: "early-terminate", nodes: [shellNode("n", "sleep 60")] });
    const id = await startRun(wf.id);
    await unmirror(id);
    expect((await api("GET", `/api/v1/instances/${id}`)).json).toMatchObject({ id, status: "running" });
    const res = await api("POST", `/api/v1/instances/${id}/terminate`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id, status: "terminated" });
    expect((await instance(id)).status).toBe("terminated");
  });

  it("reruns an instance D1 does not have yet", async () => {
    const wf = await createWorkflow({ name: "early-rerun", nodes: [shellNode("n", "true")] });
    const id = await startRun(wf.id);
    expect((await api("POST", `/api/v1/instances/${id}/terminate`)).status).toBe(200);
    await unmirror(id);
    const res = await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "all" });
    expect(res.status).toBe(200);
    const [task] = await (await newRunner()).claim();
    expect(task).toMatchObject({ instanceId: id, nodeName: "n", attempt: 2 });
  });

  it("still answers 404 for an id no coordinator knows", async () => {
    const wf = await createWorkflow({ name: "unknown-instance", nodes: [shellNode("n", "true")] });
    expect((await api("POST", `/api/v1/instances/ins_00000000000000000000zz.${wf.id}/terminate`)).status).toBe(404);
  });
});

describe("reading an instance before D1 mirrors it", () => {
  const follow = (id: string, key: string) =>
    SELF.fetch(`http://sluice.test/api/v1/instances/${id}/live`, { headers: { upgrade: "websocket", "sec-websocket-protocol": `sluice.v1, bearer.${key}` } });

  it("answers from the coordinator's live state, and 404 to another workspace's key", async () => {
    const wf = await createWorkflow({ name: "early-read", nodes: [shellNode("n", "sleep 60")] });
    const id = await startRun(wf.id);
    await unmirror(id);
    const read = await api("GET", `/api/v1/instances/${id}`);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ id, workflowId: wf.id, status: "running", nodes: [{ name: "n", status: "queued", attempt: 1 }] });
    const live = await follow(id, ADMIN);
    expect(live.status).toBe(101);
    live.webSocket?.accept();
    live.webSocket?.close();

    const other = await otherWorkspace(`early-read-${scope.name()}`);
    expect((await api("GET", `/api/v1/instances/${id}`, undefined, other.admin)).status).toBe(404);
    expect((await follow(id, other.admin)).status).toBe(404);
  });
});

describe("deleting a workflow", () => {
  it("refuses while instances wait or run, naming how many", async () => {
    const wf = await createWorkflow({ name: "busy-delete", policy: { maxParallel: 1 }, nodes: [shellNode("n", "sleep 60")] });
    await startRun(wf.id);
    await startRun(wf.id);
    const res = await api("DELETE", `/api/v1/workflows/${wf.id}`);
    expect(res.status).toBe(409);
    expect(res.json.error.message).toMatch(/2 unfinished instance\(s\) \(1 running, 1 waiting\)/);
    expect((await api("GET", `/api/v1/workflows/${wf.id}`)).status).toBe(200);
    expect((await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev" })).status).toBe(201);
  });

  it("with ?terminate=true terminates them, deletes it, and its coordinator writes nothing more", async () => {
    const wf = await createWorkflow({ name: "terminate-delete", nodes: [shellNode("n", "sleep 60")] });
    const id = await startRun(wf.id);
    const runner = await newRunner();
    const [task] = await runner.claim();
    expect((await api("DELETE", `/api/v1/workflows/${wf.id}?terminate=true`)).status).toBe(204);
    expect((await api("GET", `/api/v1/workflows/${wf.id}`)).status).toBe(404);
    expect((await instance(id)).status).toBe("terminated");
    const before = await env.DB.prepare("SELECT status, finished_at FROM node_runs WHERE instance_id = ?").bind(id).all();

    // A late report from the runner that had the node: the coordinator forgot the instance and mirrors nothing.
    await runner.complete(task.attemptId, 0);
    expect((await env.DB.prepare("SELECT status, finished_at FROM node_runs WHERE instance_id = ?").bind(id).all()).results).toEqual(before.results);
    expect((await instance(id)).status).toBe("terminated");
    // No alarm is left, and a start that raced the delete is refused.
    expect(await runDurableObjectAlarm(coordinator(wf.id))).toBe(false);
    const run = { instanceId: `ins_late.${wf.id}`, env: "dev" as const, receivedAt: Date.now(), runDate: null, priorityOverride: null, triggerType: "api" as const, triggerMessage: {}, params: null };
    const late = await coordinator(wf.id).startMany({ workspaceId: "default", workflowId: wf.id, publishedVersion: null, draftRevision: 1, runs: [run] });
    expect(late).toMatchObject({ ok: false, error: { status: 404 } });
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM instances WHERE workflow_id = ?").bind(wf.id).first("n")).toBe(1);
  });

  it("needs the right to run in prod to terminate on delete", async () => {
    const wf = await createWorkflow({ name: "dev-delete", nodes: [shellNode("n", "sleep 60")] });
    await startRun(wf.id);
    const developer = (await api("POST", "/api/v1/keys", { name: "dev", role: "developer" })).json.key as string;
    expect((await api("DELETE", `/api/v1/workflows/${wf.id}?terminate=true`, undefined, developer)).status).toBe(403);
    expect((await api("GET", `/api/v1/workflows/${wf.id}`)).status).toBe(200);
  });
});
