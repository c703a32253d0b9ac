// The CLI's adapter over the shared client: what a command line needs beyond one JSON call.
import { describe, expect, it } from "vitest";
import { ApiError, createApi } from "../api.ts";
import { ApiError as SharedApiError } from "../../web/src/lib/api/client.ts";
import { fakeServer } from "./fake-server.ts";

describe("the CLI's API", () => {
  it("reads every page of a list, 200 at a time, until there is no next cursor", async () => {
    const { api, seen } = fakeServer(({ query }) =>
      query.get("cursor") === null ? { items: [{ id: "trg_1", name: "a" }], nextCursor: "c2" } : { items: [{ id: "trg_2", name: "b" }], nextCursor: null },
    );
    const items = await api.all("/api/v1/triggers");
    expect(items.map((t) => t.name)).toEqual(["a", "b"]);
    expect(seen.map((r) => `${r.method} ${r.path}?${r.query}`)).toEqual(["GET /api/v1/triggers?limit=200", "GET /api/v1/triggers?limit=200&cursor=c2"]);
  });

  it("reads a log from a byte offset as text; nothing past the end (416) is empty text", async () => {
    const { api, seen } = fakeServer(({ headers }) =>
      headers.get("range") === "bytes=99-" ? new Response("", { status: 416 }) : new Response("line\n", { status: headers.has("range") ? 206 : 200, headers: { "content-type": "text/plain" } }),
    );
    expect(await api.log("ins 1", "load/x", 2, 5)).toEqual({ status: 206, text: "line\n" });
    expect(await api.log("ins 1", "load/x")).toEqual({ status: 200, text: "line\n" });
    expect(await api.log("ins 1", "load/x", 2, 99)).toEqual({ status: 416, text: "" });
    expect(seen[0]!.path).toBe("/api/v1/instances/ins%201/nodes/load%2Fx/log");
    expect(seen[0]!.query.get("attempt")).toBe("2");
    expect(seen[0]!.headers.get("accept")).toBe("text/plain");
    expect(seen[1]!.headers.has("range")).toBe(false);
    expect(seen[1]!.query.has("attempt")).toBe(false);
  });

  it("uploads a file's bytes as they are, the key's slashes kept", async () => {
    const { api, seen } = fakeServer(() => ({ bucket: "raw", key: "2026/03/a b.csv", size: 3, eTag: "e1" }));
    const answer = await api.upload("raw", "2026/03/a b.csv", new Uint8Array([0xff, 0x00, 0x41]), "text/csv");
    expect(answer.eTag).toBe("e1");
    expect(seen[0]!.method).toBe("PUT");
    expect(seen[0]!.path).toBe("/api/v1/buckets/raw/objects/2026/03/a%20b.csv");
    expect(seen[0]!.headers.get("content-type")).toBe("text/csv");
    expect([...seen[0]!.bytes]).toEqual([0xff, 0x00, 0x41]);
  });

  it("fails with the shared ApiError: the API's message and details, an HTML page said as such", async () => {
    const details = [{ path: "nodes[0].code", message: "nodes[0].code: required" }];
    const refused = fakeServer(() => new ApiError(400, "invalid_definition", "the definition is invalid", details)).api;
    const failure = await refused.client.GET("/api/v1/workflows/{id}", { params: { path: { id: "wf_1" } } }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SharedApiError);
    expect(failure).toMatchObject({ status: 400, code: "invalid_definition", message: "the definition is invalid", details });

    const html = fakeServer(() => new Response("<!doctype html><p>console</p>", { status: 200, headers: { "content-type": "text/html" } })).api;
    await expect(html.all("/api/v1/workflows")).rejects.toThrow("GET /workflows did not answer with JSON.");
  });

  it("names the server it cannot reach", async () => {
    const api = createApi({ url: "http://127.0.0.1:9/", key: "k" }, (async () => {
      throw new TypeError("fetch failed", { cause: "ECONNREFUSED" });
    }) as typeof fetch);
    await expect(api.all("/api/v1/workflows")).rejects.toMatchObject({ status: 0, code: "unreachable", message: "cannot reach http://127.0.0.1:9: ECONNREFUSED" });
  });
});
