import { describe, expect, it } from "vitest";
import { DefinitionSchema, type WorkflowDefinitionInput } from "../definition.ts";
import { checkReferences } from "./check.ts";

// extract → transform → load; `report` stands apart.
const UPSTREAM: Record<string, string[]> = { extract: [], transform: ["extract"], load: ["extract", "transform"], report: [] };
const ancestorsOf = (node: string) => new Set(UPSTREAM[node] ?? []);

const check = (overrides: Partial<WorkflowDefinitionInput> & { code?: Record<string, string>; nodeParams?: Record<string, Record<string, string>> }) => {
  const { code = {}, nodeParams = {}, ...rest } = overrides;
  const def = DefinitionSchema.parse({
    name: "wf",
    params: { target: "ods" },
    nodes: Object.keys(UPSTREAM).map((name) => ({
      name,
      type: name === "transform" ? "python" : "shell",
      code: code[name] ?? "",
      params: nodeParams[name] ?? {},
    })),
    ...rest,
  });
  return checkReferences(def, ancestorsOf);
};

describe("checkReferences accepts", () => {
  it("references that resolve in every run", () => {
    expect(
      check({
        code: {
          extract: 'echo "${workflow.target} ${target} ${bizdate} ${cyctime} $[yyyymmdd-1] ${workflow.triggerMessage.data.object.key}"',
          transform: "print('${nodes.extract.outputs.rows}', '${day}')",
          load: "echo ${nodes.extract.outputs.rows} ${nodes.transform.outputs.ok}",
        },
        nodeParams: { transform: { day: "$[yyyymmdd-1]", file: "${workflow.triggerMessage.data.object.key}" } },
      }),
    ).toEqual([]);
  });

  it("bash's own variables in shell code and the language's own names in python", () => {
    expect(
      check({
        code: {
          extract: 'FILE_PATH="${workflow.triggerMessage.k}"\necho "${FILE_PATH} ${HOME} ${1} ${#arr[@]} ${x:-d}"',
          transform: 'print(f"${price}")',
        },
      }),
    ).toEqual([]);
  });

  it("unknown names that carry a default", () => {
    expect(check({ code: { extract: "echo ${workflow.nope:-x}" }, nodeParams: { load: { p: "${nope:-$[yyyymmdd]}" } } })).toEqual([]);
  });

  it("a backslash-escaped reference in shell code", () => {
    expect(check({ code: { extract: 'echo "\\${workflow.nope}"' } })).toEqual([]);
  });
});

describe("checkReferences rejects", () => {
  it("an undeclared workflow parameter", () => {
    expect(check({ code: { extract: 'echo "${workflow.nope}"' } })).toEqual([
      { path: "nodes[0].code", message: "unresolved parameter reference ${workflow.nope} (the workflow has no parameter nope)" },
    ]);
  });

  it("an output of a node that is not upstream, naming both nodes", () => {
    expect(check({ code: { report: "echo ${nodes.extract.outputs.rows}" } })).toEqual([
      {
        path: "nodes[3].code",
        message: "unresolved parameter reference ${nodes.extract.outputs.rows} (node extract is not upstream of report, so its outputs are never available to it)",
      },
    ]);
  });

  it("an output of a node that does not exist, or of the node itself", () => {
    expect(check({ code: { load: "echo ${nodes.ghost.outputs.x} ${nodes.load.outputs.x}" } }).map((d) => d.message)).toEqual([
      "unresolved parameter reference ${nodes.ghost.outputs.x} (there is no node ghost)",
      "unresolved parameter reference ${nodes.load.outputs.x} (a node cannot read its own outputs)",
    ]);
  });

  it("an unknown plain name without a default in a parameter value", () => {
    expect(check({ nodeParams: { load: { file: "${FILE_PATH}" } } })).toEqual([
      { path: "nodes[2].params.file", message: "unresolved parameter reference ${FILE_PATH} (no node or workflow parameter is named FILE_PATH) in the value of parameter file" },
    ]);
    expect(check({ params: { a: "${nope}" } })).toEqual([
      { path: "params.a", message: "unresolved parameter reference ${nope} (no node or workflow parameter is named nope) in the value of parameter workflow.a" },
    ]);
  });

  it("a problem in a parameter value once, at the parameter, not again where the parameter is used", () => {
    const details = check({ nodeParams: { load: { file: "${workflow.nope}" } }, code: { load: "echo ${file}" } });
    expect(details.map((d) => d.path)).toEqual(["nodes[2].params.file"]);
  });

  it("a workflow parameter that reads an output the using node cannot see", () => {
    expect(check({ params: { rows: "${nodes.load.outputs.rows}" }, code: { report: "echo ${workflow.rows}" } })).toEqual([
      {
        path: "nodes[3].code",
        message:
          "unresolved parameter reference ${nodes.load.outputs.rows} (node load is not upstream of report, so its outputs are never available to it) in the value of parameter workflow.rows",
      },
    ]);
  });

  it("a cycle between parameters", () => {
    expect(check({ nodeParams: { extract: { a: "${b}", b: "x${a}" } } })).toEqual([
      { path: "nodes[0].params.a", message: "parameter reference cycle: a → b → a" },
      { path: "nodes[0].params.b", message: "parameter reference cycle: b → a → b" },
    ]);
  });

  it("a malformed ${workflow.…} or ${nodes.…} that bash would fail on", () => {
    expect(check({ code: { extract: "echo ${nodes.transform.output.rows}" }, nodeParams: { load: { p: "${workflow.}" } } })).toEqual([
      { path: "nodes[0].code", message: "${nodes.transform.output.rows… is not a valid reference; write ${nodes.<node>.outputs.<key>}" },
      { path: "nodes[2].params.p", message: "${workflow.… is not a valid reference; write ${workflow.<param>} or ${workflow.triggerMessage.<path>}" },
    ]);
  });
});
