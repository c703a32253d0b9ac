import { describe, expect, it } from "vitest";
import { resolveText } from "./resolve.ts";
import { context } from "./testing.ts";

const text = (t: string, overrides: Parameters<typeof context>[0] = {}) => {
  const result = resolveText(t, context(overrides));
  return result.ok ? result.text : result;
};

const message = {
  data: { object: { key: "input/a.csv", size: 59537, tags: ["x", "y"], meta: { "x.y": "dotted" } }, ok: true, none: null },
  list: [{ id: 1 }, { id: 2 }],
};

describe("resolveText: where values come from", () => {
  it("prefers a node parameter to a workflow parameter, and both to the builtins", () => {
    const workflowParams = { target: "wf", bizdate: "wf-date", only_wf: "w" };
    const nodeParams = { target: "node" };
    expect(text("${target} ${only_wf} ${bizdate} ${cyctime}", { workflowParams, nodeParams })).toBe("node w wf-date 20260310000000");
  });

  it("reads ${workflow.p} from the workflow even when the node has p", () => {
    expect(text("${workflow.target}", { workflowParams: { target: "wf" }, nodeParams: { target: "node" } })).toBe("wf");
  });

  it("renders trigger-message values: strings raw, numbers, booleans and null as JSON, objects compact", () => {
    expect(text("${workflow.triggerMessage.data.object.key}|${workflow.triggerMessage.data.object.size}", { triggerMessage: message })).toBe("input/a.csv|59537");
    expect(text("${workflow.triggerMessage.data.ok} ${workflow.triggerMessage.data.none}", { triggerMessage: message })).toBe("true null");
    expect(text("${workflow.triggerMessage.list}", { triggerMessage: message })).toBe('[{"id":1},{"id":2}]');
    expect(text("${workflow.triggerMessage}", { triggerMessage: { a: 1, b: "x" } })).toBe('{"a":1,"b":"x"}');
  });

  it("follows indexes and bracket keys", () => {
    expect(text('${workflow.triggerMessage.list[1].id} ${workflow.triggerMessage.data.object.tags[0]} ${workflow.triggerMessage.data.object.meta["x.y"]}', { triggerMessage: message })).toBe("2 x dotted");
  });

  it("reads upstream node outputs", () => {
    expect(text("${nodes.extract.outputs.rows}", { nodeOutputs: { extract: { rows: "42" } } })).toBe("42");
  });

  it("substitutes date expressions and leaves other $[...] alone", () => {
    expect(text("$[yyyy-mm-dd] $[1+2]")).toBe("2026-03-10 $[1+2]");
  });

  it("never reads a trigger-message value as a template", () => {
    expect(text("${workflow.triggerMessage.k}", { triggerMessage: { k: "${workflow.secret} $[yyyymmdd]" }, workflowParams: { secret: "s" } })).toBe(
      "${workflow.secret} $[yyyymmdd]",
    );
  });

  it("does not find parameters on the object prototype", () => {
    expect(text("${constructor}")).toMatchObject({ ok: false, unresolved: ["${constructor}"] });
    expect(text("${workflow.triggerMessage.__proto__}", { triggerMessage: {} })).toMatchObject({ ok: false });
  });
});

describe("resolveText: defaults and unresolved references", () => {
  it("uses the default only when the name cannot be resolved", () => {
    expect(text("${region:-eu} ${workflow.region:-eu}", { workflowParams: { region: "us" } })).toBe("us us");
    expect(text("${region:-eu} ${workflow.triggerMessage.missing:-none} ${empty:-}")).toBe("eu none ");
  });

  it("keeps an empty value rather than falling back to the default", () => {
    expect(text("[${workflow.triggerMessage.k:-d}]", { triggerMessage: { k: "" } })).toBe("[]");
  });

  it("resolves references inside a default", () => {
    expect(text("${day:-$[yyyymmdd-1]} ${a:-${workflow.b:-${bizdate}}}")).toBe("20260309 20260309");
  });

  it("names every unresolved reference and why", () => {
    const result = text("${workflow.triggerMessage.data.object.key} ${nope} ${nodes.x.outputs.k} ${workflow.w}", { triggerMessage: {} });
    expect(result).toEqual({
      ok: false,
      unresolved: ["${workflow.triggerMessage.data.object.key}", "${nope}", "${nodes.x.outputs.k}", "${workflow.w}"],
      message: expect.stringContaining("unresolved parameter reference ${workflow.triggerMessage.data.object.key} (the trigger message has no data)"),
    });
    const { message: m } = result as { message: string };
    expect(m).toContain("${nope} (no node or workflow parameter is named nope)");
    expect(m).toContain("${nodes.x.outputs.k} (node x has no outputs here");
    expect(m).toContain("${workflow.w} (the workflow has no parameter w)");
  });

  it("says which part of a path is missing", () => {
    expect(text("${workflow.triggerMessage.data.object.nope}", { triggerMessage: message })).toMatchObject({
      message: "unresolved parameter reference ${workflow.triggerMessage.data.object.nope} (the trigger message has no data.object.nope)",
    });
    expect(text("${nodes.x.outputs.k}", { nodeOutputs: { x: {} } })).toMatchObject({ message: expect.stringContaining("node x wrote no output named k") });
  });
});

describe("resolveText: parameters whose values hold references", () => {
  it("resolves date expressions and trigger paths inside parameter values", () => {
    const nodeParams = { day: "$[yyyymmdd-1]", file: "${workflow.triggerMessage.data.object.key}" };
    expect(text("${day} ${file}", { nodeParams, triggerMessage: message })).toBe("20260309 input/a.csv");
  });

  it("lets a node parameter build on the workflow parameter of the same name", () => {
    expect(text("${target}", { workflowParams: { target: "ods" }, nodeParams: { target: "${workflow.target}_v2" } })).toBe("ods_v2");
  });

  it("names the innermost unresolved reference and the parameter that holds it", () => {
    expect(text("${file}", { nodeParams: { file: "${workflow.triggerMessage.data.object.key}" }, triggerMessage: {} })).toEqual({
      ok: false,
      unresolved: ["${workflow.triggerMessage.data.object.key}"],
      message:
        "unresolved parameter reference ${workflow.triggerMessage.data.object.key} (the trigger message has no data) in the value of parameter file",
    });
  });

  it("lets a default stand in for a parameter whose value cannot resolve", () => {
    expect(text("${file:-none}", { nodeParams: { file: "${workflow.triggerMessage.k}" }, triggerMessage: {} })).toBe("none");
  });

  it("follows five levels of parameters and refuses a sixth", () => {
    const chain = { p1: "${p2}", p2: "${p3}", p3: "${p4}", p4: "${p5}", p5: "end" };
    expect(text("${p1}", { nodeParams: chain })).toBe("end");
    expect(text("${p1}", { nodeParams: { ...chain, p5: "${p6}", p6: "end" } })).toMatchObject({
      ok: false,
      message: "parameter values nest more than 5 levels deep: p1 → p2 → p3 → p4 → p5 → p6",
    });
  });

  it("reports a cycle by naming it, and a default does not hide it", () => {
    const workflowParams = { a: "x${workflow.b}", b: "${a}" };
    expect(text("${a}", { workflowParams })).toEqual({
      ok: false,
      unresolved: ["${a}"],
      message: "parameter reference cycle: workflow.a → workflow.b → workflow.a",
    });
    expect(text("${self:-d}", { nodeParams: { self: "${self}" } })).toMatchObject({ message: "parameter reference cycle: self → self" });
  });
});
