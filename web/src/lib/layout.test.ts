import { describe, expect, it } from "vitest";
import { completeLayout, layoutGraph, NODE_HEIGHT } from "./layout.ts";

describe("layoutGraph", () => {
  it("ranks a chain top to bottom, each node below its upstream", () => {
    const at = layoutGraph(["a", "b", "c"], [{ from: "a", to: "b" }, { from: "b", to: "c" }]);
    expect(at.get("a")!.y).toBeLessThan(at.get("b")!.y);
    expect(at.get("b")!.y).toBeLessThan(at.get("c")!.y);
    expect(at.get("a")!.x).toBe(at.get("c")!.x);
  });

  it("lays out left to right on request", () => {
    const at = layoutGraph(["a", "b"], [{ from: "a", to: "b" }], { direction: "LR" });
    expect(at.get("a")!.x).toBeLessThan(at.get("b")!.x);
    expect(at.get("a")!.y).toBe(at.get("b")!.y);
  });

  it("places siblings side by side without overlapping", () => {
    const at = layoutGraph(["root", "x", "y"], [{ from: "root", to: "x" }, { from: "root", to: "y" }]);
    expect(at.get("x")!.y).toBe(at.get("y")!.y);
    expect(Math.abs(at.get("x")!.x - at.get("y")!.x)).toBeGreaterThanOrEqual(200);
  });

  it("accepts node names that are Object.prototype keys and ignores edges to unknown nodes", () => {
    const at = layoutGraph(["constructor", "__proto__"], [{ from: "constructor", to: "__proto__" }, { from: "constructor", to: "ghost" }]);
    expect([...at.keys()]).toEqual(["constructor", "__proto__"]);
  });

  it("lays out 400 nodes", () => {
    const names = Array.from({ length: 400 }, (_, i) => `n${i}`);
    const edges = names.slice(1).map((name, i) => ({ from: `n${Math.floor(i / 3)}`, to: name }));
    expect(layoutGraph(names, edges).size).toBe(400);
  });
});

describe("completeLayout", () => {
  it("keeps placed nodes and puts new ones below them", () => {
    const placed = new Map([["a", { x: 500, y: 300 }]]);
    const at = completeLayout(["a", "b"], [{ from: "a", to: "b" }], placed);
    expect(at.get("a")).toEqual({ x: 500, y: 300 });
    expect(at.get("b")!.y).toBeGreaterThanOrEqual(300 + NODE_HEIGHT);
  });

  it("lays out everything when nothing is placed, and forgets places of removed nodes", () => {
    const at = completeLayout(["a"], [], new Map([["gone", { x: 1, y: 1 }]]));
    expect([...at.keys()]).toEqual(["a"]);
  });
});
