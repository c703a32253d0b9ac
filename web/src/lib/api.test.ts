import { describe, expect, it, vi } from "vitest";
import { ApiError, createApi } from "./api.ts";

interface Sent {
  url: string;
  method: string;
  headers: Headers;
  body: string | undefined;
}

/** Where the console is served from in these tests: calls go to the page's origin unless a baseUrl is given. */
const PAGE = "http://console.test";
vi.stubGlobal("location", new URL(`${PAGE}/workflows`));

/** A fetch that records what it was sent (paths on the page's own origin relative) and answers with one canned response. */
function fakeFetch(respond: () => Response) {
  const sent: Sent[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    sent.push({
      url: request.url.startsWith(`${PAGE}/`) ? request.url.slice(PAGE.length) : request.url,
      method: request.method,
      headers: request.headers,
      body: request.body ? await request.text() : undefined,
    });
    return respond();
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, sent };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("createApi", () => {
  it("sends the API key as a bearer token on every call", async () => {
    const { fetch, sent } = fakeFetch(() => json(200, { items: [], nextCursor: null }));
    let key: string | null = "sk_one";
    const api = createApi({ getKey: () => key, fetch });

    await api.listWorkflows();
    key = "sk_two";
    await api.listWorkflows();

    expect(sent.map((s) => s.headers.get("authorization"))).toEqual(["Bearer sk_one", "Bearer sk_two"]);
  });

  it("sends no authorization header without a key", async () => {
    const { fetch, sent } = fakeFetch(() => json(200, { items: [], nextCursor: null }));
    await createApi({ getKey: () => null, fetch }).listWorkflows();
    expect(sent[0]!.headers.has("authorization")).toBe(false);
  });

  it("puts only the set filter values in the query string", async () => {
    const { fetch, sent } = fakeFetch(() => json(200, { items: [], nextCursor: null }));
    const api = createApi({ getKey: () => "k", fetch, baseUrl: "https://sluice.test" });

    await api.listInstances({ workflowId: "wf_1", status: "failed", env: undefined, limit: 50, cursor: null });

    expect(sent[0]!.url).toBe("https://sluice.test/api/v1/instances?workflowId=wf_1&status=failed&limit=50");
  });

  it("posts a run as JSON and returns the new instance", async () => {
    const { fetch, sent } = fakeFetch(() => json(201, { id: "ins_1", status: "waiting" }));
    const api = createApi({ getKey: () => "k", fetch });

    const started = await api.startRun("wf 1", { env: "dev", runDate: "20260310", triggerMessage: { a: 1 } });

    expect(started).toEqual({ id: "ins_1", status: "waiting" });
    expect(sent[0]).toMatchObject({ url: "/api/v1/workflows/wf%201/runs", method: "POST" });
    expect(sent[0]!.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(sent[0]!.body!)).toEqual({ env: "dev", runDate: "20260310", triggerMessage: { a: 1 } });
  });

  it("reads a node log as text, escaping the node name in the path", async () => {
    const { fetch, sent } = fakeFetch(() => new Response("Hello, Trigger Workflow!\n", { status: 200 }));
    const api = createApi({ getKey: () => "k", fetch });

    expect(await api.getNodeLog("ins_1", "load/../x", 2)).toBe("Hello, Trigger Workflow!\n");
    expect(sent[0]!.url).toBe("/api/v1/instances/ins_1/nodes/load%2F..%2Fx/log?attempt=2");
  });

  it("throws the server's error code, message and details", async () => {
    const body = {
      error: {
        code: "validation_failed",
        message: "runDate must be yyyymmdd",
        details: [{ path: "runDate", message: "must be yyyymmdd" }],
      },
    };
    const { fetch } = fakeFetch(() => json(400, body));
    const error = await createApi({ getKey: () => "k", fetch })
      .startRun("wf_1", { env: "dev", runDate: "x" })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 400,
      code: "validation_failed",
      message: "runDate must be yyyymmdd",
      details: [{ path: "runDate", message: "must be yyyymmdd" }],
    });
  });

  it("tells the app about a 401 and still throws", async () => {
    const { fetch } = fakeFetch(() => json(401, { error: { code: "unauthorized", message: "Invalid API key", details: [] } }));
    const onUnauthorized = vi.fn();
    const error = await createApi({ getKey: () => "bad", fetch, onUnauthorized })
      .getWorkflow("wf_1")
      .catch((e: unknown) => e);

    expect(onUnauthorized).toHaveBeenCalledOnce();
    expect(error).toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("does not call the 401 hook for other errors", async () => {
    const { fetch } = fakeFetch(() => json(404, { error: { code: "not_found", message: "Workflow was not found" } }));
    const onUnauthorized = vi.fn();
    await createApi({ getKey: () => "k", fetch, onUnauthorized }).getWorkflow("nope").catch(() => {});
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it("turns a response that is not our error body into an ApiError with the status", async () => {
    const { fetch } = fakeFetch(() => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    const error = await createApi({ getKey: () => "k", fetch }).listWorkflows().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: "http_502", message: "502 Bad Gateway", details: [] });
  });

  it("reports a success that is not JSON, such as an HTML page where the API should be", async () => {
    const { fetch } = fakeFetch(() => new Response("<!doctype html><html></html>", { status: 200 }));
    const error = await createApi({ getKey: () => "k", fetch }).listWorkflows().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 200, code: "bad_response", message: "GET /workflows did not answer with JSON." });
  });

  it("reports an unreachable server as status 0", async () => {
    const fetch = (async () => {
      throw new TypeError("fetch failed");
    }) as typeof globalThis.fetch;
    const error = await createApi({ getKey: () => "k", fetch }).listWorkflows().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, code: "network" });
    expect((error as ApiError).message).toMatch(/fetch failed/);
  });

  it("calls the operations endpoints with the contract's paths and bodies", async () => {
    const { fetch, sent } = fakeFetch(() => json(200, {}));
    const api = createApi({ getKey: () => "k", fetch });

    await api.rerunFrom("ins_1", "load data");
    await api.bulk("rerun-failed", { workflowId: "wf_1", status: "failed" }, true);
    await api.replayEvent("trg 1", "evt_1");
    await api.pauseTrigger("trg_1");
    await api.resumeTrigger("trg_1");
    await api.discardKept("trg_1");
    await api.listAlerts("wf_1", "c1");
    await api.testAlert("wf_1");
    await api.testAlert("wf_1", "https://hooks.test/a");
    await api.alertSecret("wf_1");

    expect(sent.map((s) => `${s.method} ${s.url} ${s.body ?? ""}`.trim())).toEqual([
      'POST /api/v1/instances/ins_1/rerun {"mode":"from","node":"load data"}',
      'POST /api/v1/instances/bulk {"action":"rerun-failed","filter":{"workflowId":"wf_1","status":"failed"},"dryRun":true}',
      "POST /api/v1/triggers/trg%201/events/evt_1/replay {}",
      "POST /api/v1/triggers/trg_1/pause {}",
      "POST /api/v1/triggers/trg_1/resume {}",
      "POST /api/v1/triggers/trg_1/discard {}",
      "GET /api/v1/workflows/wf_1/alerts?cursor=c1",
      "POST /api/v1/workflows/wf_1/alerts/test {}",
      'POST /api/v1/workflows/wf_1/alerts/test {"url":"https://hooks.test/a"}',
      "GET /api/v1/workflows/wf_1/alerts/secret",
    ]);
  });
});
