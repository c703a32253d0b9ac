// http nodes against a fake target in the Workers runtime: a terminate stops the request in flight, so a rerun never overlaps it.
import { beforeEach, describe, expect, it } from "vitest";
import { api, instance, isolatedGroup, startRun } from "./helpers.ts";
import { fakeHttpTarget } from "./http-target.ts";
import { eventually } from "./trigger-helpers.ts";

const scope = isolatedGroup();
const HOST = "slow-target.sluice.test";

/** Requests to the fake target, open from the moment they arrive until answered or aborted. */
let calls: { from: number; to: number | null }[] = [];
beforeEach(() => {
  calls = [];
});

// The target never answers: only the caller's abort (its timeout, or a terminate) ends the request.
fakeHttpTarget(HOST, (request) => {
  const call = { from: Date.now(), to: null as number | null };
  calls.push(call);
  return new Promise<Response>((_, reject) => {
    request.signal.addEventListener("abort", () => {
      call.to = Date.now();
      reject(request.signal.reason);
    });
  });
});

describe("http nodes", () => {
  it("terminating an instance aborts its node's request, and a rerun's request starts only after", async () => {
    const wf = await scope.createWorkflow({
      name: `slow-http-${crypto.randomUUID().slice(0, 6)}`,
      nodes: [{ name: "call", type: "http", http: { url: `http://${HOST}/work` }, timeoutSeconds: 30 }],
    });
    const id = await startRun(wf.id);
    await eventually(async () => calls.length, (n) => n === 1);
    expect((await api("POST", `/api/v1/instances/${id}/terminate`)).status).toBe(200);
    expect(calls[0]!.to, "the terminated node's request was aborted").not.toBeNull();
    expect((await api("POST", `/api/v1/instances/${id}/rerun`, { mode: "all" })).status).toBe(200);
    await eventually(async () => calls.length, (n) => n === 2);
    expect(calls[1]!.from).toBeGreaterThanOrEqual(calls[0]!.to!);
    expect((await api("POST", `/api/v1/instances/${id}/terminate`)).status).toBe(200);
    expect((await instance(id)).status).toBe("terminated");
  });
});
