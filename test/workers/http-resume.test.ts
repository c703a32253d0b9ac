// An http node whose request was cut off by the coordinator's eviction: the request is made again, once.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, instance, isolatedGroup, startRun } from "./helpers.ts";
import { fakeHttpTarget } from "./http-target.ts";
import { eventually } from "./trigger-helpers.ts";

const scope = isolatedGroup();
const HOST = "flaky-target.sluice.test";
const coordinator = (workflowId: string) => env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));

// The first request never answers (its caller is evicted); later ones answer 200.
const target = fakeHttpTarget(HOST, async (_, n) => (n === 1 ? new Promise<Response>(() => {}) : new Response("done", { status: 200 })));

describe("http nodes across an eviction", () => {
  it("makes a request cut off by an eviction again and records its outcome", async () => {
    const wf = await scope.createWorkflow({
      name: `resumed-http-${crypto.randomUUID().slice(0, 6)}`,
      nodes: [{ name: "call", type: "http", http: { url: `http://${HOST}/work` }, timeoutSeconds: 600 }],
    });
    const id = await startRun(wf.id);
    await eventually(async () => target.calls, (n) => n === 1);
    // What an eviction leaves: the request's row in storage, and an object that knows of no request in
    // flight. (A real evictDurableObject would wait for the hung request forever.) The watch timer,
    // every 30 s, then finds the request without an outcome and nobody making it.
    await runInDurableObject(coordinator(wf.id), (object, state) => {
      (object as unknown as { httpInFlight: Map<string, AbortController> }).httpInFlight.clear();
      state.storage.sql.exec(`UPDATE timers SET due_at = 0 WHERE kind = 'http'`);
    });
    await runDurableObjectAlarm(coordinator(wf.id));
    await eventually(async () => (await instance(id)).status, (s) => s === "succeeded");
    expect(target.calls).toBe(2);
    const log = (await api("GET", `/api/v1/instances/${id}/nodes/call/log`)).text;
    expect(log).toContain("[sluice] the coordinator restarted during the request; making it again");
    expect(log).toContain("HTTP 200");
  });
});
