// When a runner kills an attempt whose lease it cannot renew: dead before the server's lease runs out.
import { describe, expect, test } from "vitest";
import { killPlan } from "../src/lease-watch.ts";

describe("killPlan", () => {
  test("a long lease: SIGTERM the kill grace before the process must be dead, a tenth of the lease before expiry", () => {
    expect(killPlan(1_000, 30_000, 5_000)).toEqual({ termAt: 1_000 + 22_000, graceMs: 5_000 });
  });

  test("a lease shorter than twice the grace: SIGTERM at half the lease, the grace shortened to fit", () => {
    expect(killPlan(0, 2_000, 5_000)).toEqual({ termAt: 1_000, graceMs: 800 });
  });

  test("SIGKILL always lands before the lease runs out", () => {
    for (const [leaseMs, graceMs] of [[30_000, 5_000], [2_000, 500], [1_000, 10_000], [60_000, 0]] as const) {
      const plan = killPlan(0, leaseMs, graceMs);
      expect(plan.termAt + plan.graceMs).toBeLessThan(leaseMs);
      expect(plan.termAt).toBeGreaterThanOrEqual(leaseMs / 2);
    }
  });
});
