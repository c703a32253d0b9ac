import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api.ts";
import { fakeServer } from "./fake-server.ts";
import { follow, LogCursor, type FollowSink, type Instance } from "../follow.ts";

function recorder() {
  const seen: string[] = [];
  const sink: FollowSink = {
    node: (n) => seen.push(`node ${n.name} ${n.status}`),
    log: (node, text) => seen.push(`log ${node} ${JSON.stringify(text)}`),
    instance: (i) => seen.push(`instance ${i.status}`),
    notice: (t) => seen.push(`notice ${t}`),
  };
  return { seen, sink };
}

/** An API whose logs answer byte ranges as the Worker does (206 from the offset, 416 past the end). */
function fakeApi(instance: Instance, logs: Record<string, string>) {
  const ranges: string[] = [];
  const { api, seen } = fakeServer(({ path, headers }) => {
    const log = /^\/api\/v1\/instances\/[^/]+\/nodes\/([^/]+)\/log$/.exec(path);
    if (!log) return instance;
    const node = decodeURIComponent(log[1]!);
    const from = Number(/^bytes=(\d+)-$/.exec(headers.get("range") ?? "")?.[1] ?? 0);
    ranges.push(`${node}@${from}`);
    if (!(node in logs)) return new ApiError(404, "not_found", "no log", []);
    const bytes = Buffer.from(logs[node]!);
    if (from >= bytes.length && from > 0) return new Response("", { status: 416 });
    return new Response(bytes.subarray(from), { status: from ? 206 : 200, headers: { "content-type": "text/plain; charset=utf-8" } });
  });
  return { api, ranges, requests: seen };
}

afterEach(() => vi.unstubAllGlobals());

describe("following a run", () => {
  it("prints only the bytes of a log the live chunks did not carry (multi-byte text included)", async () => {
    const { seen, sink } = recorder();
    const cursor = new LogCursor(sink);
    cursor.chunk("a", 1, "héllo\n");
    const instance: Instance = { id: "ins_1", status: "succeeded", nodes: [{ name: "a", status: "succeeded", attempt: 1 }, { name: "b", status: "skipped", attempt: 1 }] };
    const { api, ranges, requests } = fakeApi(instance, { a: "héllo\nworld\n" });
    await cursor.catchUp(api, instance);
    expect(ranges).toEqual(["a@7", "b@0"]);
    expect(requests.map((r) => `${r.path}?${r.query}`)).toEqual(["/api/v1/instances/ins_1/nodes/a/log?attempt=1", "/api/v1/instances/ins_1/nodes/b/log?attempt=1"]);
    expect(seen).toEqual(['log a "héllo\\n"', 'log a "world\\n"']);
  });

  it("says each node state once, and only the followed node's", () => {
    const { seen, sink } = recorder();
    const cursor = new LogCursor(sink, "a");
    const state = (status: string): Instance => ({ id: "i", status: "running", nodes: [{ name: "a", status, attempt: 1 }, { name: "b", status, attempt: 1 }] });
    cursor.instance(state("running"));
    cursor.instance(state("running"));
    cursor.instance(state("succeeded"));
    cursor.chunk("b", 1, "not mine");
    expect(seen).toEqual(["node a running", "node a succeeded"]);
  });

  it("polls when there is no WebSocket, and ends with the whole log and the final state", async () => {
    vi.stubGlobal("WebSocket", undefined);
    const { seen, sink } = recorder();
    const instance: Instance = { id: "ins_1", status: "failed", nodes: [{ name: "a", status: "failed", attempt: 2, error: "exit code 3" }] };
    const done = await follow(fakeApi(instance, { a: "about to fail\n" }).api, "ins_1", sink);
    expect(done.status).toBe("failed");
    expect(seen).toEqual(["node a failed", 'log a "about to fail\\n"', "instance failed"]);
  });
});
