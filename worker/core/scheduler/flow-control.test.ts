// Flow control with a fake host (DESIGN §2.9): concurrency keys, overlap policies, waiting timeouts, skipped instances, rerun from a node.
import { describe, expect, it } from "vitest";
import type { WorkflowDefinitionInput } from "../definition.ts";
import { churn, edge, LIVE_WINDOW_MS, prng, shell, World } from "./fake-host.ts";
import { liveRecordsFromHistory } from "./rehydrate.ts";


const keyed = (limit: number, policy: Record<string, unknown> = {}, nodes: unknown[] = [shell("work")]): WorkflowDefinitionInput =>
  ({ name: "w", policy: { concurrency: { key: "${workflow.triggerMessage.user}", limit }, ...policy }, nodes }) as WorkflowDefinitionInput;
const key = (value: string) => ({ concurrencyKey: { value } });
const attemptOf = (w: World, instanceId: string, node = "work") => w.host.currentRuns(instanceId).find((r) => r.node_name === node)!;
/** The instance's node is leased to a runner: its process now lives. */
const leased = (w: World, instanceId: string, node = "work") => w.tx((s) => s.nodeStarted(attemptOf(w, instanceId, node).id, "r1", w.host.clock));

describe("concurrency keys", () => {
  it("never lets more than limit instances per key hold a place under bursts, terminations, lost attempts, exits and evictions", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const random = prng(seed);
      const w = new World(seed % 2 === 1 ? 2 : undefined);
      const def = keyed(2, { maxParallel: 5 }, [shell("work", { retry: { count: 1 } })]);
      const keys = ["u1", "u2", "u3"];
      const burst = () => Array.from({ length: Math.floor(random() * 4) + 1 }, () => w.start(def, key(keys[Math.floor(random() * keys.length)]!)).id);
      const started = churn(w, random, 50, burst, (when) => {
        for (const [k, n] of w.keyPlaces()) expect(n, `seed ${seed}, key ${k}: ${when}`).toBeLessThanOrEqual(2);
        expect(w.placesHeld(), `seed ${seed}: ${when}`).toBeLessThanOrEqual(5);
      });
      expect(started.map((id) => w.status(id)).filter((s) => s === "waiting" || s === "running"), `seed ${seed}`).toEqual([]);
    }
  });

  it("lets an instance with a free key pass a long line held by a full key, reading only line heads", () => {
    const w = new World();
    const def = keyed(1);
    const first = w.start(def, key("u1")).id;
    for (let i = 0; i < 200; i++) expect(w.start(def, key("u1")).status).toBe("waiting");
    w.host.headsRead = 0;
    const other = w.start(def, key("u2"));
    expect(other.status).toBe("running");
    // One admission read u1's head and u2's: not the 199 waiting behind u1's head.
    expect(w.host.headsRead).toBeLessThanOrEqual(4);
    expect(w.status(first)).toBe("running");
  });

  it("lets the next of a key's line use a free place while the line's head waits for its trigger ordering key", () => {
    const w = new World();
    const def = keyed(2);
    w.start(def, { ...key("u9"), orderingKey: "acct" });
    const head = w.start(def, { ...key("u1"), orderingKey: "acct" }).id;
    const behind = w.start(def, key("u1")).id;
    expect(w.status(head)).toBe("waiting");
    expect(w.status(behind)).toBe("running");
  });

  it("says which key holds a waiting instance and its place in that key's line", () => {
    const w = new World();
    const def = keyed(2);
    w.start(def, key("u1"));
    w.start(def, key("u1"));
    const waiting = [w.start(def, key("u1")).id, w.start(def, key("u2")).id, w.start(def, key("u1")).id, w.start(def, key("u1")).id];
    expect(w.status(waiting[1]!)).toBe("running");
    expect(w.scheduler.waitReason(waiting[3]!)).toBe("concurrency key 'u1' limit 2 reached (2 running); 3rd in its line");
    expect(w.host.t.instances.get(waiting[0]!)!.concurrency_key).toBe("u1");
  });

  it("keeps a terminated instance's key place while its stopped process may still run", () => {
    const w = new World();
    const def = keyed(1);
    const a = w.start(def, key("u1")).id;
    leased(w, a);
    const b = w.start(def, key("u1")).id;
    w.tx((s) => s.terminate(a));
    expect(w.status(b)).toBe("waiting");
    expect(w.scheduler.waitReason(b)).toMatch(/^concurrency key 'u1' limit 1 reached \(1 running, 1 of them stopped but with processes still exiting\); 1st in its line$/);
    w.tx((s) => s.processGone([attemptOf(w, a).id]));
    expect(w.status(b)).toBe("running");
  });

  it("skips at once an instance whose key cannot be resolved, saying why", () => {
    const w = new World();
    const { id, status } = w.start(keyed(1), { concurrencyKey: { error: "policy.concurrency.key could not be resolved: no user" } });
    expect(status).toBe("skipped");
    expect(w.reason(id)).toBe("skipped: policy.concurrency.key could not be resolved: no user");
    expect(w.nodes(id)).toEqual({ work: "skipped" });
  });
});

