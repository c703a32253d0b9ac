// Branch, merge and http nodes in the Workers runtime: choices, skips, joins and save-time rules.
import { describe, expect, it } from "vitest";
import { api, instance, isolatedGroup, nodeStatus, shellNode, startRun } from "./helpers.ts";

const scope = isolatedGroup();

const routed = (when: string) => ({
  name: `routed-${crypto.randomUUID().slice(0, 6)}`,
  params: { mode: "full" },
  nodes: [
    shellNode("count", "echo rows=3 >> $SLUICE_OUTPUT"),
    { name: "route", type: "branch", conditions: [{ when, to: "load" }, { when: "default", to: "report_empty" }] },
    shellNode("load", "echo loading"),
    shellNode("report_empty", "echo empty"),
    { name: "join", type: "merge" },
  ],
  edges: [
    { from: "count", to: "route" },
    { from: "route", to: "load" },
    { from: "route", to: "report_empty" },
    { from: "load", to: "join" },
    { from: "report_empty", to: "join" },
  ],
});

describe("branch and merge", () => {
  it("takes the path whose condition holds on an upstream output, skips the other and joins", async () => {
    const wf = await scope.createWorkflow(routed("int(nodes.count.outputs.rows) > 0 && params.mode == 'full'"));
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    const [count] = await runner.claim();
    await runner.complete(count.attemptId, 0, { rows: "3" });
    const [next] = await runner.claim();
    expect(next.nodeName).toBe("load");
    await runner.complete(next.attemptId, 0);
    const done = await instance(id);
    expect(done.status).toBe("succeeded");
    expect(await nodeStatus(id)).toEqual({ count: "succeeded", join: "succeeded", load: "succeeded", report_empty: "skipped", route: "succeeded" });
    expect(done.nodes.find((n) => n.name === "report_empty")!.error).toMatch(/branch 'route' chose another path/);
    expect((await api("GET", `/api/v1/instances/${id}/nodes/route/log`)).text).toMatch(/chosen: load/);
  });

  it("takes the default path when no condition holds", async () => {
    const wf = await scope.createWorkflow(routed("int(nodes.count.outputs.rows) > 100"));
    const id = await startRun(wf.id);
    const runner = await scope.newRunner();
    await runner.complete((await runner.claim())[0].attemptId, 0, { rows: "3" });
    expect((await runner.claim())[0].nodeName).toBe("report_empty");
  });

  it("rejects a branch condition that is not valid CEL, naming it", async () => {
    const res = await api("POST", "/api/v1/workflows", routed("rows >"));
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/not valid CEL/);
  });

  it("rejects a branch whose downstream node no condition chooses", async () => {
    const def = routed("true");
    def.nodes[1] = { name: "route", type: "branch", conditions: [{ when: "true", to: "load" }] };
    const res = await api("POST", "/api/v1/workflows", def);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/report_empty/);
  });

  it("rejects an http node whose url does not start with a fixed scheme and host", async () => {
    const res = await api("POST", "/api/v1/workflows", {
      name: "bad-http",
      nodes: [{ name: "call", type: "http", http: { url: "${workflow.triggerMessage.url}" } }],
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/http:\/\/ or https:\/\//);
  });
});
