// Runner log chunks carry a per-attempt seq: a chunk posted again after a lost answer is stored, and streamed, once.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN, api, type FakeRunner, isolatedGroup, shellNode, startRun } from "./helpers.ts";

const scope = isolatedGroup();

const postChunk = (runner: FakeRunner, attemptId: string, text: string, seq?: number | string) =>
  api("POST", `/api/v1/runner/attempts/${attemptId}/log${seq === undefined ? "" : `?seq=${seq}`}`, text, runner.token, { "x-sluice-runner": runner.runnerId, "x-sluice-lease": runner.leaseOf(attemptId) });

async function runningAttempt(name: string) {
  const wf = await scope.createWorkflow({ name, nodes: [shellNode("n", "echo hi")] });
  const id = await startRun(wf.id);
  const runner = await scope.newRunner();
  const [task] = await runner.claim();
  return { id, runner, attemptId: task.attemptId as string };
}

const logOf = async (id: string) => (await api("GET", `/api/v1/instances/${id}/nodes/n/log`)).text;

describe("runner log chunks", () => {
  it("stores a chunk posted twice with the same seq once, and reads the log in order", async () => {
    const { id, runner, attemptId } = await runningAttempt("seq_dedup");
    for (const [text, seq] of [["one\n", 0], ["one\n", 0], ["two\n", 1], ["three\n", 2], ["two\n", 1], ["three\n", 2]] as const) {
      expect((await postChunk(runner, attemptId, text, seq)).status).toBe(204);
    }
    expect((await runner.complete(attemptId, 0)).status).toBe(200);
    expect(await logOf(id)).toBe("one\ntwo\nthree\n");
  });

  it("keeps every chunk sent without a seq (runners from before seq), as before", async () => {
    const { id, runner, attemptId } = await runningAttempt("no_seq");
    await postChunk(runner, attemptId, "same\n");
    await postChunk(runner, attemptId, "same\n");
    await runner.complete(attemptId, 0);
    expect(await logOf(id)).toBe("same\nsame\n");
  });

  it("numbers chunks per attempt: seq 0 of one attempt does not hide seq 0 of another", async () => {
    const a = await runningAttempt("seq_a");
    const b = await runningAttempt("seq_b");
    await postChunk(a.runner, a.attemptId, "from a\n", 0);
    await postChunk(b.runner, b.attemptId, "from b\n", 0);
    expect(await logOf(a.id)).toBe("from a\n");
    expect(await logOf(b.id)).toBe("from b\n");
  });

  it("refuses a seq that is not a non-negative integer", async () => {
    const { runner, attemptId } = await runningAttempt("bad_seq");
    for (const seq of ["-1", "1.5", "x"]) expect((await postChunk(runner, attemptId, "x\n", seq)).status, seq).toBe(400);
  });

  it("does not stream a repeated chunk to live followers again", async () => {
    const { id, runner, attemptId } = await runningAttempt("seq_live");
    const res = await SELF.fetch(`http://sluice.test/api/v1/instances/${id}/live`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `sluice.v1, bearer.${ADMIN}` },
    });
    const ws = res.webSocket!;
    const logs: string[] = [];
    let sawLast: () => void = () => {};
    const last = new Promise<void>((resolve) => (sawLast = resolve));
    ws.accept();
    ws.addEventListener("message", (e) => {
      const m = JSON.parse(e.data as string);
      if (m.type !== "log") return;
      logs.push(m.text);
      if (m.text === "last\n") sawLast();
    });
    await postChunk(runner, attemptId, "first\n", 0);
    await postChunk(runner, attemptId, "first\n", 0);
    await postChunk(runner, attemptId, "last\n", 1);
    await last;
    expect(logs).toEqual(["first\n", "last\n"]);
    ws.close();
  });
});
