// DAG progression with a fake host: dependency order, branch skips, retries, lost attempts, timeouts, http nodes, rollback and eviction.
import { describe, expect, it } from "vitest";
import { INFRA_RETRIES } from "../attempts.ts";
import { edge, GRACE_MS, shell, World } from "./fake-host.ts";
import { HTTP_WATCH_MS } from "./progression.ts";

const attemptOf = (w: World, instanceId: string, node: string) => w.host.currentRuns(instanceId).find((r) => r.node_name === node)!;

describe("DAG progression", () => {
  it("runs nodes in dependency order, skips below a failure and lets other branches finish", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("a"), shell("b"), shell("c"), shell("d")], edges: [edge("a", "b"), edge("b", "c"), edge("a", "d")] });
    expect(w.dispatched().map((t) => t.task.nodeName)).toEqual(["a"]);
    w.run(attemptOf(w, id, "a").id);
    expect(w.dispatched().map((t) => t.task.nodeName).sort()).toEqual(["b", "d"]);
    w.run(attemptOf(w, id, "b").id, 1);
    expect(w.nodes(id)).toMatchObject({ b: "failed", c: "skipped", d: "queued" });
    expect(attemptOf(w, id, "c").error).toBe("upstream node 'b' did not succeed");
    expect(w.status(id)).toBe("running");
    w.run(attemptOf(w, id, "d").id);
    expect(w.status(id)).toBe("failed");
  });

  it("completes a noop-only DAG inside one start", () => {
    const w = new World();
    const nodes = [{ name: "a", type: "noop" }, { name: "b", type: "noop" }, { name: "m", type: "merge" }];
    const { id, status } = w.start({ name: "w", nodes, edges: [edge("a", "m"), edge("b", "m")] });
    expect(status).toBe("succeeded");
    expect(w.nodes(id)).toEqual({ a: "succeeded", b: "succeeded", m: "succeeded" });
  });

  it("takes the branch a condition chose on an upstream output, skips the other and joins at the merge", () => {
    const w = new World();
    const { id } = w.start({
      name: "w",
      nodes: [
        shell("count"),
        { name: "route", type: "branch", conditions: [{ when: "int(nodes.count.outputs.rows) > 3", to: "big" }, { when: "default", to: "small" }] },
        shell("big"),
        shell("small"),
        { name: "join", type: "merge" },
      ],
      edges: [edge("count", "route"), edge("route", "big"), edge("route", "small"), edge("big", "join"), edge("small", "join")],
    });
    w.run(attemptOf(w, id, "count").id, 0, { rows: "5" });
    expect(w.nodes(id)).toMatchObject({ route: "succeeded", big: "queued", small: "skipped", join: "pending" });
    expect(attemptOf(w, id, "small").error).toBe("branch 'route' chose another path");
    w.run(attemptOf(w, id, "big").id);
    expect(w.nodes(id)).toMatchObject({ join: "succeeded" });
    expect(w.status(id)).toBe("succeeded");
  });

  it("keeps its plan across an eviction: the next transition loads the state once and goes on", () => {
    const w = new World();
    const names = Array.from({ length: 5 }, (_, i) => `n${i}`);
    const { id } = w.start({ name: "w", nodes: names.map((n) => shell(n)), edges: names.slice(1).map((n, i) => edge(names[i]!, n)) });
    w.run(attemptOf(w, id, "n0").id);
    w.evict();
    w.run(attemptOf(w, id, "n1").id);
    expect(w.nodes(id)).toMatchObject({ n1: "succeeded", n2: "queued", n3: "pending" });
  });

  it("moves a 400-node noop chain forward reading the instance's node runs once", () => {
    const w = new World();
    const names = Array.from({ length: 400 }, (_, i) => `n${i}`);
    let reads = 0;
    const currentRuns = w.host.currentRuns;
    w.host.currentRuns = (instanceId) => (reads++, currentRuns(instanceId));
    const { status } = w.start({ name: "w", nodes: names.map((name) => ({ name, type: "noop" })), edges: names.slice(1).map((n, i) => edge(names[i]!, n)) });
    expect(status).toBe("succeeded");
    expect(reads).toBe(1);
  });
});

