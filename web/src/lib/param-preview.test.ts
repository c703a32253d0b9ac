import { describe, expect, it } from "vitest";
import type { WorkflowDefinition } from "./api/types.ts";
import { previewClock, previewNode, previewWorkflow, unresolvedCount } from "./param-preview.ts";
import { emptyDefinition } from "./workflow-doc.ts";

const def: WorkflowDefinition = {
  ...emptyDefinition("wf"),
  params: { target: "ods_${bizdate}" },
  policy: { ...emptyDefinition().policy, timezone: "Asia/Shanghai" },
  nodes: [
    { name: "hello", type: "shell", code: 'echo "Hello ${bizdate} ${workflow.target} $[yyyy-mm-dd]"\necho "${HOME}"', params: {}, timeoutSeconds: 60 },
    { name: "parse", type: "python", code: "key = '${workflow.triggerMessage.data.object.key}'\nprint(f'{key}')", params: { limit: "${rows:-10}" }, timeoutSeconds: 60 },
    { name: "report", type: "shell", code: 'echo "${nodes.parse.outputs.rows} ${nodes.nowhere.outputs.x}"', params: {}, timeoutSeconds: 60 },
    { name: "call", type: "http", code: "", params: {}, timeoutSeconds: 60, http: { method: "POST", url: "https://api/${workflow.target}", headers: { "x-day": "${bizdate}" } } },
  ],
  edges: [{ from: "parse", to: "report" }],
};

describe("previewClock", () => {
  it("turns run date 20260310 into bizdate 20260309 in the workflow's zone", () => {
    const clock = previewClock("20260310", "Asia/Shanghai");
    expect(clock).toMatchObject({ ok: true, bizdate: "20260309", cyctime: "20260310000000" });
  });

  it("uses now for a blank run date, and says what is wrong with a bad one", () => {
    expect(previewClock("", "UTC", new Date("2026-03-10T12:00:00Z"))).toMatchObject({ ok: true, bizdate: "20260309", cyctime: "20260310120000" });
    expect(previewClock("20260230")).toMatchObject({ ok: false, error: expect.stringContaining("20260230") });
  });
});

describe("previewNode", () => {
  const clock = (previewClock("20260310", "Asia/Shanghai") as { clock: Parameters<typeof previewNode>[3] }).clock;
  const input = { runDate: "20260310", triggerMessage: { data: { object: { key: "input/a.csv" } } } };

  it("resolves built-in dates, workflow params (nested) and date expressions, and leaves shell variables alone", () => {
    expect(previewNode(def, "hello", input, clock)).toEqual([
      { raw: "${bizdate}", where: "code", status: "ok", value: "20260309" },
      { raw: "${workflow.target}", where: "code", status: "ok", value: "ods_20260309" },
      { raw: "$[yyyy-mm-dd]", where: "code", status: "ok", value: "2026-03-10" },
    ]);
  });

  it("reads the trigger message and applies defaults in node params", () => {
    const refs = previewNode(def, "parse", input, clock);
    expect(refs).toContainEqual({ raw: "${workflow.triggerMessage.data.object.key}", where: "code", status: "ok", value: "input/a.csv" });
    expect(refs).toContainEqual({ raw: "${rows:-10}", where: "params.limit", status: "ok", value: "10" });
  });

  it("marks an upstream output as known at run time and a non-upstream one as unresolved", () => {
    const [rows, nowhere] = previewNode(def, "report", input, clock);
    expect(rows).toMatchObject({ status: "runtime", value: "‹output rows of parse›" });
    expect(nowhere).toMatchObject({ status: "unresolved", message: expect.stringContaining("nowhere") });
  });

  it("says which reference would fail a node before it runs", () => {
    const refs = previewNode(def, "parse", { runDate: "20260310", triggerMessage: {} }, clock);
    expect(refs[0]).toMatchObject({ status: "unresolved", message: expect.stringContaining("data") });
  });

  it("previews http fields and run-time parameter overrides", () => {
    const refs = previewNode(def, "call", { ...input, params: { target: "dwd" } }, clock);
    expect(refs).toEqual([
      { raw: "${workflow.target}", where: "http.url", status: "ok", value: "dwd" },
      { raw: "${bizdate}", where: "http.headers.x-day", status: "ok", value: "20260309" },
    ]);
  });
});

describe("previewWorkflow", () => {
  it("lists the nodes that use parameters and counts what would fail", () => {
    const clock = (previewClock("20260310") as { clock: Parameters<typeof previewWorkflow>[2] }).clock;
    const preview = previewWorkflow(def, { runDate: "20260310", triggerMessage: {} }, clock);
    expect(preview.map((p) => p.node)).toEqual(["hello", "parse", "report", "call"]);
    expect(unresolvedCount(preview)).toBe(2);
  });
});
