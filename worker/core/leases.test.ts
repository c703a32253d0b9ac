// Lease decisions of a resource group with a fake host and clock: strict priority, lease ids, renewal, fencing, expiry and held slots.
import { beforeEach, describe, expect, it } from "vitest";
import { FakeLeaseHost } from "./fake-lease-host.ts";
import { LeaseBook } from "./leases.ts";

const LEASE_MS = 30_000;

let host: FakeLeaseHost;
let book: LeaseBook;
beforeEach(() => {
  host = new FakeLeaseHost();
  book = new LeaseBook(host, { leaseMs: LEASE_MS, graceMs: 2 * LEASE_MS, reportRetryMs: 5_000 });
});

const granted = (runner: string, slots: number) => book.grant(runner, "ws", slots).map((g) => g.task.attemptId);
const leaseOf = (id: string) => host.tasks.get(id)!.leaseId!;

describe("which ready task a free slot gets", () => {
  it("hands out by effective priority across workflows, then weight, then arrival", () => {
    host.add("old-low", { priority: 1, workflowId: "a" });
    host.add("heavy", { priority: 5, weight: 9, workflowId: "b" });
    host.add("light", { priority: 5, weight: 2, workflowId: "a" });
    host.add("urgent", { priority: 8, workflowId: "c" });
    host.add("light-later", { priority: 5, weight: 2, workflowId: "b" });
    expect(granted("r1", 4)).toEqual(["urgent", "heavy", "light", "light-later"]);
    expect(granted("r2", 4)).toEqual(["old-low"]);
  });

  it("leases only the runner's workspace's tasks", () => {
    host.add("mine");
    host.add("theirs", { workspaceId: "other" });
    expect(granted("r1", 4)).toEqual(["mine"]);
  });

  it("holds a node's next attempt while an earlier attempt of it may still have a process", () => {
    host.add("a1", { instanceId: "i", nodeName: "n" });
    granted("r1", 1);
    book.cancel(["a1"]);
    host.add("a2", { instanceId: "i", nodeName: "n", attempt: 2 });
    expect(granted("r2", 4)).toEqual([]);
    expect(book.acceptResult("a1", "r1", leaseOf("a1"))).toMatchObject({ refused: "lease_lost", gone: { state: "gone" } });
    expect(granted("r2", 4)).toEqual(["a2"]);
  });

  it("never leases two attempts of one node in the same grant", () => {
    host.add("a1", { instanceId: "i", nodeName: "n" });
    host.add("a2", { instanceId: "i", nodeName: "n", attempt: 2 });
    expect(granted("r1", 4)).toEqual(["a1"]);
  });
});

describe("slots", () => {
  it("grants no more than the runner's slots minus the processes it holds", () => {
    for (const id of ["a", "b", "c", "d", "e", "f"]) host.add(id);
    expect(granted("r1", 3)).toHaveLength(3);
    expect(granted("r1", 3)).toHaveLength(1);
    expect(granted("r1", 3)).toHaveLength(0);
  });

  it("a cancelled attempt keeps its slot until its runner reports the process gone", () => {
    host.slots.set("r1", 1);
    host.add("a");
    host.add("b");
    granted("r1", 1);
    book.cancel(["a"]);
    expect(granted("r1", 1)).toEqual([]);
    book.acceptResult("a", "r1", leaseOf("a"));
    expect(granted("r1", 1)).toEqual(["b"]);
  });

  it("a cancelled attempt's slot is free once its lease ran out (its runner killed it by then)", () => {
    host.slots.set("r1", 1);
    host.add("a");
    host.add("b");
    granted("r1", 1);
    book.renew("r1", [{ attemptId: "a", leaseId: leaseOf("a") }]);
    book.cancel(["a"]);
    host.clock += LEASE_MS - 1;
    expect(book.renew("r1", [{ attemptId: "a", leaseId: leaseOf("a") }]), "a stopped attempt is not renewed").toEqual(["a"]);
    book.expire();
    expect(granted("r1", 1)).toEqual([]);
    host.clock += 1;
    book.expire();
    expect(host.tasks.get("a")!.state).toBe("gone");
    expect(granted("r1", 1)).toEqual(["b"]);
  });
});