describe("overlap", () => {
  it("skip: an arrival finding its key full never starts and says why; other keys run", () => {
    const w = new World();
    const def = keyed(1, { overlap: "skip" });
    const a = w.start(def, key("u1"));
    const b = w.start(def, key("u1"));
    const c = w.start(def, key("u2"));
    expect([a.status, b.status, c.status]).toEqual(["running", "skipped", "running"]);
    expect(w.reason(b.id)).toBe("skipped: concurrency key 'u1' limit 1 reached (1 running) (overlap: skip)");
    expect(w.host.currentRuns(b.id)[0]).toMatchObject({ status: "skipped", error: w.reason(b.id) });
    // A skipped instance finishes like others: its live window applies.
    expect(w.host.t.timers.some((t) => t.kind === "purge" && t.ref === b.id)).toBe(true);
  });

  it("skip: applies when maxParallel is the full limit", () => {
    const w = new World();
    const def = { name: "w", policy: { maxParallel: 1, overlap: "skip" }, nodes: [shell("work")] } as WorkflowDefinitionInput;
    w.start(def);
    const late = w.start(def);
    expect(late.status).toBe("skipped");
    expect(w.reason(late.id)).toBe("skipped: maxParallel 1 reached (1 running) (overlap: skip)");
  });

  it("latest: at most one waits per key; a newer arrival takes the place of the older waiting one", () => {
    const w = new World();
    const def = keyed(1, { overlap: "latest" });
    const running = w.start(def, key("u1")).id;
    const older = w.start(def, key("u1")).id;
    const other = w.start(def, key("u2")).id;
    const newer = w.start(def, key("u1")).id;
    expect([w.status(older), w.status(newer), w.status(other)]).toEqual(["skipped", "waiting", "running"]);
    expect(w.reason(older)).toBe(`skipped: replaced by a newer arrival ${newer} (overlap: latest)`);
    w.run(attemptOf(w, running).id);
    expect(w.status(newer)).toBe("running");
  });

  it("replace: the oldest running instance of the key is terminated; the newcomer starts once its process is gone", () => {
    const w = new World();
    const def = keyed(1, { overlap: "replace" });
    const old = w.start(def, key("u1")).id;
    leased(w, old);
    const bystander = w.start(def, key("u2")).id;
    const newer = w.start(def, key("u1")).id;
    expect(w.status(old)).toBe("terminated");
    expect(w.reason(old)).toBe(`replaced by a newer arrival ${newer} (overlap: replace)`);
    expect(attemptOf(w, old).error).toBe(`terminated: replaced by a newer arrival ${newer} (overlap: replace)`);
    expect(w.status(bystander)).toBe("running");
    // The replaced process still lives: the key's one place is still held.
    expect(w.status(newer)).toBe("waiting");
    expect(w.keyPlaces().get("u1")).toBe(1);
    w.tx((s) => s.processGone([attemptOf(w, old).id]));
    expect(w.status(newer)).toBe("running");
  });

  it("replace: under a full maxParallel the oldest running instance of the workflow is terminated", () => {
    const w = new World();
    const def = { name: "w", policy: { maxParallel: 2, overlap: "replace" }, nodes: [{ name: "n", type: "noop" }, shell("work")] } as WorkflowDefinitionInput;
    const first = w.start(def).id;
    const second = w.start(def).id;
    const third = w.start(def).id;
    expect([w.status(first), w.status(second)]).toEqual(["terminated", "running"]);
    // first's work was only queued: its place frees once the pool says it left.
    w.tx((s) => s.processGone([attemptOf(w, first).id]));
    expect(w.status(third)).toBe("running");
  });

  it("queue (the default) waits; a rerun always waits, whatever its overlap policy", () => {
    const w = new World();
    const def = keyed(1, { overlap: "skip" });
    const a = w.start(def, key("u1")).id;
    w.run(attemptOf(w, a).id, 1);
    const b = w.start(def, key("u1")).id;
    expect(w.tx((s) => s.rerun(a, "failed")).status).toBe("waiting");
    w.run(attemptOf(w, b).id);
    expect(w.status(a)).toBe("running");
    expect(w.start(keyed(1), key("u1")).status).toBe("waiting");
  });
});

describe("waiting timeout", () => {
  it("skips an instance still waiting at its deadline, by the injected clock", () => {
    const w = new World();
    const def = keyed(1, { waitingTimeoutSeconds: 30 });
    const a = w.start(def, key("u1")).id;
    const b = w.start(def, key("u1")).id;
    w.advance(29_999);
    expect(w.status(b)).toBe("waiting");
    w.advance(1);
    expect(w.status(b)).toBe("skipped");
    expect(w.reason(b)).toBe("skipped: waited longer than 30 s (policy.waitingTimeoutSeconds)");
    expect(w.nodes(b)).toEqual({ work: "skipped" });
    expect(w.status(a)).toBe("running");
  });

  it("leaves an instance admitted before its deadline alone, and forgets its timer", () => {
    const w = new World();
    const def = keyed(1, { waitingTimeoutSeconds: 30 });
    const a = w.start(def, key("u1")).id;
    const b = w.start(def, key("u1")).id;
    w.advance(10_000);
    w.run(attemptOf(w, a).id);
    expect(w.status(b)).toBe("running");
    expect(w.host.t.timers.filter((t) => t.kind === "waiting")).toEqual([]);
    w.advance(30_000);
    expect(w.status(b)).toBe("running");
  });
});

