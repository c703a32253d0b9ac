// Bulk action decisions: what a filter may match for an action, refusals naming the field, batches, and the report.
import { describe, expect, it } from "vitest";
import { SluiceError } from "./errors.ts";
import { applyInBatches, batches, bulkMatch, bulkReport, CALLS_AT_ONCE, environmentsOf } from "./bulk.ts";

/** The refusal's detail paths, or a failure if nothing was refused. */
function refusedPaths(run: () => unknown): (string | undefined)[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).status).toBe(400);
    return (err as SluiceError).details.map((d) => d.path);
  }
  throw new Error("the filter was accepted");
}

describe("bulkMatch", () => {
  it("matches only what the action can act on when no status is given", () => {
    expect(bulkMatch("terminate", { workflowId: "wf" }).statuses).toEqual(["waiting", "running"]);
    expect(bulkMatch("rerun-failed", { workflowId: "wf" }).statuses).toEqual(["failed", "terminated"]);
    expect(bulkMatch("rerun-all", { workflowId: "wf" }).statuses.sort()).toEqual(["failed", "skipped", "succeeded", "terminated"]);
  });

  it("narrows to the given status and keeps the other fields", () => {
    expect(bulkMatch("rerun-all", { createdAfter: 1, createdBefore: 2, status: "succeeded", env: "prod", triggerType: "r2" })).toEqual({
      createdAfter: 1, createdBefore: 2, env: "prod", triggerType: "r2", statuses: ["succeeded"],
    });
  });

  it("refuses a filter that names neither a workflow nor a created time range", () => {
    expect(refusedPaths(() => bulkMatch("terminate", { status: "running", env: "prod" }))).toEqual(["filter"]);
    expect(bulkMatch("terminate", { createdBefore: 5 }).createdBefore).toBe(5);
  });

  it("refuses a status the action can never act on, naming filter.status", () => {
    expect(refusedPaths(() => bulkMatch("terminate", { workflowId: "wf", status: "succeeded" }))).toEqual(["filter.status"]);
    expect(refusedPaths(() => bulkMatch("rerun-failed", { workflowId: "wf", status: "running" }))).toEqual(["filter.status"]);
  });

  it("refuses an empty or inverted time range, naming filter.createdBefore", () => {
    expect(refusedPaths(() => bulkMatch("rerun-all", { createdAfter: 10, createdBefore: 10 }))).toEqual(["filter.createdBefore"]);
  });

  it("names every problem at once", () => {
    expect(refusedPaths(() => bulkMatch("terminate", { status: "failed" }))).toEqual(["filter", "filter.status"]);
  });
});

describe("environmentsOf", () => {
  it("reaches both environments unless filter.env names one", () => {
    expect(environmentsOf({ workflowId: "wf" })).toEqual(["dev", "prod"]);
    expect(environmentsOf({ workflowId: "wf", env: "dev" })).toEqual(["dev"]);
  });
});

describe("batches and the report", () => {
  it("cuts the ids into rounds of CALLS_AT_ONCE", () => {
    const ids = Array.from({ length: 2 * CALLS_AT_ONCE + 3 }, (_, i) => `i${i}`);
    expect(batches(ids).map((b) => b.length)).toEqual([CALLS_AT_ONCE, CALLS_AT_ONCE, 3]);
    expect(batches(ids).flat()).toEqual(ids);
  });

  it("never has more than CALLS_AT_ONCE calls in flight, and a thrown call is that instance's failure", async () => {
    let inFlight = 0;
    let peak = 0;
    const ids = Array.from({ length: 120 }, (_, i) => `i${i}`);
    const outcomes = await applyInBatches(ids, async (id) => {
      peak = Math.max(peak, ++inFlight);
      await Promise.resolve();
      inFlight--;
      if (id === "i7") throw new Error("coordinator unreachable");
      return id === "i8" ? "instance i8 is running; only a finished instance can be rerun" : null;
    });
    expect(peak).toBe(CALLS_AT_ONCE);
    expect(outcomes.map((o) => o.id)).toEqual(ids);
    expect(bulkReport(false, 130, outcomes)).toMatchObject({
      dryRun: false,
      matched: 130,
      failed: [{ id: "i7", error: "coordinator unreachable" }, { id: "i8", error: expect.stringContaining("only a finished") }],
      remaining: 10,
    });
    expect(bulkReport(false, 130, outcomes).affected).toHaveLength(118);
  });
});
