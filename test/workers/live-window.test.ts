// Live state only while it is needed: past its live window a finished instance is read from D1, and a rerun loads it back.
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newInstanceId } from "../../worker/core/ids.ts";
import type { RunSpec } from "../../worker/core/run-starts.ts";
import { ADMIN, api, instance, isolatedGroup, mirrored, shellNode, startRun } from "./helpers.ts";

const scope = isolatedGroup();
const coordinator = (workflowId: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));

/** What the coordinator holds of an instance: its row and node runs, and timers naming it. */
const liveRows = (workflowId: string, id: string) =>
  runInDurableObject(coordinator(workflowId), (_, state) => ({
    instances: state.storage.sql.exec(`SELECT id FROM instances WHERE id = ?`, id).toArray().length,
    runs: state.storage.sql.exec(`SELECT id FROM node_runs WHERE instance_id = ?`, id).toArray().length,
    timers: state.storage.sql.exec(`SELECT ref FROM timers WHERE ref = ? OR instr(ref, ?) = 1`, id, id.replace(/^ins_/, "run_")).toArray().length,
  }));

/**
 * Lets the instance's live window pass: its finish is moved two hours back and its purge timer made due
 * (the window is an hour), once the D1 mirror holds it; then the alarm runs.
 */
async function leaveLiveWindow(workflowId: string, id: string): Promise<void> {
  await mirrored(workflowId);
  await runInDurableObject(coordinator(workflowId), (_, state) => {
    state.storage.sql.exec(`UPDATE instances SET finished_at = finished_at - 7200000 WHERE id = ?`, id);
    state.storage.sql.exec(`UPDATE timers SET due_at = 1 WHERE kind = 'purge' AND ref = ?`, id);
  });
  await runDurableObjectAlarm(coordinator(workflowId));
}

/** A live follower of the instance: the socket's status and its instance messages as they come. */
async function follow(id: string) {
  const res = await SELF.fetch(`http://sluice.test/api/v1/instances/${id}/live`, {
    headers: { upgrade: "websocket", "sec-websocket-protocol": `sluice.v1, bearer.${ADMIN}` },
  });
  const statuses: string[] = [];
  res.webSocket?.accept();
  res.webSocket?.addEventListener("message", (e) => {
    const m = JSON.parse(e.data as string);
    if (m.type === "instance") statuses.push(m.instance.status);
  });
  const until = async (status: string) => {
    for (let i = 0; i < 200 && !statuses.includes(status); i++) await new Promise((r) => setTimeout(r, 10));
    return statuses;
  };
  return { status: res.status, until, close: () => res.webSocket?.close() };
}

