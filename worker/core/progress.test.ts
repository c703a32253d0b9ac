// Tests for DAG progression: readiness, skip cascades, branch choices, merges and final status.
import { describe, expect, it } from "vitest";
import { dagShape, planProgress, type NodeStatus } from "./progress.ts";

const shape = (nodes: [string, string][], edges: [string, string][]) =>
  dagShape(
    nodes.map(([name, type]) => ({ name, type })),
    edges.map(([from, to]) => ({ from, to })),
    nodes.map(([n]) => n),
  );

describe("planProgress", () => {
  const chain = shape([["a", "shell"], ["b", "shell"], ["c", "shell"]], [["a", "b"], ["b", "c"]]);

  it("makes roots ready first and nothing else", () => {
    expect(planProgress(chain, { a: "pending", b: "pending", c: "pending" })).toEqual({ ready: ["a"], skipped: [] });
  });

  it("makes a node ready once every upstream succeeded", () => {
    expect(planProgress(chain, { a: "succeeded", b: "pending", c: "pending" }).ready).toEqual(["b"]);
  });

  it("skips everything below a failed node in one pass and ends the instance as failed", () => {
    const p = planProgress(chain, { a: "failed", b: "pending", c: "pending" });
    expect(p.skipped.map((s) => s.name)).toEqual(["b", "c"]);
    expect(p.skipped[0]!.reason).toMatch(/'a' did not succeed/);
    expect(p.finished).toBe("failed");
  });

  it("keeps an independent branch running after a failure elsewhere", () => {
    const s = shape([["a", "shell"], ["b", "shell"], ["x", "shell"]], [["a", "b"]]);
    const p = planProgress(s, { a: "failed", b: "pending", x: "running" });
    expect(p.skipped.map((k) => k.name)).toEqual(["b"]);
    expect(p.finished).toBeUndefined();
  });

  it("reports terminated over failed over succeeded", () => {
    const s = shape([["a", "shell"], ["b", "shell"]], []);
    expect(planProgress(s, { a: "terminated", b: "failed" }).finished).toBe("terminated");
    expect(planProgress(s, { a: "succeeded", b: "failed" }).finished).toBe("failed");
    expect(planProgress(s, { a: "succeeded", b: "skipped" }).finished).toBe("succeeded");
  });

  describe("branch and merge", () => {
    const diamond = shape(
      [["route", "branch"], ["yes", "shell"], ["no", "shell"], ["join", "merge"], ["after_yes", "shell"]],
      [["route", "yes"], ["route", "no"], ["yes", "join"], ["no", "join"], ["yes", "after_yes"]],
    );
    const start: Record<string, NodeStatus> = { route: "succeeded", yes: "pending", no: "pending", join: "pending", after_yes: "pending" };

    it("runs only the chosen path and skips the other with the branch named", () => {
      const p = planProgress(diamond, start, { route: ["yes"] });
      expect(p.ready).toEqual(["yes"]);
      expect(p.skipped).toEqual([{ name: "no", reason: "branch 'route' chose another path" }]);
    });

    it("runs a merge once every upstream is done and one delivered; branch-skipped upstreams are fine", () => {
      const p = planProgress(diamond, { ...start, yes: "succeeded", no: "skipped", after_yes: "succeeded" }, { route: ["yes"] });
      expect(p.ready).toEqual(["join"]);
    });

    it("waits for a merge's running upstream", () => {
      expect(planProgress(diamond, { ...start, yes: "running", no: "skipped" }, { route: ["yes"] }).ready).toEqual([]);
    });

    it("skips a merge none of whose upstream delivered", () => {
      const p = planProgress(diamond, { ...start, yes: "failed", no: "skipped", after_yes: "skipped" }, { route: ["yes"] });
      expect(p.skipped.map((s) => s.name)).toEqual(["join"]);
      expect(p.finished).toBe("failed");
    });

    it("runs several chosen paths when several conditions hold", () => {
      expect(planProgress(diamond, start, { route: ["yes", "no"] }).ready).toEqual(["yes", "no"]);
    });
  });
});
