// Start notices with a fake host: carried by a result, batched, and a lease offered again after a crash.
import { describe, expect, it } from "vitest";
import { GRACE_MS, shell, World } from "./fake-host.ts";

const ok = { exitCode: 0, signal: null, outputs: {}, error: null };

describe("start notices", () => {
  it("a result that carries its start notice starts and finishes the node in one transaction, naming its runner and start", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n")] });
    const [task] = w.dispatched();
    const leasedAt = w.host.clock;
    w.host.clock += 20;
    w.tx((s) => s.nodeFinished(task!.task.attemptId, ok, { attemptId: task!.task.attemptId, runnerId: "r1", at: leasedAt }));
    expect(w.status(id)).toBe("succeeded");
    expect(w.host.t.runs.get(task!.task.attemptId)).toMatchObject({ status: "succeeded", runner_id: "r1", started_at: leasedAt, finished_at: leasedAt + 20 });
    // A notice sent before the result changes nothing once the node finished.
    w.tx((s) => s.nodesStarted([{ attemptId: task!.task.attemptId, runnerId: "r2", at: leasedAt + 30 }]));
    expect(w.host.t.runs.get(task!.task.attemptId)).toMatchObject({ status: "succeeded", runner_id: "r1" });
  });

  it("takes the notices of several attempts in one call", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("a"), shell("b")] });
    const tasks = w.dispatched();
    w.tx((s) => s.nodesStarted(tasks.map((t) => ({ attemptId: t.task.attemptId, runnerId: "r1", at: w.host.clock }))));
    expect(w.nodes(id)).toEqual({ a: "running", b: "running" });
  });

  it("a lease offered again to another runner moves the node's start and runner, and its timeout backstop runs from the later start", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n", { timeoutSeconds: 60 })] });
    const attemptId = w.dispatched()[0]!.task.attemptId;
    const first = w.host.clock;
    w.tx((s) => s.nodeStarted(attemptId, "r1", first));
    // The stack was down for 50 s; the unconfirmed lease goes to a new runner as the same attempt.
    w.host.clock += 50_000;
    const second = w.host.clock;
    w.tx((s) => s.nodeStarted(attemptId, "r2", second));
    expect(w.host.t.runs.get(attemptId)).toMatchObject({ status: "running", runner_id: "r2", started_at: second });
    // An older notice arriving late moves nothing back.
    w.tx((s) => s.nodeStarted(attemptId, "r1", first + 1));
    expect(w.host.t.runs.get(attemptId)).toMatchObject({ runner_id: "r2", started_at: second });
    // The first start's backstop comes due and lets it be; the second's fails it.
    w.host.clock = first + 60_000 + GRACE_MS;
    w.tx((s) => s.fireTimers());
    expect(w.nodes(id)).toEqual({ n: "running" });
    w.host.clock = second + 60_000 + GRACE_MS;
    w.tx((s) => s.fireTimers());
    expect(w.nodes(id)).toEqual({ n: "failed" });
    expect(w.host.t.runs.get(attemptId)!.error).toMatch(/timed out/);
  });
});

describe("timers of a finished node", () => {
  it("go with it: a node that reported leaves no timeout backstop behind", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("a"), shell("b")], edges: [{ from: "a", to: "b" }] });
    const a = w.dispatched()[0]!.task.attemptId;
    w.run(a);
    expect(w.host.t.timers.filter((t) => t.ref === a)).toEqual([]);
    const b = w.dispatched()[0]!.task.attemptId;
    w.tx((s) => s.nodeStarted(b, "r1", w.host.clock));
    expect(w.host.t.timers.filter((t) => t.ref === b).map((t) => t.kind)).toEqual(["timeout"]);
    w.tx((s) => s.nodeFinished(b, ok));
    // What is left is the finished instance's purge.
    expect(w.host.t.timers.map((t) => [t.kind, t.ref])).toEqual([["purge", id]]);
    expect(w.status(id)).toBe("succeeded");
  });
});
