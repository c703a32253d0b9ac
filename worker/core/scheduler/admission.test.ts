// Admission with a fake host: maxParallel over real processes, priority then arrival, ordering keys, dedup.
import { describe, expect, it } from "vitest";
import { churn, GRACE_MS, prng, shell, World } from "./fake-host.ts";


const limited = (maxParallel: number, nodes = [shell("work")]) => ({ name: "w", policy: { maxParallel }, nodes });

/** maxParallel 1: instance a runs on a runner and is terminated while b waits behind it. */
function terminatedWhileRunning() {
  const w = new World();
  const a = w.start(limited(1)).id;
  const [task] = w.dispatched();
  w.tx((s) => s.nodeStarted(task!.task.attemptId, "r1", w.host.clock));
  const b = w.start(limited(1)).id;
  w.tx((s) => s.terminate(a));
  return { w, task, a, b };
}

describe("maxParallel", () => {
  it("never runs more than maxParallel instances under bursts, failures, retries, terminations, lost attempts and exits", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const random = prng(seed);
      // Odd seeds keep almost nothing in memory, so state is reloaded from storage all the time.
      const w = new World(seed % 2 === 1 ? 2 : undefined);
      const def = { ...limited(3, [shell("work", { retry: { count: 1 } }), shell("after")]), edges: [{ from: "work", to: "after" }] };
      let peak = 0;
      const priority = () => ({ priorityOverride: ([1, 3, 5, 7, 8] as const)[Math.floor(random() * 5)]! });
      const burst = () => Array.from({ length: Math.floor(random() * 5) + 1 }, () => w.start(def, priority()).id);
      // Drained at the end: every started instance finishes; nothing is stuck.
      const started = churn(w, random, 40, burst, (when) => {
        peak = Math.max(peak, w.placesHeld());
        expect(w.placesHeld(), `seed ${seed}: ${when}`).toBeLessThanOrEqual(3);
      });
      expect(started.map((id) => w.status(id)).filter((s) => s === "waiting" || s === "running"), `seed ${seed}`).toEqual([]);
      if (started.length >= 4) expect(peak, `seed ${seed}`).toBe(3);
    }
  });

  it("keeps a terminated instance's place while its stopped process may still run", () => {
    const { w, task, b } = terminatedWhileRunning();
    expect(w.status(b)).toBe("waiting");
    expect(w.scheduler.waitReason(b)).toMatch(/maxParallel 1 reached \(1 running, 1 of them stopped but with processes still exiting\)/);
    // The runner confirms the kill: the place is free.
    w.tx((s) => s.processGone([task!.task.attemptId]));
    expect(w.status(b)).toBe("running");
  });

  it("frees a stopped attempt's place after two lease periods when no word comes", () => {
    const { w, b } = terminatedWhileRunning();
    w.advance(GRACE_MS - 1);
    expect(w.status(b)).toBe("waiting");
    w.advance(1);
    expect(w.status(b)).toBe("running");
  });

  it("a late report of a stopped attempt frees its place but changes nothing else", () => {
    const w = new World();
    const a = w.start(limited(1)).id;
    const [task] = w.dispatched();
    const b = w.start(limited(1)).id;
    w.tx((s) => s.terminate(a));
    w.tx((s) => s.nodeFinished(task!.task.attemptId, { exitCode: 0, signal: null, outputs: {}, error: null }));
    expect(w.nodes(a)).toEqual({ work: "terminated" });
    expect(w.status(b)).toBe("running");
  });

  it("counts each environment on its own", () => {
    const w = new World();
    w.start(limited(1));
    expect(w.start(limited(1), { env: "prod" }).status).toBe("running");
    expect(w.start(limited(1)).status).toBe("waiting");
  });
});

