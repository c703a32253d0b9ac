// The incremental plan against planProgress on random DAGs and random transitions: the same decisions, step by step.
import { describe, expect, it } from "vitest";
import { dagShape, FINISHED_NODE, planProgress, type NodeStatus } from "../progress.ts";
import { indexDag, InstancePlan } from "./instance-plan.ts";

/** A small deterministic PRNG, so a failing run can be replayed from its seed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const TYPES = ["shell", "shell", "noop", "branch", "merge"] as const;

/** A random DAG: edges only go from a lower to a higher index, so any index order is topological. */
function randomDag(random: () => number) {
  const n = 1 + Math.floor(random() * 12);
  const nodes = Array.from({ length: n }, (_, i) => ({ name: `n${i}`, type: TYPES[Math.floor(random() * TYPES.length)]! }));
  const edges: { from: string; to: string }[] = [];
  for (let to = 1; to < n; to++) for (let from = 0; from < to; from++) if (random() < 0.3) edges.push({ from: `n${from}`, to: `n${to}` });
  return { nodes, edges, shape: dagShape(nodes, edges, nodes.map((x) => x.name)) };
}

describe("InstancePlan", () => {
  it("decides exactly as planProgress over random DAGs, transitions, retries and reruns", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const random = prng(seed);
      const { shape } = randomDag(random);
      const status: Record<string, NodeStatus> = Object.fromEntries(shape.order.map((n) => [n, "pending"]));
      const chosen: Record<string, string[]> = {};
      const plan = new InstancePlan(indexDag(shape), status, chosen);
      for (let step = 0; step < 60; step++) {
        const expected = planProgress(shape, status, chosen);
        expect(plan.plan(), `seed ${seed} step ${step}`).toEqual(expected);
        for (const { name } of expected.skipped) status[name] = "skipped";
        if (expected.finished) {
          // A rerun of everything, or of the failed and terminated nodes and all below them.
          const again = shape.order.filter((n) => random() < 0.5 || status[n] === "failed" || status[n] === "terminated");
          for (const name of again) {
            status[name] = "pending";
            delete chosen[name];
            plan.set(name, "pending", null);
          }
          if (again.length === 0) break;
          continue;
        }
        // One change to a node, as the scheduler makes them: start, finish, retry, terminate.
        const live = shape.order.filter((n) => !FINISHED_NODE.has(status[n]!));
        const name = random() < 0.7 && expected.ready.length > 0 ? expected.ready[Math.floor(random() * expected.ready.length)]! : live[Math.floor(random() * live.length)]!;
        const roll = random();
        let next: NodeStatus;
        let choice: string[] | null | undefined;
        if (status[name] === "pending" && roll < 0.3) next = "queued";
        else if (status[name] === "queued" && roll < 0.3) next = "running";
        else if (roll < 0.75) {
          next = "succeeded";
          if (shape.branch.has(name)) choice = Object.keys(shape.upstream).filter((d) => shape.upstream[d]!.includes(name) && random() < 0.5);
        } else if (roll < 0.85) next = "failed";
        else if (roll < 0.95) next = "pending"; // a retry's new attempt
        else next = "terminated";
        status[name] = next;
        if (choice) chosen[name] = choice;
        plan.set(name, next, choice);
      }
    }
  });

  it("a transition on a long chain decides only the node below it", () => {
    const n = 400;
    const names = Array.from({ length: n }, (_, i) => `n${i}`);
    const shape = dagShape(names.map((name) => ({ name, type: "noop" })), names.slice(1).map((to, i) => ({ from: names[i]!, to })), names);
    const plan = new InstancePlan(indexDag(shape), Object.fromEntries(names.map((x) => [x, "pending" as NodeStatus])));
    expect(plan.plan().ready).toEqual(["n0"]);
    for (let i = 0; i < n - 1; i++) {
      plan.set(names[i]!, "succeeded");
      expect(plan.plan()).toEqual({ ready: [names[i + 1]], skipped: [] });
    }
    plan.set(names[n - 1]!, "succeeded");
    expect(plan.plan()).toEqual({ ready: [], skipped: [], finished: "succeeded" });
  });
});