describe("memory", () => {
  it("keeps a bounded number of node runs in memory and reloads what it let go", () => {
    const w = new World(4);
    const def = { name: "w", nodes: [shell("a"), shell("b"), shell("c")], edges: [edge("a", "b"), edge("b", "c")] };
    const ids = [w.start(def).id, w.start(def).id, w.start(def).id];
    let reads = 0;
    const currentRuns = w.host.currentRuns;
    w.host.currentRuns = (instanceId) => (reads++, currentRuns(instanceId));
    for (const node of ["a", "b", "c"]) for (const id of ids) w.run(attemptOf(w, id, node).id);
    expect(ids.map((id) => w.status(id))).toEqual(["succeeded", "succeeded", "succeeded"]);
    // Only one instance of three nodes fits: every switch between instances reloads.
    expect(reads).toBeGreaterThanOrEqual(6);
  });
});

describe("rollback", () => {
  it("forgets in memory what a transaction that threw had changed", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("a"), shell("b"), shell("c")], edges: [edge("a", "b"), edge("b", "c")] });
    w.run(attemptOf(w, id, "a").id);
    const b = attemptOf(w, id, "b").id;
    w.tx((s) => s.nodeStarted(b, "r1", w.host.clock));
    // b's success is written and c planned, then the dispatch fails: all of it rolls back.
    w.host.failOn = "dispatch";
    expect(() => w.tx((s) => s.nodeFinished(b, { exitCode: 0, signal: null, outputs: {}, error: null }))).toThrow(/injected/);
    expect(w.nodes(id)).toMatchObject({ b: "running", c: "pending" });
    // Had the cached plan kept b as succeeded, this failure would not skip c.
    w.tx((s) => s.nodeFinished(b, { exitCode: 1, signal: null, outputs: {}, error: null }));
    expect(w.nodes(id)).toEqual({ a: "succeeded", b: "failed", c: "skipped" });
    expect(w.status(id)).toBe("failed");
  });
});

describe("retries", () => {
  it("retries a failing node up to its count, keeping every attempt, then fails it", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n", { retry: { count: 2 } })] });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [task] = w.dispatched();
      expect(task!.task.attempt).toBe(attempt);
      w.run(task!.task.attemptId, 1);
    }
    expect(w.dispatched()).toEqual([]);
    expect(attemptOf(w, id, "n")).toMatchObject({ status: "failed", attempt: 3 });
    expect([...w.host.t.runs.values()].map((r) => [r.attempt, r.status, r.current])).toEqual([[1, "failed", 0], [2, "failed", 0], [3, "failed", 1]]);
    expect(w.status(id)).toBe("failed");
  });

  it("waits for a retry's delay, with exponential backoff, across an eviction", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n", { retry: { count: 2, delaySeconds: 10, backoff: "exponential" } })] });
    w.run(w.dispatched()[0]!.task.attemptId, 1);
    expect(attemptOf(w, id, "n")).toMatchObject({ status: "pending", attempt: 2 });
    w.evict();
    w.advance(9_999);
    expect(w.dispatched()).toEqual([]);
    w.advance(1);
    const [second] = w.dispatched();
    expect(second!.task.attempt).toBe(2);
    w.run(second!.task.attemptId, 1);
    w.advance(19_999);
    expect(w.dispatched()).toEqual([]);
    w.advance(1);
    expect(w.dispatched()[0]!.task.attempt).toBe(3);
  });

  it("retries a lost attempt at once as infrastructure, not counting against the node's own retries", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n", { retry: { count: 1 } })] });
    let [task] = w.dispatched();
    for (let lost = 1; lost <= INFRA_RETRIES; lost++) {
      w.tx((s) => s.nodeLost(task!.task.attemptId, "runner stopped heartbeating"));
      const effects = w.take();
      expect(effects.find((e) => e.kind === "log")).toMatchObject({ text: expect.stringMatching(`infrastructure retry ${lost} of ${INFRA_RETRIES} starts now`) });
      expect(w.host.t.runs.get(task!.task.attemptId)).toMatchObject({ status: "failed", current: 0 });
      [task] = effects.flatMap((e) => (e.kind === "dispatch" ? e.tasks : []));
    }
    // The third loss has no infrastructure retry left: it fails like the script, and the node's own retry follows.
    const third = task;
    expect(third!.task.attempt).toBe(INFRA_RETRIES + 1);
    w.tx((s) => s.nodeLost(third!.task.attemptId, "runner stopped heartbeating"));
    expect(w.host.t.runs.get(third!.task.attemptId)!.error).toMatch(/all 2 infrastructure retries used/);
    const [own] = w.dispatched();
    expect(own!.task.attempt).toBe(INFRA_RETRIES + 2);
    w.run(own!.task.attemptId, 1);
    expect(w.status(id)).toBe("failed");
  });

  it("refuses a lost attempt's late report", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n")] });
    const [task] = w.dispatched();
    w.tx((s) => s.nodeLost(task!.task.attemptId, "lease expired"));
    w.tx((s) => s.nodeFinished(task!.task.attemptId, { exitCode: 0, signal: null, outputs: {}, error: null }));
    expect(attemptOf(w, id, "n")).toMatchObject({ attempt: 2, status: "queued" });
    expect(w.status(id)).toBe("running");
  });
});