describe("the live window", () => {
  it("reruns a failed node of an instance gone from live state with the upstream output it needs, and reads it before and after", async () => {
    const wf = await scope.createWorkflow({
      name: "live-window-rerun",
      nodes: [shellNode("make", "echo made"), shellNode("use", "cat ${nodes.make.outputs.file}")],
      edges: [{ from: "make", to: "use" }],
    });
    expect((await api("POST", `/api/v1/workflows/${wf.id}/publish`, {})).status).toBe(200);
    const id = await startRun(wf.id, { env: "prod" });
    const runner = await scope.newRunner();
    const [make] = await runner.claim();
    expect((await runner.complete(make.attemptId, 0, { file: "/data/out.csv" })).status).toBe(200);
    const [use] = await runner.claim();
    expect((await runner.complete(use.attemptId, 1)).status).toBe(200);
    const before = await instance(id);
    expect(before.status).toBe("failed");

    await leaveLiveWindow(wf.id, id);
    expect(await liveRows(wf.id, id)).toEqual({ instances: 0, runs: 0, timers: 0 });
    // D1 answers now, with what the coordinator showed.
    expect(await instance(id)).toEqual(before);
    const terminate = await api("POST", `/api/v1/instances/${id}/terminate`);
    expect(terminate.status).toBe(409);
    expect(terminate.json.error.message).toBe(`instance ${id} already failed; nothing to terminate`);

    // A follower is sent the history, then the rerun's changes.
    const live = await follow(id);
    expect(live.status).toBe(101);
    expect(await live.until("failed")).toEqual(["failed"]);

    const rerun = await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "failed" });
    expect(rerun.status).toBe(200);
    expect(rerun.json.status).toMatch(/waiting|running/);
    expect(await live.until("running")).toContain("running");
    live.close();
    const [again] = await runner.claim();
    expect(again).toMatchObject({ instanceId: id, nodeName: "use", attempt: 2, values: ["/data/out.csv"] });
    expect((await runner.complete(again.attemptId, 0)).status).toBe(200);
    const after = await instance(id);
    expect(after.status).toBe("succeeded");
    expect(after.nodes.map((n) => [n.name, n.status, n.attempt])).toEqual([["make", "succeeded", 1], ["use", "succeeded", 2]]);
    // Live again until its new finish and window.
    expect((await liveRows(wf.id, id)).instances).toBe(1);
    await leaveLiveWindow(wf.id, id);
    expect((await liveRows(wf.id, id)).instances).toBe(0);
    expect((await instance(id)).status).toBe("succeeded");
  });

  /** A dev run whose one node failed, gone from its coordinator's live state. */
  async function failedDevRunGone(name: string, code: string) {
    const wf = await scope.createWorkflow({ name, nodes: [shellNode("n", code)] });
    const id = await startRun(wf.id, { env: "dev" });
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    await runner.complete(task.attemptId, 1);
    await leaveLiveWindow(wf.id, id);
    return { wf, id, runner };
  }

  it("reruns a dev run gone from live state with the draft it ran, not the draft saved since", async () => {
    const { wf, id, runner } = await failedDevRunGone("live-window-dev", "echo original");
    expect((await liveRows(wf.id, id)).instances).toBe(0);
    const saved = await api("PUT", `/api/v1/workflows/${wf.id}`, { name: "live-window-dev", policy: { resourceGroup: scope.name() }, nodes: [shellNode("n", "echo changed")] });
    expect(saved.status).toBe(200);

    const rerun = await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "failed" });
    expect(rerun.status).toBe(200);
    const [again] = await runner.claim();
    expect(again).toMatchObject({ instanceId: id, nodeName: "n", attempt: 2 });
    expect(again.script).toContain("echo original");
    expect((await runner.complete(again.attemptId, 0)).status).toBe(200);
    expect((await instance(id)).status).toBe("succeeded");
  });

  it("refuses to rerun a dev run gone from live state whose definition D1 does not keep (mirrored before it did)", async () => {
    const { id } = await failedDevRunGone("live-window-dev-old", "false");
    await env.DB.prepare(`UPDATE instances SET def_hash = NULL, cyctime = NULL WHERE id = ?`).bind(id).run();
    const rerun = await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "failed" });
    expect(rerun.status).toBe(409);
    expect(rerun.json.error.message).toMatch(/draft/);
  });

  it("reruns an instance gone from live state under its ordering key: a later one with the key waits for it", async () => {
    const wf = await scope.createWorkflow({ name: "live-window-ordered", nodes: [shellNode("n", "true")] });
    /** A queue-like start straight to the coordinator, as trigger deliveries send it (ordering keys come from triggers). */
    const start = async (orderingKey: string) => {
      const now = Date.now();
      const run: RunSpec = {
        instanceId: newInstanceId(wf.id, now), env: "dev", receivedAt: now, runDate: null, priorityOverride: null,
        triggerType: "queue", triggerMessage: {}, params: null, orderingKey,
      };
      const draftRevision = (await api("GET", `/api/v1/workflows/${wf.id}`)).json.draftRevision as number;
      const started = await coordinator(wf.id).startMany({ workspaceId: "default", workflowId: wf.id, publishedVersion: null, draftRevision, runs: [run] });
      if (!started.ok) throw new Error(started.error.message);
      return started.value[0]!;
    };
    const first = await start("acct-1");
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    await runner.complete(task.attemptId, 1);
    await leaveLiveWindow(wf.id, first.id);
    expect((await liveRows(wf.id, first.id)).instances).toBe(0);

    expect((await api("POST", `/api/v1/instances/${first.id}/rerun`, { mode: "failed" })).status).toBe(200);
    const held = await runInDurableObject(coordinator(wf.id), (_, state) =>
      state.storage.sql.exec<{ ordering_key: string | null }>(`SELECT ordering_key FROM instances WHERE id = ?`, first.id).one().ordering_key,
    );
    expect(held).toBe("acct-1");
    const later = await start("acct-1");
    expect(later.status).toBe("waiting");
    const [again] = await runner.claim(10);
    expect(again).toMatchObject({ instanceId: first.id, attempt: 2 });
    await runner.complete(again.attemptId, 0);
    const [next] = await runner.claim(10);
    expect(next.instanceId).toBe(later.id);
  });

  it("answers a repeated Idempotency-Key with the first instance after it left live state", async () => {
    const wf = await scope.createWorkflow({ name: "live-window-dedup", nodes: [{ name: "n", type: "noop" }] });
    const first = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev" }, undefined, { "idempotency-key": "once" });
    expect(first.status).toBe(201);
    await leaveLiveWindow(wf.id, first.json.id);
    expect((await liveRows(wf.id, first.json.id)).instances).toBe(0);
    const again = await api("POST", `/api/v1/workflows/${wf.id}/runs`, { env: "dev" }, undefined, { "idempotency-key": "once" });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ id: first.json.id, status: "succeeded" });
  });

  it("keeps an instance whose D1 mirror rows are not delivered yet", async () => {
    const wf = await scope.createWorkflow({ name: "live-window-mirror", nodes: [{ name: "n", type: "noop" }] });
    const id = await startRun(wf.id);
    await mirrored(wf.id);
    await runInDurableObject(coordinator(wf.id), (_, state) => {
      state.storage.sql.exec(`UPDATE instances SET finished_at = finished_at - 7200000 WHERE id = ?`, id);
      state.storage.sql.exec(`UPDATE timers SET due_at = 1 WHERE kind = 'purge' AND ref = ?`, id);
      // A row written before the finish still waits for D1 (it backs off, so the alarm does not deliver it).
      state.storage.sql.exec(
        `INSERT INTO outbox (body, address, kind, written_at, next_at) VALUES (?, 'd1', 'd1', 0, ?)`,
        JSON.stringify({ kind: "d1", statements: [] }),
        Date.now() + 3600_000,
      );
    });
    await runDurableObjectAlarm(coordinator(wf.id));
    expect((await liveRows(wf.id, id)).instances).toBe(1);
    const purge = await runInDurableObject(coordinator(wf.id), (_, state) => {
      state.storage.sql.exec(`DELETE FROM outbox WHERE written_at = 0`);
      return state.storage.sql.exec<{ due_at: number }>(`SELECT due_at FROM timers WHERE kind = 'purge' AND ref = ?`, id).one().due_at;
    });
    expect(purge).toBeGreaterThan(Date.now());
  });
});