describe("waiting order", () => {
  it("starts waiting instances by priority, then arrival, and says why they wait", () => {
    const w = new World();
    const first = w.start(limited(1)).id;
    const low = w.start(limited(1), { priorityOverride: 1 }).id;
    const urgent = w.start(limited(1), { priorityOverride: 8 }).id;
    const normal = w.start(limited(1), { priorityOverride: 5 }).id;
    const urgent2 = w.start(limited(1), { priorityOverride: 8 }).id;
    expect(w.scheduler.waitReason(low)).toBe("maxParallel 1 reached (1 running); 4th in its line");
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      const [task] = w.dispatched();
      order.push(task!.task.instanceId);
      w.run(task!.task.attemptId);
    }
    expect(order).toEqual([first, urgent, urgent2, normal, low]);
  });

  it("terminating a waiting instance passes it over; the next one starts when the place frees", () => {
    const w = new World();
    const a = w.start(limited(1)).id;
    const [task] = w.dispatched();
    const b = w.start(limited(1)).id;
    const c = w.start(limited(1)).id;
    w.tx((s) => s.terminate(b));
    expect(w.status(b)).toBe("terminated");
    w.tx((s) => s.terminate(a));
    // a's queued attempt holds the place until the pool confirms it left.
    expect(w.status(c)).toBe("waiting");
    w.tx((s) => s.processGone([task!.task.attemptId]));
    expect(w.status(c)).toBe("running");
  });
});

describe("ordering keys", () => {
  it("runs instances that share a key one at a time, in arrival order, whatever their priority", () => {
    const w = new World();
    const def = { name: "w", nodes: [shell("n")] };
    const a1 = w.start(def, { orderingKey: "user-1" });
    const b1 = w.start(def, { orderingKey: "user-2" });
    const a2 = w.start(def, { orderingKey: "user-1", priorityOverride: 8 });
    const a3 = w.start(def, { orderingKey: "user-1" });
    expect([a1.status, b1.status, a2.status, a3.status]).toEqual(["running", "running", "waiting", "waiting"]);
    expect(w.scheduler.waitReason(a2.id)).toMatch(/ordering key 'user-1'/);
    const first = w.dispatched();
    w.run(first.find((t) => t.task.instanceId === a1.id)!.task.attemptId);
    expect([w.status(a2.id), w.status(a3.id)]).toEqual(["running", "waiting"]);
    w.run(w.dispatched()[0]!.task.attemptId);
    expect(w.status(a3.id)).toBe("running");
  });

  it("lets a later instance without a key pass one held back by its key", () => {
    const w = new World();
    const def = limited(2);
    w.start(def, { orderingKey: "k" });
    expect(w.start(def, { orderingKey: "k", priorityOverride: 8 }).status).toBe("waiting");
    expect(w.start(def).status).toBe("running");
  });
});

describe("dedup", () => {
  it("starts one instance for a key delivered three times inside its window, even across an eviction", () => {
    const w = new World();
    const def = { name: "w", nodes: [shell("n")] };
    const dedup = { key: "q:msg-1", windowSeconds: 60 };
    const first = w.start(def, { dedup });
    w.evict();
    const again = [w.start(def, { dedup }), w.start(def, { dedup })];
    expect(first.duplicate).toBeUndefined();
    expect(again).toEqual([{ id: first.id, status: "running", duplicate: true }, { id: first.id, status: "running", duplicate: true }]);
    expect(w.host.t.instances.size).toBe(1);
    expect(w.start(def, { dedup: { key: "q:msg-2", windowSeconds: 60 } }).id).not.toBe(first.id);
  });

  it("starts again once the window has passed", () => {
    const w = new World();
    const dedup = { key: "k", windowSeconds: 60 };
    const first = w.start({ name: "w", nodes: [{ name: "n", type: "noop" }] }, { dedup });
    w.host.clock += 60_000;
    const later = w.start({ name: "w", nodes: [{ name: "n", type: "noop" }] }, { dedup });
    expect(later.duplicate).toBeUndefined();
    expect(later.id).not.toBe(first.id);
  });

  it("answers a repeated start of the same instance id with that instance", () => {
    const w = new World();
    const def = { name: "w", nodes: [shell("n")] };
    const first = w.start(def, { instanceId: "ins_same" });
    expect(w.start(def, { instanceId: "ins_same" })).toEqual({ id: first.id, status: "running" });
    expect(w.host.t.instances.size).toBe(1);
  });
});