describe("timeouts", () => {
  it("fails a running node whose runner never reports once its timeout and grace pass, and stops it", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n", { timeoutSeconds: 10 })] });
    const [task] = w.dispatched();
    w.tx((s) => s.nodeStarted(task!.task.attemptId, "r1", w.host.clock));
    w.advance(10_000 + GRACE_MS - 1);
    expect(w.status(id)).toBe("running");
    w.advance(1);
    expect(w.status(id)).toBe("failed");
    expect(attemptOf(w, id, "n").error).toMatch(/timed out/);
    expect(w.take().filter((e) => e.kind === "cancel")).toMatchObject([{ attemptIds: [task!.task.attemptId] }]);
    expect(w.host.t.runs.get(task!.task.attemptId)!.exiting).toBe(1);
  });

  it("leaves a node that reported in time alone", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n", { timeoutSeconds: 10 })] });
    w.run(w.dispatched()[0]!.task.attemptId);
    w.advance(60_000);
    expect(w.status(id)).toBe("succeeded");
    expect(w.take().some((e) => e.kind === "cancel")).toBe(false);
  });
});

describe("http nodes", () => {
  const def = { name: "w", nodes: [{ name: "call", type: "http", http: { url: "https://example.com/x", method: "POST" as const }, timeoutSeconds: 30 }, shell("after")], edges: [edge("call", "after")] };

  it("makes the request after the transaction and goes on with a 2xx answer as its outputs", () => {
    const w = new World();
    const { id } = w.start(def);
    const job = w.take().find((e) => e.kind === "http");
    expect(job).toMatchObject({ job: { request: { method: "POST", url: "https://example.com/x" }, timeoutSeconds: 30 } });
    const attemptId = attemptOf(w, id, "call").id;
    w.tx((s) => s.httpFinished(attemptId, { status: 200, body: "ok" }));
    expect(attemptOf(w, id, "call")).toMatchObject({ status: "succeeded", outputs: JSON.stringify({ status: "200", body: "ok" }) });
    expect(w.nodes(id)).toMatchObject({ after: "queued" });
  });

  it("fails on a non-2xx answer or no answer", () => {
    const w = new World();
    const { id } = w.start(def);
    w.tx((s) => s.httpFinished(attemptOf(w, id, "call").id, { status: 503, body: "down" }));
    expect(attemptOf(w, id, "call")).toMatchObject({ status: "failed", error: "HTTP 503" });
    const other = w.start(def).id;
    w.tx((s) => s.httpFinished(attemptOf(w, other, "call").id, { error: "timed out after 30s" }));
    expect(attemptOf(w, other, "call")).toMatchObject({ status: "failed", error: "timed out after 30s" });
  });

  it("makes a request again that an eviction cut off, and not one still in flight", () => {
    const w = new World();
    const { id } = w.start({ ...def, nodes: [{ ...def.nodes[0]!, timeoutSeconds: 600 }, def.nodes[1]!] });
    const attemptId = attemptOf(w, id, "call").id;
    w.take();
    w.host.inFlight.add(attemptId);
    w.advance(HTTP_WATCH_MS);
    expect(w.take().some((e) => e.kind === "http")).toBe(false);
    w.host.inFlight.clear();
    w.evict();
    w.advance(HTTP_WATCH_MS);
    expect(w.take().filter((e) => e.kind === "http")).toMatchObject([{ job: { attemptId } }]);
  });
});
