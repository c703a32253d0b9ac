// Live status over a WebSocket from the coordinator: snapshots on every change and log chunks as they land.
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WorkflowCoordinator } from "../../worker/coordinator/workflow-coordinator.ts";
import { ADMIN, api, isolatedGroup, shellNode, startRun } from "./helpers.ts";

const scope = isolatedGroup();

async function follow(instanceId: string, protocols = ["sluice.v1", `bearer.${ADMIN}`]) {
  const res = await SELF.fetch(`http://sluice.test/api/v1/instances/${instanceId}/live`, {
    headers: { upgrade: "websocket", "sec-websocket-protocol": protocols.join(", ") },
  });
  const ws = res.webSocket;
  if (!ws) return { status: res.status, messages: [] as any[], next: async () => undefined as any };
  const messages: any[] = [];
  const waiting: ((m: any) => void)[] = [];
  ws.accept();
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(e.data as string);
    const w = waiting.shift();
    if (w) w(m);
    else messages.push(m);
  });
  /** The next message that satisfies `match`. */
  const next = async (match: (m: any) => boolean): Promise<any> => {
    for (;;) {
      const m = messages.length ? messages.shift() : await new Promise((resolve) => waiting.push(resolve));
      if (match(m)) return m;
    }
  };
  return { status: res.status, messages, next, ws };
}

describe("live status", () => {
  it("streams the instance's changes and its log chunks", async () => {
    const wf = await scope.createWorkflow({ name: "watched", nodes: [shellNode("n", "echo hi")] });
    const id = await startRun(wf.id);
    const live = await follow(id);
    expect(live.status).toBe(101);
    const first = await live.next((m) => m.type === "instance");
    expect(first.instance).toMatchObject({ id, status: "running" });

    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    expect((await live.next((m) => m.type === "instance" && m.instance.nodes[0].status === "running")).instance.nodes[0].name).toBe("n");
    await runner.log(task.attemptId, "hi\n");
    expect(await live.next((m) => m.type === "log")).toEqual({ type: "log", node: "n", attempt: 1, text: "hi\n" });
    await runner.complete(task.attemptId, 0);
    const last = await live.next((m) => m.type === "instance" && m.instance.status === "succeeded");
    expect(last.instance.nodes[0]).toMatchObject({ status: "succeeded", exitCode: 0 });
    live.ws?.close();
  });

  it("refuses a follower without a valid key", async () => {
    const wf = await scope.createWorkflow({ name: "private", nodes: [shellNode("n", "true")] });
    const id = await startRun(wf.id);
    expect((await follow(id, ["sluice.v1", "bearer.wrong"])).status).toBe(401);
  });

  it("answers a plain GET with 426 and the error shape", async () => {
    const wf = await scope.createWorkflow({ name: "plain", nodes: [shellNode("n", "true")] });
    const id = await startRun(wf.id);
    const res = await api("GET", `/api/v1/instances/${id}/live`);
    expect(res.status).toBe(426);
    expect(res.json.error.message).toMatch(/WebSocket/);
  });
});

describe("log chunks and the coordinator", () => {
  afterEach(() => vi.restoreAllMocks());

  /** The instances the group's pool sends log chunks on for, as the coordinators told it. */
  const watched = () => runInDurableObject(scope.pool(), (_, state) => state.storage.sql.exec<{ instance_id: string }>(`SELECT instance_id FROM watches`).toArray().map((r) => r.instance_id));

  async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(value)} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it("go to the coordinator only while someone watches the instance, and a watcher misses no line", async () => {
    // Counts the route's calls (a spy in the test only; nothing of it ships).
    const appended = vi.spyOn(WorkflowCoordinator.prototype, "logAppended");
    const wf = await scope.createWorkflow({ name: "watched-logs", nodes: [shellNode("n", "echo hi")] });
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [task] = await runner.claim();
    expect((await runner.log(task.attemptId, "before anyone watched\n")).status).toBe(204);
    expect(await watched()).toEqual([]);

    const live = await follow(id);
    expect(await watched()).toEqual([id]);
    await runner.log(task.attemptId, "while watched\n");
    expect(await live.next((m) => m.type === "log")).toMatchObject({ text: "while watched\n" });
    live.ws?.close();
    await until(watched, (ids) => ids.length === 0);

    await runner.log(task.attemptId, "after the last watcher left\n");
    const again = await follow(id);
    await runner.log(task.attemptId, "watched again\n");
    expect(await again.next((m) => m.type === "log")).toMatchObject({ text: "watched again\n" });
    again.ws?.close();

    expect(appended.mock.calls.map((call) => call[3])).toEqual(["while watched\n", "watched again\n"]);
    expect((await api("GET", `/api/v1/instances/${id}/nodes/n/log`)).text).toBe(
      "before anyone watched\nwhile watched\nafter the last watcher left\nwatched again\n",
    );
  });

  it("keeps an instance watched while one of its sockets stays open, renewing the watch before it lapses", async () => {
    const wf = await scope.createWorkflow({ name: "two-watchers", nodes: [shellNode("n", "echo hi")] });
    const id = await startRun(wf.id);
    const first = await follow(id);
    const second = await follow(id);
    first.ws?.close();
    const coordinator = env.COORDINATOR.get(env.COORDINATOR.idFromName(wf.id));
    // As if the watch were about to lapse: the alarm renews it, since a socket is still open.
    await runInDurableObject(coordinator, (_, state) => state.storage.kv.put(`watch:${id}`, Date.now() + 1_000));
    await runDurableObjectAlarm(coordinator);
    const until_ = await runInDurableObject(scope.pool(), (_, state) => state.storage.sql.exec<{ until: number }>(`SELECT until FROM watches WHERE instance_id = ?`, id).one().until);
    expect(until_).toBeGreaterThan(Date.now() + 60_000);
    expect(await watched()).toEqual([id]);
    second.ws?.close();
    await until(watched, (ids) => ids.length === 0);
  });
});
