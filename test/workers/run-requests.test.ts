// Run requests: batches of runs, definitions the coordinator caches per version and draft revision, the audit row sent with the mirror.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, instance, isolatedGroup, mirrored, shellNode } from "./helpers.ts";

const scope = isolatedGroup();
const { createWorkflow, newRunner } = scope;
const noop = (name: string) => ({ name, nodes: [{ name: "n", type: "noop" }] });
const runsPath = (id: string) => `/api/v1/workflows/${id}/runs`;

async function instancesOf(workflowId: string): Promise<number> {
  await mirrored(workflowId);
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM instances WHERE workflow_id = ?").bind(workflowId).first<{ n: number }>();
  return row!.n;
}

describe("batch runs", () => {
  it("starts every run of {runs: [...]} in one request and answers each, in order", async () => {
    const wf = await createWorkflow({ name: "batch", params: { region: "eu" }, nodes: [shellNode("n", "echo ${region}")] });
    const res = await api("POST", runsPath(wf.id), { runs: [{ env: "dev" }, { env: "dev", params: { region: "us" } }, { env: "dev", priority: 8 }] });
    expect(res.status).toBe(201);
    expect(res.json.items).toHaveLength(3);
    expect(new Set(res.json.items.map((i: { id: string }) => i.id)).size).toBe(3);
    const tasks = await (await newRunner()).claim(10);
    expect(tasks.map((t) => t.instanceId).sort()).toEqual(res.json.items.map((i: { id: string }) => i.id).sort());
    const second = tasks.find((t) => t.instanceId === res.json.items[1].id);
    expect(second.values).toEqual(["us"]);
  });

  it("refuses a batch with a bad run, naming its place and field, and starts none of it", async () => {
    const wf = await createWorkflow(noop("batch-bad-shape"));
    const res = await api("POST", runsPath(wf.id), { runs: [{ env: "dev" }, { env: "dev" }, { env: "staging" }] });
    expect(res.status).toBe(400);
    expect(res.json.error.details).toEqual([expect.objectContaining({ path: "runs[2].env" })]);
    expect(await instancesOf(wf.id)).toBe(0);
  });

  it("names every bad run of a batch, not a single run's fields", async () => {
    const wf = await createWorkflow(noop("batch-many-bad"));
    const res = await api("POST", runsPath(wf.id), { runs: [{ env: "qa" }, { env: "dev" }, { env: "dev", runDate: "2026" }, { env: "dev", extra: 1 }] });
    expect(res.status).toBe(400);
    expect(res.json.error.details.map((d: { path: string }) => d.path)).toEqual(["runs[0].env", "runs[2].runDate", "runs[3]"]);
    expect(await instancesOf(wf.id)).toBe(0);
  });

  it("refuses a batch whose run names an undeclared parameter, starting none of it", async () => {
    const wf = await createWorkflow({ ...noop("batch-bad-param"), params: { a: "1" } });
    const res = await api("POST", runsPath(wf.id), { runs: [{ env: "dev" }, { env: "dev", params: { b: "2" } }] });
    expect(res.status).toBe(400);
    expect(res.json.error.details).toEqual([expect.objectContaining({ path: "runs[1].params.b" })]);
    expect(res.json.error.message).toMatch(/^runs\[1\]: params 'b'/);
    expect(await instancesOf(wf.id)).toBe(0);
  });

  it("takes 100 runs in one request and refuses 101", async () => {
    const wf = await createWorkflow(noop("batch-limit"));
    const over = await api("POST", runsPath(wf.id), { runs: Array.from({ length: 101 }, () => ({ env: "dev" })) });
    expect(over.status).toBe(400);
    expect(over.json.error.details[0].path).toBe("runs");
    const full = await api("POST", runsPath(wf.id), { runs: Array.from({ length: 100 }, () => ({ env: "dev" })) });
    expect(full.status).toBe(201);
    expect(full.json.items.map((i: { status: string }) => i.status)).toEqual(Array(100).fill("succeeded"));
  });

  it("answers a repeated batch with the same Idempotency-Key with the first batch's instances", async () => {
    const wf = await createWorkflow(noop("batch-idempotent"));
    const body = { runs: [{ env: "dev" }, { env: "dev" }] };
    const first = await api("POST", runsPath(wf.id), body, undefined, { "idempotency-key": "batch-1" });
    const again = await api("POST", runsPath(wf.id), body, undefined, { "idempotency-key": "batch-1" });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.json.items.map((i: { id: string }) => i.id)).toEqual(first.json.items.map((i: { id: string }) => i.id));
    expect(await instancesOf(wf.id)).toBe(2);
  });

  it("refuses a batch with a prod run while nothing is published", async () => {
    const wf = await createWorkflow(noop("batch-unpublished"));
    const res = await api("POST", runsPath(wf.id), { runs: [{ env: "dev" }, { env: "prod" }] });
    expect(res.status).toBe(409);
    expect(await instancesOf(wf.id)).toBe(0);
  });
});

describe("definitions in the coordinator", () => {
  it("runs the draft as saved last: a save between two dev runs is what the second one runs", async () => {
    const wf = await createWorkflow({ name: "draft-cache", nodes: [shellNode("n", "echo one")] });
    const first = (await api("POST", runsPath(wf.id), { env: "dev" })).json.id;
    const saved = await api("PUT", `/api/v1/workflows/${wf.id}`, { name: "draft-cache", policy: { resourceGroup: scope.name() }, nodes: [shellNode("n", "echo two")] });
    expect(saved.json.draftRevision).toBe(2);
    const second = (await api("POST", runsPath(wf.id), { env: "dev" })).json.id;
    const scripts = Object.fromEntries((await (await newRunner()).claim(10)).map((t) => [t.instanceId, t.script]));
    expect(scripts[first]).toContain("echo one");
    expect(scripts[second]).toContain("echo two");
  });

  it("refuses a run of a workflow deleted after the request read it", async () => {
    const wf = await createWorkflow(noop("deleted-meanwhile"));
    expect((await api("DELETE", `/api/v1/workflows/${wf.id}`)).status).toBe(204);
    const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(wf.id));
    const run = { instanceId: `ins_x.${wf.id}`, env: "dev" as const, receivedAt: Date.now(), runDate: null, priorityOverride: null, triggerType: "api" as const, triggerMessage: {}, params: null };
    const answer = await coordinator.startMany({ workspaceId: "default", workflowId: wf.id, publishedVersion: null, draftRevision: 1, runs: [run] });
    expect(answer).toMatchObject({ ok: false, error: { status: 404 } });
  });

  it("records the run request in the audit log, written with the run's mirror rows", async () => {
    const wf = await createWorkflow(noop("audited-run"));
    const id = (await api("POST", runsPath(wf.id), { runs: [{ env: "dev" }] })).json.items[0].id;
    await instance(id);
    await mirrored(wf.id);
    const log = (await api("GET", "/api/v1/audit?limit=500")).json.items as { action: string; target: Record<string, string>; status: number }[];
    const rows = log.filter((e) => e.action === "POST /api/v1/workflows/:id/runs" && e.target.id === wf.id);
    expect(rows).toEqual([expect.objectContaining({ status: 201, actorRole: "admin" })]);
  });
});
