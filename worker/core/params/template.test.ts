import { describe, expect, it } from "vitest";
import { isCodeReference, referencesIn, scanReferences, type Target } from "./template.ts";

const targets = (text: string): Target[] => scanReferences(text).map((r) => r.target);

describe("referencesIn", () => {
  it("reports each reference with its raw text and position", () => {
    const text = 'echo "${bizdate}" ${workflow.target:-ods} $[yyyymmdd-1]';
    expect(referencesIn(text)).toEqual([
      { raw: "${bizdate}", start: 6, end: 16, kind: "param", name: "bizdate" },
      { raw: "${workflow.target:-ods}", start: 18, end: 41, kind: "param", name: "workflow.target", default: "ods" },
      { raw: "$[yyyymmdd-1]", start: 42, end: 55, kind: "date", name: "yyyymmdd-1" },
    ]);
    for (const ref of referencesIn(text)) expect(text.slice(ref.start, ref.end)).toBe(ref.raw);
  });

  it("parses the four kinds of name", () => {
    expect(targets("${workflow.triggerMessage} ${workflow.p} ${nodes.load-1.outputs.row_count} ${p}")).toEqual([
      { type: "trigger", path: [] },
      { type: "workflow", param: "p" },
      { type: "output", node: "load-1", key: "row_count" },
      { type: "plain", param: "p" },
    ]);
  });

  it("parses trigger-message paths with indexes and quoted bracket keys", () => {
    expect(targets(`\${workflow.triggerMessage.a.b[0].c} \${workflow.triggerMessage.h["x.y"]['q}"']} \${workflow.triggerMessage.data.content-type}`)).toEqual([
      { type: "trigger", path: [{ key: "a" }, { key: "b" }, { index: 0 }, { key: "c" }] },
      { type: "trigger", path: [{ key: "h" }, { key: "x.y" }, { key: 'q}"' }] },
      { type: "trigger", path: [{ key: "data" }, { key: "content-type" }] },
    ]);
  });

  it("reads a default up to its balanced closing brace, nested references included", () => {
    const [ref] = referencesIn("${day:-${workflow.day:-$[yyyymmdd]}} tail");
    expect(ref).toMatchObject({ name: "day", default: "${workflow.day:-$[yyyymmdd]}", raw: "${day:-${workflow.day:-$[yyyymmdd]}}" });
    expect(referencesIn("${x:-}")[0]).toMatchObject({ name: "x", default: "" });
  });

  it.each(["${#arr[@]}", "${1}", "${x/a/b}", "${x:=d}", "${x-d}", "$HOME", "$[1+2]", "$[i-1]", "${nodes.a.output.k}", "${workflow.}", "${ spaced }", "${x:-unclosed"])(
    "does not take %s for a reference",
    (text) => {
      expect(referencesIn(text)).toEqual([]);
    },
  );
});

describe("scanReferences", () => {
  it("looks inside a refused candidate for references nested in it", () => {
    const text = "${FILE_PATH:-${workflow.fallback}}";
    const refs = scanReferences(text, (ref) => ref.name !== "FILE_PATH");
    expect(refs.map((r) => r.raw)).toEqual(["${workflow.fallback}"]);
    expect(refs[0]!.start).toBe(13);
  });
});

describe("isCodeReference", () => {
  const declared = new Set(["target"]);
  const ref = (text: string) => scanReferences(text)[0]!;

  it("takes workflow, nodes, builtin, date and declared names in both languages", () => {
    for (const language of ["shell", "python"] as const) {
      for (const text of ["${workflow.nope}", "${workflow.triggerMessage.x}", "${nodes.a.outputs.k}", "${bizdate}", "${cyctime}", "${target}", "$[yyyymmdd]"]) {
        expect(isCodeReference(ref(text), declared, language)).toBe(true);
      }
    }
  });

  it("leaves undeclared plain names to the language", () => {
    for (const text of ["${message}", "${FILE_PATH}", "${HOME}"]) {
      expect(isCodeReference(ref(text), declared, "shell")).toBe(false);
      expect(isCodeReference(ref(text), declared, "python")).toBe(false);
    }
  });

  it("takes an undeclared name with a default in python only, where bash would own it", () => {
    expect(isCodeReference(ref("${region:-eu}"), declared, "python")).toBe(true);
    expect(isCodeReference(ref("${region:-eu}"), declared, "shell")).toBe(false);
  });
});
