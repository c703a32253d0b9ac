// Live state only while it is needed: a finished instance leaves after its live window once D1 holds it, and comes back for a rerun.
import { describe, expect, it } from "vitest";
import { MIRROR_WAIT_MS, PRUNE_INTERVAL_MS } from "../live-window.ts";
import { edge, LIVE_WINDOW_MS, shell, World } from "./fake-host.ts";
import { liveRecordsFromHistory, type HistoryInstance, type HistoryRun } from "./rehydrate.ts";
import type { InstanceRecord, NodeRunRecord } from "./records.ts";

const attemptOf = (w: World, instanceId: string, node: string) => w.host.currentRuns(instanceId).find((r) => r.node_name === node)!;

/**
 * What D1 mirrors of a live instance (the coordinator's host.ts drops the same fields), with the definition
 * it ran as D1's run_definitions keeps it.
 */
function history(w: World, id: string) {
  const { seq: _s, max_parallel: _m, concurrency_limit: _c, ...row } = w.host.t.instances.get(id)! as InstanceRecord;
  const runs: HistoryRun[] = [...w.host.t.runs.values()]
    .filter((r) => r.instance_id === id)
    .map(({ current: _cu, not_before: _n, chosen: _ch, lost: _l, exiting: _e, ...run }: NodeRunRecord) => run);
  const hash = row.def_hash;
  return { row: row as HistoryInstance, runs, hash, parsed: w.host.definition(hash) };
}

describe("the live window", () => {
  it("forgets a finished instance once its window passed, with its runs and timers", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [{ name: "n", type: "noop" }] });
    w.advance(LIVE_WINDOW_MS - 1);
    expect(w.status(id)).toBe("succeeded");
    w.advance(1);
    expect(w.status(id)).toBeUndefined();
    expect(w.host.t.runs.size).toBe(0);
    expect(w.host.t.timers).toEqual([]);
  });

  it("keeps it while the D1 mirror has not delivered the rows written when it finished", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [{ name: "n", type: "noop" }] });
    w.host.t.unmirrored = [w.host.clock];
    w.advance(LIVE_WINDOW_MS);
    expect(w.status(id)).toBe("succeeded");
    expect(w.host.t.timers.map((t) => [t.kind, t.dueAt])).toEqual([["purge", w.host.clock + MIRROR_WAIT_MS]]);
    w.host.t.unmirrored = [];
    w.advance(MIRROR_WAIT_MS);
    expect(w.status(id)).toBeUndefined();
  });

  it("takes the timers of its attempts with it (a stopped process's exit watch)", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n")] });
    const [task] = w.dispatched();
    w.tx((s) => s.nodeStarted(task!.task.attemptId, "r1", w.host.clock));
    w.tx((s) => s.terminate(id));
    w.tx((s) => s.processGone([task!.task.attemptId]));
    w.advance(LIVE_WINDOW_MS);
    expect(w.status(id)).toBeUndefined();
    expect(w.host.t.timers).toEqual([]);
  });

  it("keeps an instance rerun since its first purge timer until its own", () => {
    const w = new World();
    const { id } = w.start({ name: "w", nodes: [shell("n")] });
    w.run(attemptOf(w, id, "n").id, 1);
    w.advance(LIVE_WINDOW_MS / 2);
    w.tx((s) => s.rerun(id, "failed"));
    w.run(attemptOf(w, id, "n").id);
    w.advance(LIVE_WINDOW_MS / 2);
    expect(w.status(id)).toBe("succeeded");
    w.advance(LIVE_WINDOW_MS / 2);
    expect(w.status(id)).toBeUndefined();
  });

  it("forgets definitions no live instance uses, and keeps the ones in use", () => {
    const w = new World();
    const old = w.start({ name: "old", nodes: [{ name: "n", type: "noop" }] });
    w.advance(LIVE_WINDOW_MS / 2);
    const running = w.start({ name: "new", nodes: [shell("n")] });
    w.advance(LIVE_WINDOW_MS / 2);
    expect(w.status(old.id)).toBeUndefined();
    expect([...w.host.t.definitions.keys()]).toEqual([w.host.t.instances.get(running.id)!.def_hash]);
    // A later start of the forgotten version saves it again and runs.
    expect(w.start({ name: "old", nodes: [{ name: "n", type: "noop" }] }).status).toBe("succeeded");
  });
});

describe("dedup after the live window", () => {
  it("answers a duplicate start with the first instance and the status it left with", () => {
    const w = new World();
    const dedup = { key: "q:msg-1", windowSeconds: 24 * 3600 };
    const first = w.start({ name: "w", nodes: [shell("n")] }, { dedup });
    w.run(attemptOf(w, first.id, "n").id, 1);
    w.advance(LIVE_WINDOW_MS);
    expect(w.status(first.id)).toBeUndefined();
    expect(w.start({ name: "w", nodes: [shell("n")] }, { dedup })).toEqual({ id: first.id, status: "failed", duplicate: true });
  });

  it("sweeps expired keys on a timer, though no start asks again", () => {
    const w = new World();
    w.start({ name: "w", nodes: [{ name: "n", type: "noop" }] }, { dedup: { key: "a", windowSeconds: 60 } });
    w.start({ name: "w", nodes: [{ name: "n", type: "noop" }] }, { dedup: { key: "b", windowSeconds: 2 * 3600 } });
    expect(w.host.t.timers.filter((t) => t.kind === "prune")).toHaveLength(1);
    w.advance(PRUNE_INTERVAL_MS);
    expect([...w.host.t.dedup.keys()]).toEqual(["b"]);
    w.advance(PRUNE_INTERVAL_MS);
    expect(w.host.t.dedup.size).toBe(0);
    expect(w.host.t.timers).toEqual([]);
  });
});

