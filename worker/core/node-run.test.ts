// Tests for preparing ready nodes: runner tasks, http requests with encoded values, branch choices.
import { describe, expect, it } from "vitest";
import { DefinitionSchema } from "./definition.ts";
import { prepareNodeRun, type ReadyNode } from "./node-run.ts";

function ready(nodes: unknown[], node: string, message: unknown = {}, runs: ReadyNode["runs"] = []): ReadyNode {
  const def = DefinitionSchema.parse({ name: "w", params: { team: "data" }, nodes });
  return {
    instance: { id: "ins_1", workflow_id: "wf_1", env: "dev", trigger_message: JSON.stringify(message), params: JSON.stringify(def.params), cyctime: Date.UTC(2026, 2, 10), priority_override: null },
    def,
    node: def.nodes.find((n) => n.name === node)!,
    runs,
    attemptId: "run_1_n_1",
    attempt: 1,
    weight: 0,
  };
}

describe("prepareNodeRun", () => {
  it("queues a shell node for a runner with the run's identity in its environment", () => {
    const outcome = prepareNodeRun(ready([{ name: "n", type: "shell", code: "echo ${bizdate}", priority: 7 }], "n"));
    expect(outcome.kind).toBe("queued");
    if (outcome.kind !== "queued") return;
    expect(outcome.queued.priority).toBe(7);
    expect(outcome.queued.task.env).toMatchObject({ SLUICE_INSTANCE_ID: "ins_1", SLUICE_NODE: "n", SLUICE_ATTEMPT: "1" });
    expect(outcome.queued.task.values).toEqual(["20260309"]);
    expect(outcome.queued.task.script).toBe('echo "${SLUICE_P_1}"');
  });

  it("carries the workflow's policy.share to the pool, and 1 for a definition stored before share existed", () => {
    const node = { name: "n", type: "shell", code: "true" };
    const withShare = ready([node], "n");
    withShare.def = { ...withShare.def, policy: { ...withShare.def.policy, share: 3 } };
    expect(prepareNodeRun(withShare)).toMatchObject({ kind: "queued", queued: { share: 3 } });
    const stored = ready([node], "n");
    const { share: _, ...before } = stored.def.policy;
    stored.def = { ...stored.def, policy: before as typeof stored.def.policy };
    expect(prepareNodeRun(stored)).toMatchObject({ kind: "queued", queued: { share: 1 } });
  });

  it("fails a node before it runs when a reference cannot resolve, naming it in the log", () => {
    const outcome = prepareNodeRun(ready([{ name: "n", type: "shell", code: 'echo "${workflow.triggerMessage.key}"' }], "n"));
    expect(outcome).toMatchObject({ kind: "done", status: "failed" });
    if (outcome.kind === "done") expect(outcome.log[0]).toMatch(/workflow\.triggerMessage\.key/);
  });

  it("percent-encodes trigger values in an http url but not in headers or body", () => {
    const node = { name: "call", type: "http", http: { method: "POST", url: "https://api.test/x/${workflow.triggerMessage.k}?t=${team}", headers: { "x-key": "${workflow.triggerMessage.k}" }, body: "k=${workflow.triggerMessage.k}" } };
    const outcome = prepareNodeRun(ready([node], "call", { k: "a/b?c=d#e" }));
    expect(outcome).toMatchObject({
      kind: "http",
      request: { method: "POST", url: "https://api.test/x/a%2Fb%3Fc%3Dd%23e?t=data", headers: { "x-key": "a/b?c=d#e" }, body: "k=a/b?c=d#e" },
    });
  });

  it("refuses a header value that would carry a line break", () => {
    const node = { name: "call", type: "http", http: { url: "https://api.test/", headers: { "x-k": "${workflow.triggerMessage.k}" } } };
    expect(prepareNodeRun(ready([node], "call", { k: "a\r\nInjected: 1" }))).toMatchObject({ kind: "done", status: "failed" });
  });

  it("chooses every branch whose CEL condition holds, on outputs, params and the message", () => {
    const nodes = [
      { name: "route", type: "branch", conditions: [{ when: "int(nodes.count.outputs.rows) > 0", to: "a" }, { when: "workflow.triggerMessage.kind == 'x'", to: "b" }, { when: "params.team == 'ops'", to: "c" }, { when: "default", to: "d" }] },
    ];
    const runs = [{ node_name: "count", status: "succeeded", outputs: JSON.stringify({ rows: "5" }) }];
    expect(prepareNodeRun(ready(nodes, "route", { kind: "x" }, runs))).toMatchObject({ kind: "done", status: "succeeded", chosen: ["a", "b"] });
    expect(prepareNodeRun(ready(nodes, "route", { kind: "y" }, []))).toMatchObject({ chosen: ["d"] });
  });

  it("completes noop and merge nodes inline", () => {
    expect(prepareNodeRun(ready([{ name: "n", type: "noop" }], "n"))).toMatchObject({ kind: "done", status: "succeeded" });
    expect(prepareNodeRun(ready([{ name: "m", type: "merge" }], "m"))).toMatchObject({ kind: "done", status: "succeeded" });
  });
});