describe("waiting timeout of a rerun", () => {
  it("applies to a rerun that waits, and is never set for an instance that starts at once", () => {
    const w = new World();
    const def = keyed(1, { waitingTimeoutSeconds: 5 });
    const a = w.start(def, key("u1")).id;
    expect(w.host.t.timers.filter((t) => t.kind === "waiting")).toEqual([]);
    w.run(attemptOf(w, a).id, 1);
    w.start(def, key("u1"));
    expect(w.tx((s) => s.rerun(a, "failed")).status).toBe("waiting");
    w.advance(5_000);
    expect(w.status(a)).toBe("skipped");
    expect(w.reason(a)).toBe("skipped: waited longer than 5 s (policy.waitingTimeoutSeconds)");
  });
});

describe("skipped instances", () => {
  it("cannot be terminated, and rerun runs all of them", () => {
    const w = new World();
    const def = keyed(1, { overlap: "skip" });
    const a = w.start(def, key("u1")).id;
    const b = w.start(def, key("u1")).id;
    expect(() => w.tx((s) => s.terminate(b))).toThrow(/already skipped; nothing to terminate/);
    w.run(attemptOf(w, a).id);
    expect(w.tx((s) => s.rerun(b, "failed"))).toEqual({ id: b, status: "running" });
    expect(w.reason(b)).toBeNull();
    expect(attemptOf(w, b).attempt).toBe(2);
  });
});

describe("a keyed instance after its live window", () => {
  it("comes back from its history with its key and limit: its rerun waits in its key's line", () => {
    const w = new World();
    const def = keyed(1, { overlap: "skip" });
    const a = w.start(def, key("u1")).id;
    const skipped = w.start(def, key("u1")).id;
    const { seq: _s, max_parallel: _m, concurrency_limit: _c, ...row } = w.host.t.instances.get(skipped)!;
    const runs = w.host.currentRuns(skipped).map(({ current: _cu, not_before: _n, chosen: _ch, lost: _l, exiting: _e, ...run }) => run);
    const parsed = w.host.definition(row.def_hash);
    w.advance(LIVE_WINDOW_MS);
    expect(w.status(skipped)).toBeUndefined();
    w.tx((s) => {
      s.rehydrate(liveRecordsFromHistory(row, runs, parsed.def, row.def_hash), parsed);
      return s.rerun(skipped, "failed");
    });
    expect(w.host.t.instances.get(skipped)).toMatchObject({ status: "waiting", concurrency_key: "u1", concurrency_limit: 1, reason: null });
    expect(w.scheduler.waitReason(skipped)).toBe("concurrency key 'u1' limit 1 reached (1 running); 1st in its line");
    w.run(attemptOf(w, a).id);
    expect(w.status(skipped)).toBe("running");
  });
});

describe("rerun from a node", () => {
  const chain = {
    name: "w",
    nodes: [shell("a"), shell("b"), shell("c", { code: "echo ${nodes.a.outputs.x}" })],
    edges: [edge("a", "b"), edge("b", "c")],
  };

  it("reruns the node and everything downstream; upstream keeps its attempt and its outputs are reused", () => {
    const w = new World();
    const { id } = w.start(chain);
    w.run(attemptOf(w, id, "a").id, 0, { x: "from-a" });
    w.run(attemptOf(w, id, "b").id);
    w.run(attemptOf(w, id, "c").id);
    expect(w.status(id)).toBe("succeeded");
    w.take();
    w.tx((s) => s.rerun(id, "from", "b"));
    expect(w.dispatched().map((t) => [t.task.nodeName, t.task.attempt])).toEqual([["b", 2]]);
    w.run(attemptOf(w, id, "b").id);
    const [c] = w.dispatched();
    expect(c!.task).toMatchObject({ nodeName: "c", attempt: 2, values: ["from-a"] });
    w.run(c!.task.attemptId);
    expect(Object.fromEntries(w.host.currentRuns(id).map((r) => [r.node_name, r.attempt]))).toEqual({ a: 1, b: 2, c: 2 });
    expect(w.status(id)).toBe("succeeded");
  });

  it("refuses an unknown node, a node without mode from, and a node whose upstream did not succeed", () => {
    const w = new World();
    const { id } = w.start(chain);
    w.run(attemptOf(w, id, "a").id, 1);
    expect(w.status(id)).toBe("failed");
    expect(() => w.tx((s) => s.rerun(id, "from", "nope"))).toThrow(/node 'nope' is not a node/);
    expect(() => w.tx((s) => s.rerun(id, "from"))).toThrow(/needs node/);
    expect(() => w.tx((s) => s.rerun(id, "from", "c"))).toThrow(/reuses the outputs of 'a', which is failed/);
    expect(w.tx((s) => s.rerun(id, "from", "a")).status).toBe("running");
  });
});
