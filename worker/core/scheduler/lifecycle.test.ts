// Terminate and rerun with a fake host: what stops, what is refused, what runs again (live-state.test.ts: what is forgotten).
import { describe, expect, it } from "vitest";
import { edge, shell, World } from "./fake-host.ts";

const attemptOf = (w: World, instanceId: string, node: string) => w.host.currentRuns(instanceId).find((r) => r.node_name === node)!;

describe("terminate", () => {
  it("kills running node runs, drops queued and pending ones and refuses late reports", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("long"), shell("queued"), shell("after")], edges: [edge("long", "after")] });
    const [long, queued] = w.dispatched();
    w.tx((s) => s.nodeStarted(long!.task.attemptId, "r1", w.host.clock));
    expect(w.tx((s) => s.terminate(id))).toEqual({ id, status: "terminated" });
    expect(w.nodes(id)).toEqual({ after: "terminated", long: "terminated", queued: "terminated" });
    expect(w.host.currentRuns(id).every((r) => r.error === "terminated by a user")).toBe(true);
    // Only what the pool holds is cancelled; both hold their places until their processes are gone.
    const cancels = w.take().flatMap((e) => (e.kind === "cancel" ? [e.attemptIds.toSorted()] : []));
    expect(cancels).toEqual([[long!.task.attemptId, queued!.task.attemptId].toSorted()]);
    w.tx((s) => s.nodeFinished(long!.task.attemptId, { exitCode: 0, signal: null, outputs: {}, error: null }));
    expect(w.nodes(id)).toMatchObject({ long: "terminated" });
    expect(w.host.t.runs.get(long!.task.attemptId)!.exiting).toBe(0);
    expect(() => w.tx((s) => s.terminate(id))).toThrow(/already terminated/);
  });

  it("terminates a waiting instance without starting anything of it", () => {
    const w = new World();
    const def = { name: "w", policy: { maxParallel: 1 }, nodes: [shell("n")] };
    w.start(def);
    const { id } = w.start(def);
    w.take();
    w.tx((s) => s.terminate(id));
    expect(w.status(id)).toBe("terminated");
    expect(w.nodes(id)).toEqual({ n: "terminated" });
    expect(w.take().some((e) => e.kind === "cancel" || e.kind === "dispatch")).toBe(false);
  });

  it("refuses a delayed retry's timer once its instance is terminated", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n", { retry: { count: 1, delaySeconds: 5 } })] });
    w.run(w.dispatched()[0]!.task.attemptId, 1);
    w.tx((s) => s.terminate(id));
    w.advance(5_000);
    expect(w.dispatched()).toEqual([]);
    expect(w.nodes(id)).toEqual({ n: "terminated" });
  });
});

describe("rerun", () => {
  const chain = { name: "w", nodes: [shell("a"), shell("b"), shell("c")], edges: [edge("a", "b"), edge("b", "c")] };

  it("reruns failed nodes and their downstream with new attempts beside the old ones", () => {
    const w = new World();
    const { id } = w.start(chain);
    w.run(attemptOf(w, id, "a").id);
    w.run(attemptOf(w, id, "b").id, 1);
    expect(w.status(id)).toBe("failed");
    w.take();
    expect(w.tx((s) => s.rerun(id, "failed"))).toEqual({ id, status: "running" });
    expect(w.dispatched().map((t) => [t.task.nodeName, t.task.attempt])).toEqual([["b", 2]]);
    w.run(attemptOf(w, id, "b").id);
    w.run(attemptOf(w, id, "c").id);
    expect(w.status(id)).toBe("succeeded");
    expect(Object.fromEntries(w.host.currentRuns(id).map((r) => [r.node_name, r.attempt]))).toEqual({ a: 1, b: 2, c: 2 });
    expect([...w.host.t.runs.values()].filter((r) => r.current === 0).map((r) => r.id).sort()).toEqual([`run_1_b_1`, `run_1_c_1`]);
  });

  it("reruns every node with mode all, and refuses a failed-mode rerun with nothing failed", () => {
    const w = new World();
    const { id } = w.start(chain);
    for (const n of ["a", "b", "c"]) w.run(attemptOf(w, id, n).id);
    expect(() => w.tx((s) => s.rerun(id, "failed"))).toThrow(/no failed or terminated node/);
    w.take();
    w.tx((s) => s.rerun(id, "all"));
    expect(w.dispatched().map((t) => [t.task.nodeName, t.task.attempt])).toEqual([["a", 2]]);
  });

  it("refuses to rerun an unfinished instance", () => {
    const w = new World();
    const { id } = w.start(chain);
    expect(() => w.tx((s) => s.rerun(id, "all"))).toThrow(/only a finished instance can be rerun/);
  });

  it("waits its turn under maxParallel like a new instance", () => {
    const w = new World();
    const def = { ...chain, policy: { maxParallel: 1 } };
    const first = w.start(def).id;
    w.run(attemptOf(w, first, "a").id, 1);
    const second = w.start(def).id;
    expect(w.tx((s) => s.rerun(first, "failed")).status).toBe("waiting");
    for (const n of ["a", "b", "c"]) w.run(attemptOf(w, second, n).id);
    expect(w.status(first)).toBe("running");
  });

  it("has not started while it waits again: a rerun terminated in line shows no start, so its history never overlaps the instance that ran", () => {
    const w = new World();
    const def = { ...chain, policy: { maxParallel: 1 } };
    const first = w.start(def).id;
    w.run(attemptOf(w, first, "a").id, 1);
    const second = w.start(def).id;
    w.advance(60_000);
    w.tx((s) => s.rerun(first, "failed"));
    expect(w.host.instance(first)).toMatchObject({ status: "waiting", started_at: null, finished_at: null });
    w.advance(60_000);
    w.tx((s) => s.terminate(first));
    const [a, b] = [w.host.instance(first)!, w.host.instance(second)!];
    expect(a).toMatchObject({ status: "terminated", started_at: null });
    // What the fault suite's history check reads: while the second ran, the first never held a place.
    expect(b.status).toBe("running");
    expect(b.started_at).not.toBeNull();
  });
});

describe("dispatch failures", () => {
  it("fails attempts whose dispatch was given up, with why, and applies the node's own retries", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n", { retry: { count: 1 } })] });
    const [task] = w.dispatched();
    w.tx((s) => s.dispatchFailed([{ attemptIds: [task!.task.attemptId], error: "the pool could not be reached" }]));
    expect(w.host.t.runs.get(task!.task.attemptId)).toMatchObject({ status: "failed", error: "the pool could not be reached" });
    expect(attemptOf(w, id, "n")).toMatchObject({ attempt: 2, status: "queued" });
  });
});
