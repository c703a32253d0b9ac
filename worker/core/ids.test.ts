// Tests for identifiers: instance ids that name their workflow.
import { describe, expect, it } from "vitest";
import { derivedInstanceId, newId, newInstanceId, workflowOfInstance } from "./ids.ts";

describe("instance ids", () => {
  it("name their workflow, so its coordinator is found from the id alone", () => {
    const wf = newId("wf");
    expect(workflowOfInstance(newInstanceId(wf))).toBe(wf);
    expect(workflowOfInstance(derivedInstanceId(wf, 1_700_000_000_000, "ab".repeat(32)))).toBe(wf);
  });

  it("repeat for the same event when derived", () => {
    expect(derivedInstanceId("wf_a", 5, "0f".repeat(32))).toBe(derivedInstanceId("wf_a", 5, "0f".repeat(32)));
  });

  it("name no workflow when made before ids did, or when the tail is not a workflow id", () => {
    expect(workflowOfInstance(newId("ins"))).toBeNull();
    expect(workflowOfInstance("ins_abc.not-a-workflow")).toBeNull();
    expect(workflowOfInstance("wf_abc.wf_def")).toBeNull();
  });
});
