import { describe, expect, it } from "vitest";
import { DefinitionSchema } from "../definition.ts";
import { explainReferences } from "./bench.ts";

const at = Date.UTC(2026, 2, 11, 5, 40, 45);

describe("trigger test bench", () => {
  it("shows how each Sluice reference of each node resolves, leaving language variables alone", () => {
    const def = DefinitionSchema.parse({
      name: "w",
      params: { target: "ods" },
      nodes: [
        { name: "print_key", type: "shell", code: 'FILE_PATH="${workflow.triggerMessage.data.object.key}"\necho "${FILE_PATH} ${workflow.target} ${bizdate}"' },
        { name: "after", type: "python", code: "x = '${nodes.print_key.outputs.rows}'\ny = '${workflow.triggerMessage.data.nope}'" },
      ],
    });
    const refs = explainReferences(def, { data: { object: { key: "input/a.csv" } } }, at);
    expect(refs).toEqual([
      { node: "print_key", ref: "${workflow.triggerMessage.data.object.key}", value: "input/a.csv" },
      { node: "print_key", ref: "${workflow.target}", value: "ods" },
      { node: "print_key", ref: "${bizdate}", value: "20260310" },
      { node: "after", ref: "${nodes.print_key.outputs.rows}", note: expect.stringMatching(/upstream/) },
      { node: "after", ref: "${workflow.triggerMessage.data.nope}", error: expect.stringMatching(/has no data\.nope/) },
    ]);
  });
});
