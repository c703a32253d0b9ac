// Bulk actions through the API (DESIGN §2.10): dry runs change nothing, actions hit exactly the matched, tenancy, refusals, audit.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, instance, isolatedGroup, mirrored, shellNode, startRun, type FakeRunner } from "./helpers.ts";
import { otherWorkspace } from "./tenancy-helpers.ts";

const scope = isolatedGroup();
const oneNode = (name: string) => scope.createWorkflow({ name: `${name}-${crypto.randomUUID().slice(0, 6)}`, nodes: [shellNode("n", "true")] });
const bulk = (body: Record<string, unknown>, key?: string) => api("POST", "/api/v1/instances/bulk", body, key);
const statusOf = async (id: string) => (await instance(id)).status;

/** Starts runs and lets the runner finish them with the given exit codes, in order: the ids, once D1 has them. */
async function finished(workflowId: string, runner: FakeRunner, exitCodes: number[]): Promise<string[]> {
  const ids: string[] = [];
  for (const code of exitCodes) {
    ids.push(await startRun(workflowId));
    const [task] = await runner.claim(1);
    expect((await runner.complete(task.attemptId, code)).status).toBe(200);
  }
  await mirrored(workflowId);
  return ids;
}

async function running(workflowId: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await startRun(workflowId));
  await mirrored(workflowId);
  return ids;
}

/** The workflow's instances as the list shows them: `id:status`, sorted. */
const listed = async (workflowId: string) =>
  ((await api("GET", `/api/v1/instances?workflowId=${workflowId}&limit=200`)).json.items as { id: string; status: string }[]).map((i) => `${i.id}:${i.status}`).sort();
const sorted = (ids: string[]) => [...ids].sort();

