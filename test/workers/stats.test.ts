// The stats endpoint: each coordinator's and pool's SQLite size and rows, per workspace; and gone runners forgotten.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, isolatedGroup, mirrored, shellNode, startRun } from "./helpers.ts";
import { otherWorkspace } from "./tenancy-helpers.ts";

const scope = isolatedGroup();

describe("GET /api/v1/stats", () => {
  it("reports each workflow's coordinator and each group's pool with their sizes and rows", async () => {
    const name = `stats-${scope.name()}`;
    const wf = await scope.createWorkflow({ name, nodes: [shellNode("a", "true"), shellNode("b", "true")] });
    await startRun(wf.id);
    const runner = await scope.newRunner();
    for (const task of await runner.claim()) await runner.complete(task.attemptId, 0);
    await startRun(wf.id);
    await mirrored(wf.id);

    const res = await api("GET", "/api/v1/stats");
    expect(res.status).toBe(200);
    const coordinator = res.json.coordinators.find((c: { workflowId: string }) => c.workflowId === wf.id);
    // One finished instance (in its live window) and one queued, two nodes each; the mirror is delivered.
    expect(coordinator).toMatchObject({ name, liveInstances: 2, nodeRuns: 4, definitions: 1, outboxRows: 0 });
    expect(coordinator.databaseSize).toBeGreaterThan(0);
    expect(coordinator.timers).toBeGreaterThanOrEqual(1); // the finished one's purge
    const pool = res.json.pools.find((p: { resourceGroup: string }) => p.resourceGroup === scope.name());
    expect(pool).toMatchObject({ ready: 2, leased: 0, runners: 1, finished: 2 });
    expect(pool.databaseSize).toBeGreaterThan(0);
    expect(res.json.pools.map((p: { resourceGroup: string }) => p.resourceGroup)).toContain("default");
    expect(res.json.d1.size === null || res.json.d1.size > 0).toBe(true);
  });

  it("shows another workspace only its own objects, and refuses non-admins", async () => {
    const wf = await scope.createWorkflow({ name: `stats-private-${scope.name()}`, nodes: [{ name: "n", type: "noop" }] });
    const other = await otherWorkspace(`stats-${scope.name()}`);
    const theirs = await api("GET", "/api/v1/stats", undefined, other.admin);
    expect(theirs.status).toBe(200);
    expect(theirs.json.coordinators).toEqual([]);
    expect(theirs.json.pools.map((p: { resourceGroup: string; runners: number }) => [p.resourceGroup, p.runners])).toEqual([["default", 0]]);
    expect(JSON.stringify(theirs.json)).not.toContain(wf.id);
    const viewer = await api("POST", "/api/v1/keys", { name: `viewer-${scope.name()}`, role: "viewer" });
    expect((await api("GET", "/api/v1/stats", undefined, viewer.json.key)).status).toBe(403);
  });
});

describe("gone runners", () => {
  it("are forgotten an hour after they were last seen, when a runner registers", async () => {
    const gone = await scope.newRunner();
    await gone.register();
    await runInDurableObject(scope.pool(), (_, state) => state.storage.sql.exec(`UPDATE runners SET last_seen = last_seen - 3700000 WHERE id = ?`, gone.runnerId));
    const recent = await scope.newRunner();
    await recent.register();
    const listed = await api("GET", `/api/v1/runners?resourceGroup=${scope.name()}`);
    expect(listed.json.items.map((r: { id: string }) => r.id)).toEqual([recent.runnerId]);
    // The forgotten one is told it is not registered (and registers again).
    const refused = await api("POST", "/api/v1/runner/claim", { runnerId: gone.runnerId, name: "test", slots: 1, waitMs: 0 }, gone.token);
    expect([refused.status, refused.json.error.code]).toEqual([403, "runner_not_registered"]);
  });
});
