import { describe, expect, it } from "vitest";
import { FileError, loadDefinitions, pathSegments, readDocuments } from "../files.ts";

const load = (files: Record<string, string>) => loadDefinitions(Object.keys(files), (f) => files[f]!);
const problems = (files: Record<string, string>): string[] => {
  try {
    load(files);
  } catch (err) {
    if (err instanceof FileError) return err.problems;
    throw err;
  }
  throw new Error("expected a FileError");
};

// expandPaths stats real files: tests name files that exist, and read their text from the map.
const HERE = import.meta.filename;

describe("definition files", () => {
  it("reads several YAML documents of both kinds, the trigger by name in policy.trigger", () => {
    const defs = load({
      [HERE]: "kind: Trigger\nname: t\ntype: queue\nconfig: {queue: user-behavior, key: k}\n---\nkind: Workflow\nname: w\npolicy: {trigger: t}\nnodes: [{name: a, type: shell, code: echo hi}]\n",
    });
    expect(defs.map((d) => [d.kind, d.name])).toEqual([["Trigger", "t"], ["Workflow", "w"]]);
    const wf = defs[1]!;
    expect(wf.kind === "Workflow" && wf.trigger).toBe("t");
    expect(wf.kind === "Workflow" && wf.definition.policy.triggerId).toBeNull();
    expect(wf.kind === "Workflow" && wf.definition.nodes[0]!.timeoutSeconds).toBe(3600); // defaults filled as the API fills them
  });

  it("reads JSON, and a top-level list as several documents", () => {
    const defs = load({ [HERE]: JSON.stringify([{ kind: "Workflow", name: "a", nodes: [{ name: "n", type: "noop" }] }, { kind: "Workflow", name: "b", nodes: [{ name: "n", type: "noop" }] }]) });
    expect(defs.map((d) => d.name)).toEqual(["a", "b"]);
  });

  it("names the file, document, line, path and problem of each mistake, all at once", () => {
    const found = problems({
      [HERE]: "kind: Workflow\nname: x\nnodes:\n  - name: a\n    type: shell\n    priority: 4\n---\nkind: Trigger\nname: t\ntype: r2\nconfig:\n  bucket: Uploads\n",
    });
    expect(found).toEqual([
      `${HERE} (document 1):6: nodes[0].priority (node 'a'): priority must be one of 1, 3, 5, 7, 8 (higher runs first)`,
      `${HERE} (document 2):12: config.bucket: bucket is an R2 bucket name: 3-63 lower-case letters, digits and -`,
    ]);
  });

  it("a missing field is reported at the line of its parent", () => {
    expect(problems({ [HERE]: "kind: Workflow\nname: x\nnodes:\n  - type: shell\n" })[0]).toMatch(new RegExp(`^${HERE}:4: nodes\\[0\\]\\.name`));
  });

  it("refuses an unknown kind, a triggerId and a syntax error with their lines", () => {
    expect(problems({ [HERE]: "kind: Workflw\nname: x\n" })).toEqual([`${HERE}:1: kind: must be Workflow or Trigger (got "Workflw")`]);
    expect(problems({ [HERE]: "kind: Workflow\nname: x\npolicy:\n  triggerId: trg_1\nnodes: [{name: a, type: noop}]\n" })).toEqual([
      `${HERE}:4: policy.triggerId: name the trigger instead: policy.trigger: <trigger name>`,
    ]);
    expect(problems({ [HERE]: "kind: Workflow\nnodes: [1\n" })[0]).toMatch(new RegExp(`^${HERE}:\\d+: `));
  });

  it("a trigger's filter is compiled locally", () => {
    expect(problems({ [HERE]: "kind: Trigger\nname: t\ntype: webhook\nfilter: 'data.x >'\n" })[0]).toMatch(new RegExp(`^${HERE}:4: filter: not a valid CEL condition`));
  });

  it("a name defined twice is an error naming both places", () => {
    const doc = "kind: Workflow\nname: same\nnodes: [{name: a, type: noop}]\n";
    expect(problems({ [HERE]: `${doc}---\n${doc}` })).toEqual([`${HERE} (document 2):6: name: workflow 'same' is also defined in ${HERE} (document 1)`]);
  });

  it("a path that does not exist is named", () => {
    expect(() => loadDefinitions(["/no/such/dir"])).toThrow("/no/such/dir: no such file or directory");
  });

  it("empty documents (a trailing ---) are skipped", () => {
    expect(readDocuments("f.yaml", "kind: Workflow\n---\n").length).toBe(1);
  });

  it("parses API detail paths into segments", () => {
    expect(pathSegments("nodes[12].http.headers")).toEqual(["nodes", 12, "http", "headers"]);
    expect(pathSegments(undefined)).toEqual([]);
  });
});

describe("examples/", () => {
  it("holds the three reference scenarios as valid files, each with its schema comment", async () => {
    const { readFileSync } = await import("node:fs");
    const dir = new URL("../../examples", import.meta.url).pathname;
    const defs = loadDefinitions([dir]);
    expect(defs.map((d) => `${d.kind}:${d.name}`).sort()).toEqual([
      "Trigger:r2_new_file_trigger",
      "Trigger:user_action_trigger",
      "Workflow:handle_user_action_workflow",
      "Workflow:hello_trigger_workflow",
      "Workflow:process_r2_file_workflow",
    ]);
    for (const def of defs) {
      expect(readFileSync(def.source.file, "utf8").split("\n")[0]).toBe(`# yaml-language-server: $schema=http://127.0.0.1:8787/api/v1/schemas/${def.kind.toLowerCase()}.json`);
    }
  });
});
