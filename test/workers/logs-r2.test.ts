// Finished attempts' logs live in R2, one object each; D1 keeps running attempts' tails and lines written after an archive.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { logObjectKey } from "../../worker/core/logs.ts";
import { archiveAttempt, archiveFinishedLogs, logAttempt } from "../../worker/db/log-store.ts";
import { ADMIN, api, type FakeRunner, isolatedGroup, mirrored, shellNode, startRun } from "./helpers.ts";

const scope = isolatedGroup();

const postChunk = (runner: FakeRunner, attemptId: string, text: string, seq: number) =>
  api("POST", `/api/v1/runner/attempts/${attemptId}/log?seq=${seq}`, text, runner.token, { "x-sluice-runner": runner.runnerId, "x-sluice-lease": runner.leaseOf(attemptId) });

async function runningAttempt(name: string, chunks: string[]) {
  const wf = await scope.createWorkflow({ name, nodes: [shellNode("n", "echo hi")] });
  const id = await startRun(wf.id);
  const runner = await scope.newRunner();
  const [task] = await runner.claim();
  const attemptId = task.attemptId as string;
  for (const [seq, text] of chunks.entries()) expect((await postChunk(runner, attemptId, text, seq)).status).toBe(204);
  return { workflowId: wf.id, id, runner, attemptId };
}

const chunksInD1 = async (attemptId: string) =>
  (await env.DB.prepare(`SELECT COUNT(*) AS n FROM node_logs WHERE node_run_id = ?`).bind(attemptId).first<{ n: number }>())!.n;

async function keyOf(attemptId: string): Promise<string> {
  const a = (await logAttempt(env.DB, attemptId))!;
  return logObjectKey(a.workspace_id, a.instance_id, a.node_name, a.attempt);
}

const objectText = async (attemptId: string) => (await env.LOGS.get(await keyOf(attemptId)))?.text() ?? null;

