// The D1 mirror off the caller's path: answers never wait for D1, and rows of many commits land as one batch, in order.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, instance, isolatedGroup, mirrored, shellNode, startRun } from "./helpers.ts";

const scope = isolatedGroup();

/**
 * Holds the coordinator's D1 batches until released, counting them. The outbox's own D1 binding is wrapped
 * from the test (nothing of it ships): what D1 does is unchanged, only when.
 */
async function holdMirror(workflowId: string) {
  const batches: number[] = [];
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  await runInDurableObject(env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId)), (coordinator) => {
    const outbox = (coordinator as unknown as { outbox: { env: Env } }).outbox;
    const real = outbox.env;
    const DB = {
      prepare: (sql: string) => real.DB.prepare(sql),
      batch: async (statements: D1PreparedStatement[]) => {
        batches.push(statements.length);
        await gate;
        return real.DB.batch(statements);
      },
    };
    outbox.env = { ...real, DB } as unknown as Env;
  });
  return { batches, release };
}

const inD1 = async (workflowId: string) =>
  (await env.DB.prepare("SELECT id FROM instances WHERE workflow_id = ? ORDER BY id").bind(workflowId).all<{ id: string }>()).results.map((r) => r.id);

describe("the D1 mirror", () => {
  it("is never waited for: runs start, runners report and instances read while D1 holds the mirror", async () => {
    const wf = await scope.createWorkflow({ name: "held-mirror", nodes: [shellNode("n", "true")] });
    await startRun(wf.id); // the coordinator exists
    await mirrored(wf.id);
    const held = await holdMirror(wf.id);

    const first = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [task] = (await runner.claim(4)).filter((t) => t.instanceId === first);
    expect((await runner.complete(task.attemptId, 0)).status).toBe(200);
    expect((await instance(first)).status).toBe("succeeded");
    expect(await inD1(wf.id)).not.toContain(first);
    const listed = (await api("GET", `/api/v1/instances?workflowId=${wf.id}`)).json.items.map((i: { id: string }) => i.id);
    expect(listed).not.toContain(first); // lists follow the mirror

    const second = await startRun(wf.id);
    const third = await startRun(wf.id);
    expect(held.batches).toHaveLength(1); // one batch in flight; the later commits' rows wait for it
    held.release();
    await mirrored(wf.id);
    expect(held.batches).toHaveLength(2); // ...and then go together
    expect(await inD1(wf.id)).toEqual(expect.arrayContaining([first, second, third]));
    const row = await env.DB.prepare("SELECT status FROM instances WHERE id = ?").bind(first).first<string>("status");
    expect(row).toBe("succeeded"); // the newer row landed last
  });
});
