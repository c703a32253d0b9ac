import { describe, expect, it } from "vitest";
import type { Trigger, WorkflowListItem } from "./api/types.ts";
import { copyName, matchesSearch, workflowRows } from "./workflow-rows.ts";

const item = (id: string, name: string, triggerId: string | null = null): WorkflowListItem => ({
  id, name, description: `about ${name}`, publishedVersion: null, createdAt: "", updatedAt: "", triggerId,
  lastRun: { id: `ins_${id}`, status: "succeeded", env: "dev", createdAt: "2026-03-10T00:00:00Z" },
});
const r2: Trigger = {
  id: "trg_1", name: "r2 csv", type: "r2", config: { bucket: "uploads" }, description: "", filter: null, dedup: { key: null, windowSeconds: 1 }, ordering: null, batch: null, debounce: null, paused: false, pausedAt: null, enabled: true, createdAt: "", updatedAt: "",
};

describe("workflowRows", () => {
  it("names each workflow's trigger from the trigger list and keeps its last run", () => {
    const [known, unknown, none] = workflowRows([item("wf_1", "orders", "trg_1"), item("wf_2", "users", "trg_gone"), item("wf_3", "idle")], [r2]);
    expect(known!.trigger).toEqual({ id: "trg_1", name: "r2 csv", type: "r2" });
    expect(known!.lastRun!.id).toBe("ins_wf_1");
    expect(unknown!.trigger).toEqual({ id: "trg_gone", name: "trg_gone", type: null });
    expect(none!.trigger).toBeNull();
  });

  it("falls back to trigger ids when the trigger list could not be read", () => {
    const [row] = workflowRows([item("wf_1", "orders", "trg_1")], null);
    expect(row!.trigger).toEqual({ id: "trg_1", name: "trg_1", type: null });
  });
});

describe("matchesSearch", () => {
  it("matches every word against name, description, id and trigger", () => {
    const [row] = workflowRows([item("wf_1", "process_orders", "trg_1")], [r2]);
    expect(matchesSearch(row!, "ORDERS about")).toBe(true);
    expect(matchesSearch(row!, "orders csv")).toBe(true);
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
