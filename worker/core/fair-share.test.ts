// Fair share within a priority level (DESIGN §2.9), through the lease book with a fake pool: spikes, shares, strict levels, restarts.
import { beforeEach, describe, expect, it } from "vitest";
import { FakeLeaseHost } from "./fake-lease-host.ts";
import { PASS_UNIT, strideOf } from "./fair-share.ts";
import { LeaseBook } from "./leases.ts";

let host: FakeLeaseHost;
let book: LeaseBook;
const newBook = () => new LeaseBook(host, { leaseMs: 30_000, graceMs: 60_000, reportRetryMs: 5_000 });
beforeEach(() => {
  host = new FakeLeaseHost();
  book = newBook();
});

/** `n` ready tasks of one workflow, each its own node. */
function spike(workflowId: string, n: number, over: { priority?: number; share?: number } = {}): void {
  for (let i = 0; i < n; i++) host.add(`${workflowId}-${i}`, { workflowId, instanceId: `ins_${workflowId}_${i}`, ...over });
}

/** A runner with `slots` slots that finishes each task as soon as it has it, one grant at a time: the workflows in grant order. */
function serve(grants: number, runner = "r1"): string[] {
  const order: string[] = [];
  for (let i = 0; i < grants; i++) {
    const [g] = book.grant(runner, "ws", 1);
    if (g === undefined) break;
    order.push(g.task.workflowId);
    book.forget(g.task.attemptId);
  }
  return order;
}

const count = (order: string[], wf: string) => order.filter((w) => w === wf).length;

describe("fair share within a priority level", () => {
  it("a later workflow's few tasks run within the next grants, not after another's spike of 1,000", () => {
    host.slots.set("r1", 2);
    spike("a", 1_000);
    const first = book.grant("r1", "ws", 2);
    expect(first.map((g) => g.task.workflowId)).toEqual(["a", "a"]);
    spike("b", 10);
    for (const g of first) book.forget(g.task.attemptId);
    const next = serve(20);
    expect(count(next, "b"), `b got ${count(next, "b")} of the next 20 slots: ${next.join(",")}`).toBe(10);
    expect(next.indexOf("b")).toBe(0);
    expect(next.slice(0, 20).join("")).toBe("babababababababababa");
  });

  it("shares 3:1 give three slots to one per slot of the other while both have work", () => {
    spike("heavy", 400, { share: 3 });
    spike("light", 400, { share: 1 });
    const order = serve(400);
    expect(count(order, "heavy")).toBe(300);
    expect(count(order, "light")).toBe(100);
    // Not in long runs either: within any 8 grants both get their part.
    for (let i = 0; i + 8 <= order.length; i += 8) expect(count(order.slice(i, i + 8), "light")).toBe(2);
  });

  it("a higher priority level still goes strictly first, whatever the shares", () => {
    spike("low", 50, { priority: 3, share: 1000 });
    spike("high", 5, { priority: 8 });
    expect(serve(7)).toEqual(["high", "high", "high", "high", "high", "low", "low"]);
  });

  it("within one workflow the old order holds: weight, highest first, then the oldest", () => {
    host.add("w-old", { workflowId: "w", weight: 1, instanceId: "i1" });
    host.add("w-heavy", { workflowId: "w", weight: 9, instanceId: "i2" });
    host.add("w-new", { workflowId: "w", weight: 1, instanceId: "i3" });
    host.add("v-only", { workflowId: "v", weight: 0, instanceId: "i4" });
    const ids = book.grant("r1", "ws", 4).map((g) => g.task.attemptId);
    expect(ids.filter((id) => id.startsWith("w-"))).toEqual(["w-heavy", "w-old", "w-new"]);
    expect(ids.indexOf("v-only")).toBe(1);
  });

  it("idle time banks no credit: a workflow back after a pause takes turns, it does not run alone to catch up", () => {
    spike("a", 200);
    spike("b", 2);
    serve(4); // b's two tasks run beside a's, then b is idle while a runs on
    serve(100);
    for (let i = 0; i < 50; i++) host.add(`b-late-${i}`, { workflowId: "b", instanceId: `ins_b_late_${i}` });
    const order = serve(20);
    expect(count(order, "b")).toBe(10);
    expect(order.join("")).toMatch(/^(ab|ba)+$/);
  });

  it("a workflow whose next tasks wait on a busy node does not hold up the others", () => {
    host.add("a1", { workflowId: "a", instanceId: "i", nodeName: "n" });
    book.grant("r1", "ws", 1);
    book.cancel(["a1"]); // still holds its process
    host.add("a2", { workflowId: "a", instanceId: "i", nodeName: "n", attempt: 2 });
    spike("b", 3);
    expect(book.grant("r2", "ws", 4).map((g) => g.task.attemptId)).toEqual(["b-0", "b-1", "b-2"]);
  });

  it("a pool restart keeps the turns: the stored passes decide the next slot", () => {
    spike("a", 10);
    spike("b", 10);
    expect(serve(3)).toEqual(["a", "b", "a"]);
    book = newBook(); // the object came back: only its tables remain
    expect(serve(1)).toEqual(["b"]);
  });

  it("reads the head of each ready workflow and a short page of the one served, not a spike's whole backlog", () => {
    for (const wf of ["a", "b", "c", "d"]) spike(wf, 500);
    serve(10);
    // Per grant: four heads, and at most one page of 16 for the workflow that won the slot.
    expect(host.tasksRead).toBeLessThanOrEqual(10 * (4 + 16));
    expect(host.tasksRead).toBeGreaterThanOrEqual(10 * 4);
  });

  it("passes are integers: a share's stride divides the unit", () => {
    expect(strideOf(1)).toBe(PASS_UNIT);
    expect(strideOf(3)).toBe(333_333);
    expect(Number.isInteger(strideOf(7))).toBe(true);
  });
});
