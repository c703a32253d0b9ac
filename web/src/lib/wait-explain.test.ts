import { describe, expect, it } from "vitest";
import type { Instance, NodeRun } from "./api/types.ts";
import { explainInstance, explainNode, skipReasonText } from "./wait-explain.ts";

const run = (name: string, status: NodeRun["status"], extra: Partial<NodeRun> = {}): NodeRun => ({
  name, type: "shell", status, attempt: 1, queuedAt: null, startedAt: null, finishedAt: null, exitCode: null, error: null, outputs: {}, ...extra,
});
const instance = (status: Instance["status"], nodes: NodeRun[], waitReason: string | null = null): Instance => ({
  id: "ins_1", workflowId: "wf_1", workflowName: "wf", version: 1, env: "prod", status, priority: 5, runDate: null, triggerType: "manual",
  createdAt: "2026-03-10T00:00:00Z", startedAt: null, finishedAt: null, reason: null, concurrencyKey: null, params: {}, nodes, waitReason,
});
const runner = (slots: number, running: number) => ({ id: "r", name: "r", slots, running, lastSeen: "2026-03-10T00:00:00Z", connected: true });

describe("explainInstance", () => {
  it("says which limit a waiting instance waits on and its place in line", () => {
    const lines = explainInstance(instance("waiting", [], "maxParallel 1 reached (1 running); 2 waiting ahead of it"), { runners: null, resourceGroup: "default" });
    expect(lines).toEqual(["Waiting to start: maxParallel 1 reached (1 running); 2 waiting ahead of it."]);
  });

  it("explains queued nodes by the runners of the resource group", () => {
    const queued = instance("running", [run("load", "queued"), run("done", "succeeded")]);
    expect(explainInstance(queued, { runners: [], resourceGroup: "etl" })).toEqual([
      "load is ready and queued for a runner slot.",
      "No runner is connected to resource group etl: start one (npm run runner) and the queued work starts.",
    ]);
    expect(explainInstance(queued, { runners: [runner(2, 2)], resourceGroup: "etl" })[1]).toMatch(/All 2 slots .* busy/);
  });

  it("has nothing to explain for a finished instance", () => {
    expect(explainInstance(instance("succeeded", [run("a", "succeeded")]), { runners: null, resourceGroup: "default" })).toEqual([]);
  });
});

describe("explainNode", () => {
  const edges = [{ from: "a", to: "c" }, { from: "b", to: "c" }];

  it("names the upstream nodes a pending node waits for", () => {
    const nodes = [run("a", "succeeded"), run("b", "running"), run("c", "pending")];
    expect(explainNode(nodes[2]!, nodes, edges)).toBe("Waits for upstream b (running).");
  });

  it("says why a node was skipped: a failed upstream or a branch that chose otherwise", () => {
    const failed = [run("a", "failed"), run("b", "succeeded"), run("c", "skipped")];
    expect(explainNode(failed[2]!, failed, edges)).toBe("Skipped: upstream a did not succeed.");
    const branched = [run("a", "succeeded", { type: "branch" }), run("b", "succeeded"), run("c", "skipped")];
    expect(explainNode(branched[2]!, branched, edges)).toBe("Skipped: branch a did not choose it.");
  });

  it("shows a failed node's error or exit code", () => {
    expect(explainNode(run("a", "failed", { exitCode: 3 }), [], [])).toBe("Failed with exit code 3.");
    expect(explainNode(run("a", "failed", { error: "unresolved ${x}" }), [], [])).toBe("Failed: unresolved ${x}");
  });
});

describe("a skipped instance", () => {
  it("says why it never ran without repeating the server's skipped prefix", () => {
    expect(skipReasonText("skipped: concurrency key 'k1' limit 1 reached (1 running) (overlap: skip)")).toBe(
      "Skipped, it never ran: concurrency key 'k1' limit 1 reached (1 running) (overlap: skip).",
    );
    expect(skipReasonText("waited too long")).toBe("Skipped, it never ran: waited too long.");
    expect(skipReasonText(null)).toMatch(/overlap policy or the waiting timeout/);
  });

  it("explains its nodes by the instance, not by an upstream node", () => {
    const nodes = [run("a", "skipped"), run("c", "skipped")];
    expect(explainNode(nodes[1]!, nodes, [{ from: "a", to: "c" }], "skipped")).toBe("Never ran: the whole instance was skipped.");
    expect(explainNode(nodes[1]!, nodes, [{ from: "a", to: "c" }], "failed")).toBe("Skipped: an upstream node did not run.");
  });
});
