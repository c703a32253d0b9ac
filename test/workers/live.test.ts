// Live status over a WebSocket from the coordinator: snapshots on every change and log chunks as they land.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
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
