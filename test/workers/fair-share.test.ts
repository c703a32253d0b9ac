// Fair share in a resource group through the runner API (DESIGN §2.9): one workflow's spike does not starve another at its level.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, isolatedGroup, shellNode, type FakeRunner } from "./helpers.ts";

const scope = isolatedGroup();

const oneNode = (name: string, policy: Record<string, unknown> = {}) =>
  scope.createWorkflow({ name: `${name}-${crypto.randomUUID().slice(0, 6)}`, policy, nodes: [shellNode("n", "true")] });

/** Starts `n` dev runs of the workflow, up to 100 per request, and waits until the pool holds their tasks. */
async function spike(workflowId: string, n: number, body: Record<string, unknown> = {}): Promise<void> {
  for (let done = 0; done < n; done += 100) {
    const runs = Array.from({ length: Math.min(100, n - done) }, () => ({ env: "dev", ...body }));
    const res = await api("POST", `/api/v1/workflows/${workflowId}/runs`, { runs });
    expect(res.status, res.text).toBe(201);
  }
  const deadline = Date.now() + 10_000;
  while ((await readyIn(workflowId)) < n) {
    if (Date.now() > deadline) throw new Error(`the pool did not receive ${n} tasks of ${workflowId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const readyIn = (workflowId: string) =>
  runInDurableObject(scope.pool(), (_, state) =>
    state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE state = 'ready' AND workflow_id = ?`, workflowId).one().n,
  );

/** The runner finishes what it holds one task at a time, asking for one next task with each result: the workflows served, in order. */
async function serve(runner: FakeRunner, held: { attemptId: string; workflowId: string }[], grants: number): Promise<string[]> {
  const order: string[] = [];
  while (order.length < grants && held.length > 0) {
    const done = held.shift()!;
    const res = await runner.complete(done.attemptId, 0, {}, null, 1);
    expect(res.status, res.text).toBe(200);
    for (const next of res.json.tasks) {
      order.push(next.workflowId);
      held.push(next);
    }
  }
  return order;
}

describe("fair share within a priority level", () => {
  it("a workflow's few runs start within the next grants while another's spike of 200 waits in the same group", async () => {
    const a = await oneNode("spike");
    const b = await oneNode("few");
    await spike(a.id, 200);
    const runner = await scope.newRunner();
    const held = await runner.claim(2);
    expect(held.map((t) => t.workflowId)).toEqual([a.id, a.id]);
    await spike(b.id, 5);
    const first = await serve(runner, held, 4);
    // The pool's turns live in its SQLite: an evicted pool carries on where it was.
    await evictDurableObject(scope.pool());
    const order = [...first, ...(await serve(runner, held, 8))];
    const name = (wf: string) => (wf === a.id ? "a" : "b");
    // Turn about while both have work; b's five are all out within ten grants, then a has the slots again.
    expect(order.map(name).join("")).toBe("bababababaaa");
    expect(await readyIn(b.id)).toBe(0);
  });

  it("shares 3:1 give the heavier workflow three slots for each of the other's", async () => {
    const heavy = await oneNode("heavy", { share: 3 });
    const light = await oneNode("light", { share: 1 });
    await spike(heavy.id, 60);
    await spike(light.id, 60);
    const runner = await scope.newRunner();
    const held = await runner.claim(1);
    const order = [held[0].workflowId, ...(await serve(runner, held, 39))];
    expect(order.filter((wf) => wf === heavy.id)).toHaveLength(30);
    expect(order.filter((wf) => wf === light.id)).toHaveLength(10);
  });

  it("a higher priority level still goes strictly first", async () => {
    const low = await oneNode("low", { share: 1000 });
    const high = await oneNode("high");
    await spike(low.id, 20, { priority: 3 });
    await spike(high.id, 3, { priority: 8 });
    const runner = await scope.newRunner();
    const held = await runner.claim(4);
    expect(held.map((t) => t.workflowId)).toEqual([high.id, high.id, high.id, low.id]);
  });
});