describe("a rerun after the live window", () => {
  const def = { name: "w", nodes: [shell("make"), shell("use", { code: "echo ${nodes.make.outputs.file}" })], edges: [edge("make", "use")] };

  it("runs the failed node again from the history, with the upstream outputs it needs", () => {
    const w = new World();
    const { id } = w.start(def);
    w.run(attemptOf(w, id, "make").id, 0, { file: "/tmp/out.csv" });
    w.run(attemptOf(w, id, "use").id, 1);
    const { row, runs, hash, parsed } = history(w, id);
    w.advance(LIVE_WINDOW_MS);
    expect(w.status(id)).toBeUndefined();
    w.evict();
    w.take();
    w.tx((s) => {
      s.rehydrate(liveRecordsFromHistory(row, runs, parsed.def, hash), parsed);
      return s.rerun(id, "failed");
    });
    const [task] = w.dispatched();
    expect(task!.task).toMatchObject({ nodeName: "use", attempt: 2 });
    expect(task!.task).toMatchObject({ values: ["/tmp/out.csv"] });
    w.run(task!.task.attemptId);
    expect(w.status(id)).toBe("succeeded");
    expect(w.nodes(id)).toEqual({ make: "succeeded", use: "succeeded" });
    // Live again until its new finish and window.
    w.advance(LIVE_WINDOW_MS);
    expect(w.status(id)).toBeUndefined();
  });

  it("keeps which way a branch went", () => {
    const branchy = {
      name: "b",
      nodes: [
        { name: "route", type: "branch", conditions: [{ when: "true", to: "yes" }, { when: "default", to: "no" }] },
        shell("yes"),
        shell("no"),
      ],
      edges: [edge("route", "yes"), edge("route", "no")],
    };
    const w = new World();
    const { id } = w.start(branchy);
    w.run(attemptOf(w, id, "yes").id, 1);
    const { row, runs, hash, parsed } = history(w, id);
    const rebuilt = liveRecordsFromHistory(row, runs, parsed.def, hash);
    expect(rebuilt.runs.find((r) => r.node_name === "route")!.chosen).toBe(JSON.stringify(["yes"]));
    expect(rebuilt.runs.every((r) => r.current === 1)).toBe(true);
  });
});

describe("what D1 keeps for a rerun after the live window", () => {
  const def = { name: "k", nodes: [shell("n")] };

  it("mirrors a definition the first time it is stored, before the instance that runs it", () => {
    const w = new World();
    w.start(def);
    const kinds = w.take().map((e) => e.kind);
    expect(kinds.filter((k) => k === "definition-saved")).toHaveLength(1);
    expect(kinds.indexOf("definition-saved")).toBeLessThan(kinds.indexOf("instance-changed"));
    w.start(def);
    w.evict();
    w.start(def);
    expect(w.take().some((e) => e.kind === "definition-saved")).toBe(false);
  });

  it("rebuilds the instance with its ordering key, priority override and cyctime", () => {
    const w = new World();
    const { id } = w.start(def, { orderingKey: "acct-1", priorityOverride: 8, cyctime: 42_000 });
    w.run(attemptOf(w, id, "n").id, 1);
    const { row, runs, hash, parsed } = history(w, id);
    const { instance } = liveRecordsFromHistory(row, runs, parsed.def, hash);
    expect(instance).toMatchObject({ def_hash: hash, ordering_key: "acct-1", priority_override: 8, priority: 8, cyctime: 42_000 });
  });

  it("a rebuilt instance rerunning holds its ordering key: a later instance with the key waits for it", () => {
    const w = new World();
    const { id } = w.start(def, { orderingKey: "acct-1" });
    w.run(attemptOf(w, id, "n").id, 1);
    const { row, runs, hash, parsed } = history(w, id);
    w.advance(LIVE_WINDOW_MS);
    expect(w.status(id)).toBeUndefined();
    w.tx((s) => {
      s.rehydrate(liveRecordsFromHistory(row, runs, parsed.def, hash), parsed);
      return s.rerun(id, "failed");
    });
    expect(w.status(id)).toBe("running");
    const later = w.start(def, { orderingKey: "acct-1" });
    expect(later.status).toBe("waiting");
    w.run(attemptOf(w, id, "n").id);
    expect(w.status(later.id)).toBe("running");
  });

  it("an instance mirrored before D1 kept these fields reruns without a key, its cyctime its creation", () => {
    const w = new World();
    const { id } = w.start(def, { orderingKey: "acct-1", cyctime: 42_000 });
    w.run(attemptOf(w, id, "n").id, 1);
    const { row, runs, hash, parsed } = history(w, id);
    const old = { ...row, def_hash: null, ordering_key: null, priority_override: null, cyctime: null };
    const { instance } = liveRecordsFromHistory(old, runs, parsed.def, hash);
    expect(instance).toMatchObject({ def_hash: hash, ordering_key: null, priority_override: null, cyctime: row.created_at });
  });
});
