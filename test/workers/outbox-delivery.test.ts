// The coordinator's outbox under a poison effect: it fails alone, waits out backoffs, and becomes a dead letter that fails its attempts.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_TRIES } from "../../worker/core/delivery.ts";
import { instance, isolatedGroup, mirrored, shellNode, startRun } from "./helpers.ts";

const scope = isolatedGroup();
const coordinator = (workflowId: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));
const attemptId = (instanceId: string, node: string, attempt: number) => `${instanceId.replace(/^ins_/, "run_")}_${node}_${attempt}`;

type Sql = DurableObjectState["storage"]["sql"];
const inCoordinator = <T>(workflowId: string, read: (sql: Sql) => T) => runInDurableObject(coordinator(workflowId), (_, state) => read(state.storage.sql));

describe("a poison pool call", () => {
  it("fails alone, lets later dispatches through, backs off, and as a dead letter fails the attempts it carried", async () => {
    const wf = await scope.createWorkflow({ name: `poison-${scope.name()}`, nodes: [shellNode("n", "true")] });
    const a = await startRun(wf.id);
    const poisoned = attemptId(a, "n", 1);
    // A dispatch the pool cannot take (a task that is null), for a's queued attempt, ahead of anything else.
    await inCoordinator(wf.id, (sql) => {
      const { workspace_id } = sql.exec<{ workspace_id: string }>(`SELECT workspace_id FROM instances WHERE id = ?`, a).one();
      const body = JSON.stringify({ kind: "dispatch", workspaceId: workspace_id, resourceGroup: scope.name(), tasks: [{ task: { attemptId: poisoned } }, null] });
      sql.exec(`INSERT INTO outbox (body, address, kind) VALUES (?, ?, 'dispatch')`, body, `pool:${JSON.stringify([workspace_id, scope.name()])}`);
    });

    const b = await startRun(wf.id);
    await mirrored(wf.id);
    const left = await inCoordinator(wf.id, (sql) => sql.exec<{ body: string; tries: number; next_at: number }>(`SELECT body, tries, next_at FROM outbox`).toArray());
    expect(left).toHaveLength(1); // b's dispatch and mirror rows went out past it
    expect(left[0]!.body).toContain(poisoned);
    expect(left[0]!.tries).toBeGreaterThanOrEqual(1);
    expect(left[0]!.next_at).toBeGreaterThan(Date.now());
    expect((await instance(b)).nodes[0]!.status).toBe("queued");

    await inCoordinator(wf.id, (sql) => sql.exec(`UPDATE outbox SET tries = ?, next_at = 0`, MAX_TRIES.pool - 1));
    await runDurableObjectAlarm(coordinator(wf.id));
    const dead = await inCoordinator(wf.id, (sql) => sql.exec<{ error: string }>(`SELECT error FROM outbox_dead`).toArray());
    expect(dead).toHaveLength(1);
    await mirrored(wf.id); // the failed attempt's own mirror rows
    expect(await inCoordinator(wf.id, (sql) => sql.exec(`SELECT 1 FROM outbox`).toArray().length)).toBe(0);
    const failed = await instance(a);
    expect(failed.status).toBe("failed");
    expect(failed.nodes[0]!.error).toMatch(new RegExp(`could not hand it to resource group ${scope.name()} after ${MAX_TRIES.pool} tries`));
  });
});