/** The runner's result archives in the background (waitUntil): waits until the object is there and D1 holds nothing. */
async function untilArchived(attemptId: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await chunksInD1(attemptId)) > 0 || (await objectText(attemptId)) === null) {
    if (Date.now() > deadline) throw new Error(`the log of ${attemptId} was not archived within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A line the Worker writes itself after the archive (a coordinator's note, as its outbox mirror stores it). */
const lateLine = (attemptId: string, text: string) => env.DB.prepare(`INSERT INTO node_logs (node_run_id, text) VALUES (?, ?)`).bind(attemptId, text).run();

/** Every finished attempt, however recent (the sweep's age guard set to a minute from now). */
const sweepAll = () => archiveFinishedLogs(env.DB, env.LOGS, Date.now() + 60_000);

const readLog = (id: string, range?: string) =>
  SELF.fetch(`http://sluice.test/api/v1/instances/${id}/nodes/n/log`, { headers: { authorization: `Bearer ${ADMIN}`, ...(range ? { range } : {}) } });

async function archived(name: string, chunks: string[]) {
  const run = await runningAttempt(name, chunks);
  expect((await run.runner.complete(run.attemptId, 0)).status).toBe(200);
  await untilArchived(run.attemptId);
  return run;
}

describe("logs in R2", () => {
  it("moves a finished attempt's log into one R2 object after its runner's result, and deletes its D1 chunks", async () => {
    const { id, attemptId } = await archived("archive_result", ["one\n", "two\n"]);
    expect(await objectText(attemptId)).toBe("one\ntwo\n");
    expect(await chunksInD1(attemptId)).toBe(0);
    const res = await readLog(id);
    expect(res.status).toBe(200);
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(await res.text()).toBe("one\ntwo\n");
  });

  it("keeps a line written after the archive, serves it after the object, and appends it at the next sweep", async () => {
    const { id, attemptId } = await archived("archive_late", ["one\n", "two\n"]);
    await lateLine(attemptId, "[sluice] late note\n");
    expect(await (await readLog(id)).text()).toBe("one\ntwo\n[sluice] late note\n");

    await sweepAll();
    expect(await chunksInD1(attemptId)).toBe(0);
    expect(await objectText(attemptId)).toBe("one\ntwo\n[sluice] late note\n");
    expect(await (await readLog(id)).text()).toBe("one\ntwo\n[sluice] late note\n");
  });

  it("serves the archived object while D1 still shows the attempt running (its mirror a moment behind the result)", async () => {
    const { id, attemptId } = await archived("archive_mirror_lag", ["done\n"]);
    await env.DB.prepare(`UPDATE node_runs SET status = 'running', finished_at = NULL WHERE id = ?`).bind(attemptId).run();
    expect(await (await readLog(id)).text()).toBe("done\n");
  });

  it("serves a running attempt's log from its D1 tail, and writes no object for it", async () => {
    const { id, attemptId } = await runningAttempt("live_tail", ["still\n", "going\n"]);
    await sweepAll();
    expect(await (await readLog(id)).text()).toBe("still\ngoing\n");
    const ranged = await readLog(id, "bytes=-6");
    expect(ranged.status).toBe(206);
    expect(await ranged.text()).toBe("going\n");
    expect(await chunksInD1(attemptId)).toBe(2);
    expect(await objectText(attemptId)).toBeNull();
  });

  it("archives in the cron's sweep an attempt that never had a runner result (terminated), once it is old enough", async () => {
    const { workflowId, id, attemptId } = await runningAttempt("archive_sweep", ["before the end\n"]);
    expect((await api("POST", `/api/v1/instances/${id}/terminate`)).status).toBe(200);
    await mirrored(workflowId);
    const finishedAt = (await env.DB.prepare(`SELECT finished_at FROM node_runs WHERE id = ?`).bind(attemptId).first<{ finished_at: number }>())!.finished_at;

    await archiveFinishedLogs(env.DB, env.LOGS, finishedAt);
    expect(await objectText(attemptId)).toBeNull();

    await archiveFinishedLogs(env.DB, env.LOGS, finishedAt + 1);
    expect(await chunksInD1(attemptId)).toBe(0);
    expect(await objectText(attemptId)).toMatch(/^before the end\n/);
    expect(await (await readLog(id)).text()).toBe(await objectText(attemptId));
  });

  it("writes no chunk twice when an earlier archive wrote its object but never deleted the chunks", async () => {
    const { workflowId, id, attemptId } = await runningAttempt("archive_again", ["a\n", "b\n"]);
    await api("POST", `/api/v1/instances/${id}/terminate`);
    await mirrored(workflowId);
    const { results } = await env.DB.prepare(`SELECT id, text FROM node_logs WHERE node_run_id = ? ORDER BY id`).bind(attemptId).all<{ id: number; text: string }>();
    const whole = results.map((r) => r.text).join("");
    await env.LOGS.put(await keyOf(attemptId), whole, { customMetadata: { through: String(results.at(-1)!.id) } });

    await sweepAll();
    expect(await chunksInD1(attemptId)).toBe(0);
    expect(await objectText(attemptId)).toBe(whole);
  });

  it("writes nothing and deletes nothing when another archiver wrote the object first; the next sweep completes it", async () => {
    const { workflowId, id, attemptId } = await runningAttempt("archive_race", ["a\n", "b\n"]);
    await api("POST", `/api/v1/instances/${id}/terminate`);
    await mirrored(workflowId);
    const [first] = (await env.DB.prepare(`SELECT id FROM node_logs WHERE node_run_id = ? ORDER BY id`).bind(attemptId).all<{ id: number }>()).results;
    const key = await keyOf(attemptId);
    // Another archiver, which saw only the first chunk, writes between this one's read and its write.
    const racing = new Proxy(env.LOGS, {
      get: (bucket, prop) =>
        prop === "put"
          ? async (...args: Parameters<R2Bucket["put"]>) => {
              await bucket.put(key, "a\n", { customMetadata: { through: String(first!.id) } });
              return bucket.put(...args);
            }
          : Reflect.get(bucket, prop).bind(bucket),
    });

    expect(await archiveAttempt(env.DB, racing, (await logAttempt(env.DB, attemptId))!)).toBe(0);
    expect(await objectText(attemptId)).toBe("a\n");
    expect(await chunksInD1(attemptId)).toBeGreaterThanOrEqual(2);

    await sweepAll();
    expect(await chunksInD1(attemptId)).toBe(0);
    expect(await objectText(attemptId)).toMatch(/^a\nb\n/);
  });
});

describe("byte ranges of a log", () => {
  const TEXT = "0123456789\n"; // 11 bytes

  it("reads bytes=a-b, bytes=a- and bytes=-n of an archived log from R2, with Content-Range", async () => {
    const { id } = await archived("range_r2", [TEXT]);
    for (const [range, body, contentRange] of [
      ["bytes=2-5", "2345", "bytes 2-5/11"],
      ["bytes=5-", "56789\n", "bytes 5-10/11"],
      ["bytes=-3", "89\n", "bytes 8-10/11"],
      ["bytes=8-100", "89\n", "bytes 8-10/11"],
    ]) {
      const res = await readLog(id, range);
      expect(res.status, range).toBe(206);
      expect(res.headers.get("content-range"), range).toBe(contentRange);
      expect(await res.text(), range).toBe(body);
    }
  });

  it("answers 416 with the log's size to a range past its end or a malformed one", async () => {
    const { id } = await archived("range_416", [TEXT]);
    for (const range of ["bytes=11-", "bytes=x-1"]) {
      const res = await readLog(id, range);
      expect(res.status, range).toBe(416);
      expect(res.headers.get("content-range"), range).toBe("bytes */11");
      await res.body?.cancel();
    }
  });

  it("documents byte ranges on the log route in the OpenAPI document", async () => {
    const doc = (await api("GET", "/api/v1/openapi.json", undefined, null)).json;
    const route = doc.paths["/api/v1/instances/{id}/nodes/{name}/log"].get;
    expect(route.description).toContain("Range: bytes=a-b");
    expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(["200", "206", "416"]));
    expect(route.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toContain("header:range");
  });

  it("serves a range across the object and the lines written after it", async () => {
    const { id, attemptId } = await archived("range_mixed", [TEXT]);
    await lateLine(attemptId, "ab\n");
    const res = await readLog(id, "bytes=-5");
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 9-13/14");
    expect(await res.text()).toBe("9\nab\n");
  });
});