describe("lease ids and fencing", () => {
  it("issues a new lease id for every lease, also when the same attempt is offered again", () => {
    host.add("a");
    granted("r1", 1);
    const first = leaseOf("a");
    host.clock += LEASE_MS;
    expect(book.expire()).toBe(1);
    granted("r2", 1);
    expect(leaseOf("a")).not.toBe(first);
  });

  it("refuses a report under a stale lease id, another runner's, or an unknown one, and accepts the current one", () => {
    host.add("a");
    granted("r1", 1);
    const stale = leaseOf("a");
    host.clock += LEASE_MS;
    book.expire();
    granted("r2", 1);
    expect(book.acceptResult("a", "r1", stale)).toEqual({ refused: "lease_lost" });
    expect(book.acceptResult("a", "r1", leaseOf("a"))).toEqual({ refused: "lease_lost" });
    expect(book.acceptResult("a", "r2", "lse_made_up")).toEqual({ refused: "lease_lost" });
    expect(book.acceptLog("a", "r1", stale, 10)).toEqual({ refused: "lease_lost" });
    expect(book.acceptResult("a", "r2", leaseOf("a"))).toMatchObject({ refused: null, task: { attemptId: "a" } });
  });

  it("refuses a report for an attempt never in the pool as unknown, and for a finished one as lease lost", () => {
    host.add("a");
    granted("r1", 1);
    const lease = leaseOf("a");
    book.acceptResult("a", "r1", lease);
    book.forget("a");
    expect(book.acceptResult("a", "r1", lease)).toEqual({ refused: "lease_lost" });
    expect(book.acceptResult("nope", "r1", "lse_1")).toEqual({ refused: "unknown_attempt" });
  });

  it("a heartbeat renews current leases and answers the stale ones to kill", () => {
    host.add("a");
    host.add("b");
    granted("r1", 2);
    host.clock += 10_000;
    const cancel = book.renew("r1", [{ attemptId: "a", leaseId: leaseOf("a") }, { attemptId: "b", leaseId: "lse_old" }]);
    expect(cancel).toEqual(["b"]);
    expect(host.tasks.get("a")).toMatchObject({ acked: true, leaseExpiresAt: host.clock + LEASE_MS });
    expect(host.tasks.get("b")).toMatchObject({ acked: false, leaseExpiresAt: 1_000 + LEASE_MS });
  });

  it("a log chunk renews the lease and counts its bytes", () => {
    host.add("a");
    granted("r1", 1);
    host.clock += 5_000;
    expect(book.acceptLog("a", "r1", leaseOf("a"), 100)).toMatchObject({ task: { logBytes: 0 } });
    expect(host.tasks.get("a")).toMatchObject({ acked: true, logBytes: 100, leaseExpiresAt: host.clock + LEASE_MS });
  });
});

describe("expiry", () => {
  it("offers an unconfirmed lease again, and makes a confirmed one lost, to be reported lost and then gone", () => {
    host.add("unconfirmed");
    host.add("confirmed");
    granted("r1", 2);
    book.renew("r1", [{ attemptId: "confirmed", leaseId: leaseOf("confirmed") }]);
    host.clock += LEASE_MS;
    expect(book.expire()).toBe(1);
    expect(host.tasks.get("unconfirmed")).toMatchObject({ state: "ready", runnerId: null, leaseId: null });
    expect(book.expire()).toBe(0);
    host.clock += LEASE_MS;
    book.expire();
    expect(book.reportsDue().lost.map((t) => t.attemptId)).toEqual(["confirmed"]);
    book.lostReported("confirmed");
    expect(book.reportsDue()).toMatchObject({ lost: [], gone: [{ attemptId: "confirmed" }] });
    book.goneReported(["confirmed"]);
    expect(host.finished.has("confirmed")).toBe(true);
  });

  it("a report that failed is due again after the retry delay, not before", () => {
    host.add("a");
    granted("r1", 1);
    book.renew("r1", [{ attemptId: "a", leaseId: leaseOf("a") }]);
    host.clock += LEASE_MS;
    book.expire();
    book.reportFailed(["a"]);
    expect(book.reportsDue().lost).toEqual([]);
    host.clock += 5_000;
    expect(book.reportsDue().lost.map((t) => t.attemptId)).toEqual(["a"]);
  });

  it("a node past its timeout and grace is overdue, and once reported it is stopped, keeping its slot", () => {
    host.add("hung", { timeoutSeconds: 10 });
    granted("r1", 1);
    host.clock += 10_000 + 2 * LEASE_MS - 1;
    book.renew("r1", [{ attemptId: "hung", leaseId: leaseOf("hung") }]);
    expect(book.overdue()).toEqual([]);
    host.clock += 1;
    expect(book.overdue().map((t) => t.attemptId)).toEqual(["hung"]);
    book.stopOverdue("hung");
    expect(book.renew("r1", [{ attemptId: "hung", leaseId: leaseOf("hung") }])).toEqual(["hung"]);
    expect(book.freeSlots("r1", 4)).toBe(3);
  });
});

describe("cancel", () => {
  it("a queued attempt is gone at once, a leased one is stopped, an unknown one is remembered", () => {
    host.add("running");
    host.add("queued");
    granted("r1", 1);
    book.cancel(["queued", "running", "never-here"]);
    expect(host.tasks.get("running")!.state).toBe("cancelling");
    expect(book.reportsDue().gone.map((t) => t.attemptId)).toEqual(["queued"]);
    expect(host.finished.has("never-here")).toBe(true);
  });

  it("a stopped attempt's result is refused as a result but confirms its process gone", () => {
    host.add("a");
    granted("r1", 1);
    book.cancel(["a"]);
    expect(book.acceptResult("a", "r1", leaseOf("a"))).toMatchObject({ refused: "lease_lost", gone: { attemptId: "a" } });
    expect(book.reportsDue().gone.map((t) => t.attemptId)).toEqual(["a"]);
  });
});
