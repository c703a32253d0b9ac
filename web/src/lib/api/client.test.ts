// The shared client as the CLI uses it, in Node: no page, an explicit server, a key, and errors thrown with the API's message.
import { describe, expect, it } from "vitest";
import { ApiError, createSluiceClient, data } from "./client.ts";

const answer = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("createSluiceClient in Node", () => {
  it("runs without browser globals: calls the server it is given with the key and returns the data", async () => {
    expect("window" in globalThis || "location" in globalThis).toBe(false);
    const seen: Request[] = [];
    const sluice = createSluiceClient({
      baseUrl: "http://127.0.0.1:8787",
      key: "sk_cli",
      fetch: (async (request: Request) => {
        seen.push(request);
        return answer(200, { id: "ins_1", status: "running" });
      }) as typeof fetch,
    });
    const done = await data(sluice.POST("/api/v1/instances/{id}/terminate", { params: { path: { id: "wf_1.ins 1" } } }));
    expect(done).toEqual({ id: "ins_1", status: "running" });
    expect(seen[0]!.url).toBe("http://127.0.0.1:8787/api/v1/instances/wf_1.ins%201/terminate");
    expect(seen[0]!.headers.get("authorization")).toBe("Bearer sk_cli");
  });

  it("throws an ApiError carrying the API's code, message and details", async () => {
    const sluice = createSluiceClient({
      baseUrl: "http://127.0.0.1:8787",
      fetch: (async () => answer(404, { error: { code: "not_found", message: "instance ins_9 not found", details: [] } })) as typeof fetch,
    });
    const failure = await sluice.GET("/api/v1/instances/{id}", { params: { path: { id: "ins_9" } } }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 404, code: "not_found", message: "instance ins_9 not found" });
  });
});
