import { describe, expect, it } from "vitest";
import { bulkFilterOf, bulkFilterProblem, canTake, didSentence, willSentence } from "./bulk.ts";

describe("bulkFilterOf", () => {
  it("sends the page's filter, with its time window as createdAfter", () => {
    const now = new Date("2026-03-10T12:00:00Z");
    expect(bulkFilterOf({ workflowId: "wf_1", status: "failed", env: "prod", triggerType: "r2", sinceHours: 24 }, now)).toEqual({
      workflowId: "wf_1",
      status: "failed",
      env: "prod",
      triggerType: "r2",
      createdAfter: "2026-03-09T12:00:00.000Z",
    });
  });

  it("sends an empty filter for no filter", () => {
    expect(bulkFilterOf({})).toEqual({});
  });
});

describe("bulkFilterProblem", () => {
  it("asks for a workflow or a time window before acting on a whole filter", () => {
    expect(bulkFilterProblem({ status: "failed" })).toMatch(/workflow or a time window/);
    expect(bulkFilterProblem({ workflowId: "wf_1" })).toBeNull();
    expect(bulkFilterProblem({ sinceHours: 24 })).toBeNull();
  });
});

describe("canTake", () => {
  it("terminates only instances that can still change", () => {
    expect(canTake("terminate", { status: "running" })).toBe(true);
    expect(canTake("terminate", { status: "waiting" })).toBe(true);
    expect(canTake("terminate", { status: "succeeded" })).toBe(false);
  });

  it("reruns only finished instances, failed ones for rerun failed", () => {
    expect(canTake("rerun-all", { status: "succeeded" })).toBe(true);
    expect(canTake("rerun-all", { status: "running" })).toBe(false);
    expect(canTake("rerun-failed", { status: "terminated" })).toBe(true);
    expect(canTake("rerun-failed", { status: "skipped" })).toBe(false);
  });
});

describe("sentences", () => {
  it("says the dry run's count before anything is applied", () => {
    expect(willSentence("terminate", 12)).toBe("This will terminate 12 instances.");
    expect(willSentence("rerun-failed", 1)).toBe("This will rerun the failed nodes of 1 instance.");
    expect(willSentence("rerun-all", 0)).toBe("No instance matches: nothing to do.");
  });

  it("says what was applied, what failed and what remains", () => {
    expect(didSentence("terminate", { affected: ["a", "b"], failed: [], remaining: 0 })).toBe("Terminated 2 instances.");
    expect(didSentence("rerun-all", { affected: ["a"], failed: [{ id: "b", error: "x" }], remaining: 30 })).toBe(
      "Reran 1 instance; 1 failed; 30 remain: apply again to continue.",
    );
  });
});
