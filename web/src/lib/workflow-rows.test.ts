import { describe, expect, it } from "vitest";
import type { InstanceSummary, Workflow, WorkflowSummary } from "./api-types.ts";
import { copyName, lastRuns, matchesSearch, workflowRows } from "./workflow-rows.ts";
import { emptyDefinition } from "./workflow-doc.ts";

const summary = (id: string, name: string): WorkflowSummary => ({ id, name, description: `about ${name}`, publishedVersion: null, createdAt: "", updatedAt: "" });
const instance = (id: string, workflowId: string): InstanceSummary => ({
  id, workflowId, workflowName: "", version: null, env: "dev", status: "succeeded", priority: 5, runDate: null, createdAt: "", startedAt: null, finishedAt: null,
});

describe("workflowRows", () => {
  it("joins each workflow with its newest run and its trigger's name", () => {
    const detail: Workflow = { ...summary("wf_1", "orders"), definition: { ...emptyDefinition("orders"), policy: { triggerId: "trg_1" } } };
    const runs = lastRuns([instance("ins_new", "wf_1"), instance("ins_old", "wf_1")]);
    const [row, other] = workflowRows([summary("wf_1", "orders"), summary("wf_2", "users")], runs, new Map([["wf_1", detail]]), [
      { id: "trg_1", name: "r2 csv", type: "r2", config: {}, description: "", filter: null, dedup: { key: null, windowSeconds: 1 }, ordering: null, enabled: true, createdAt: "", updatedAt: "" },
    ]);
    expect(row!.lastRun!.id).toBe("ins_new");
    expect(row!.trigger).toEqual({ id: "trg_1", name: "r2 csv", type: "r2" });
    expect(other!.trigger).toBeUndefined();
    expect(other!.lastRun).toBeUndefined();
  });
});

describe("matchesSearch", () => {
  it("matches every word against name, description, id and trigger", () => {
    const [row] = workflowRows([summary("wf_1", "process_orders")], new Map(), new Map(), null);
    expect(matchesSearch(row!, "ORDERS about")).toBe(true);
    expect(matchesSearch(row!, "orders users")).toBe(false);
    expect(matchesSearch(row!, "  ")).toBe(true);
  });
});

describe("copyName", () => {
  it("finds a free name for a clone", () => {
    expect(copyName("etl", new Set(["etl"]))).toBe("etl_copy");
    expect(copyName("etl", new Set(["etl", "etl_copy", "etl_copy2"]))).toBe("etl_copy3");
  });
});