describe("POST /instances/bulk", () => {
  it("a dry run counts and lists what it would act on, and changes nothing", async () => {
    const wf = await oneNode("dry");
    const ids = await running(wf.id, 3);
    const before = await listed(wf.id);
    const res = await bulk({ action: "terminate", filter: { workflowId: wf.id }, dryRun: true });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ dryRun: true, matched: 3, failed: [], remaining: 0 });
    expect(sorted(res.json.affected)).toEqual(sorted(ids));
    expect(await listed(wf.id)).toEqual(before);
    for (const id of ids) expect(await statusOf(id)).toBe("running");
    const runner = await scope.newRunner();
    expect(await runner.claim(4), "the queued nodes are still in the pool").toHaveLength(3);
  });

  it("terminate over a filter terminates exactly the matched instances", async () => {
    const a = await oneNode("term-a");
    const b = await oneNode("term-b");
    const inA = await running(a.id, 3);
    const inB = await running(b.id, 2);
    const res = await bulk({ action: "terminate", filter: { workflowId: a.id, status: "running" } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ dryRun: false, matched: 3, failed: [], remaining: 0 });
    expect(sorted(res.json.affected)).toEqual(sorted(inA));
    for (const id of inA) expect(await statusOf(id)).toBe("terminated");
    for (const id of inB) expect(await statusOf(id)).toBe("running");
    // Applied and mirrored: the same request again matches nothing.
    expect((await bulk({ action: "terminate", filter: { workflowId: a.id } })).json).toMatchObject({ matched: 0, affected: [] });
  });

  it("rerun-failed reruns only the failed instances, within the created time range", async () => {
    const wf = await oneNode("rerun");
    const runner = await scope.newRunner();
    const [oldFailed] = await finished(wf.id, runner, [1]);
    await new Promise((r) => setTimeout(r, 5));
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const [ok1, failed1, ok2, failed2] = (await finished(wf.id, runner, [0, 1, 0, 1])) as [string, string, string, string];
    const res = await bulk({ action: "rerun-failed", filter: { workflowId: wf.id, createdAfter: since } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ matched: 2, failed: [] });
    expect(sorted(res.json.affected)).toEqual(sorted([failed1, failed2]));
    expect(await statusOf(failed1)).toBe("running");
    expect(await statusOf(failed2)).toBe("running");
    for (const id of [ok1, ok2]) expect(await statusOf(id)).toBe("succeeded");
    expect(await statusOf(oldFailed!), "created before the range").toBe("failed");
    const tasks = await runner.claim(4);
    expect(sorted(tasks.map((t) => t.instanceId))).toEqual(sorted([failed1, failed2]));
  });

  it("never matches another workspace's instances", async () => {
    const mine = await oneNode("mine");
    const myIds = await running(mine.id, 2);
    const other = await otherWorkspace(`bulk-${crypto.randomUUID().slice(0, 6)}`);
    const theirs = await api("POST", "/api/v1/workflows", { name: "theirs", nodes: [shellNode("n", "true")] }, other.admin);
    const theirRun = await api("POST", `/api/v1/workflows/${theirs.json.id}/runs`, { env: "dev" }, other.admin);
    await mirrored(theirs.json.id);
    const since = new Date(Date.now() - 60_000).toISOString();
    const fromThem = await bulk({ action: "terminate", filter: { workflowId: mine.id } }, other.admin);
    expect(fromThem.json).toMatchObject({ matched: 0, affected: [] });
    const wide = await bulk({ action: "terminate", filter: { createdAfter: since }, dryRun: true });
    expect(wide.json.affected).toEqual(expect.arrayContaining(myIds));
    expect(wide.json.affected).not.toContain(theirRun.json.id);
    for (const id of myIds) expect(await statusOf(id)).toBe("running");
  });

  it("refuses bad filters with a 400 naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ action: "terminate", filter: {} }, "filter"],
      [{ action: "terminate", filter: { status: "running", env: "dev" } }, "filter"],
      [{ action: "terminate", filter: { workflowId: "wf_x", status: "succeeded" } }, "filter.status"],
      [{ action: "rerun-failed", filter: { workflowId: "wf_x", status: "succeeded" } }, "filter.status"],
      [{ action: "rerun-all", filter: { createdAfter: "yesterday" } }, "filter.createdAfter"],
      [{ action: "rerun-all", filter: { createdAfter: "2026-01-02T00:00:00Z", createdBefore: "2026-01-01T00:00:00Z" } }, "filter.createdBefore"],
      [{ action: "rerun-all", filter: { workflowId: "wf_x", owner: "me" } }, "filter"],
      [{ action: "rerun-all", filter: { workflowId: "wf_x", triggerType: "email" } }, "filter.triggerType"],
      [{ action: "delete", filter: { workflowId: "wf_x" } }, "action"],
    ];
    for (const [body, path] of cases) {
      const res = await bulk(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.details.map((d: { path?: string }) => d.path), JSON.stringify(body)).toContain(path);
    }
  });

  it("needs the right to run in every environment the filter reaches", async () => {
    const wf = await oneNode("roles");
    const ids = await running(wf.id, 1);
    const developer = (await api("POST", "/api/v1/keys", { name: "dev", role: "developer" })).json.key as string;
    const both = await bulk({ action: "terminate", filter: { workflowId: wf.id } }, developer);
    expect(both.status).toBe(403);
    expect(both.json.error.message).toMatch(/prod instances.*filter\.env/);
    expect((await bulk({ action: "terminate", filter: { workflowId: wf.id, env: "prod" } }, developer)).status).toBe(403);
    const dev = await bulk({ action: "terminate", filter: { workflowId: wf.id, env: "dev" } }, developer);
    expect(dev.json).toMatchObject({ matched: 1, affected: ids });
  });

  it("is in the OpenAPI document with its request and answer", async () => {
    const doc = (await api("GET", "/api/v1/openapi.json")).json;
    const op = doc.paths["/api/v1/instances/bulk"].post;
    expect(op.requestBody.content["application/json"].schema.$ref).toBe("#/components/schemas/BulkRequest");
    expect(Object.keys(doc.components.schemas.BulkResult.properties).sort()).toEqual(["affected", "dryRun", "failed", "matched", "remaining"]);
  });

  it("audit-logs the whole action with its count and ids", async () => {
    const wf = await oneNode("audit");
    const ids = await running(wf.id, 2);
    const res = await bulk({ action: "terminate", filter: { workflowId: wf.id } });
    expect(res.status).toBe(200);
    const rows = await env.DB.prepare(`SELECT action, target, status FROM audit_events WHERE action = 'POST /api/v1/instances/bulk' AND target LIKE ?`)
      .bind(`%${wf.id}%`)
      .all<{ action: string; target: string; status: number }>();
    expect(rows.results).toHaveLength(1);
    const target = JSON.parse(rows.results[0]!.target);
    expect(target).toMatchObject({ action: "terminate", filter: { workflowId: wf.id }, dryRun: false, matched: 2, failed: [], remaining: 0 });
    expect(sorted(target.affected)).toEqual(sorted(ids));
  });
});
