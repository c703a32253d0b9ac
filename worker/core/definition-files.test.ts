import { describe, expect, it } from "vitest";
import { triggerFileJsonSchema, workflowFileJsonSchema } from "./definition-files.ts";
import { PolicySchema } from "./definition.ts";

describe("JSON Schemas of definition files", () => {
  it("a workflow file: kind required, the trigger by name in policy, every other policy field kept", () => {
    const schema = workflowFileJsonSchema();
    expect(schema.required).toEqual(["kind", "name", "nodes"]);
    expect(schema.properties.kind.const).toBe("Workflow");
    const policy = schema.properties.policy.properties;
    expect(Object.keys(policy).sort()).toEqual([...Object.keys(PolicySchema.shape).filter((k) => k !== "triggerId"), "trigger"].sort());
    expect(schema.additionalProperties).toBe(false);
  });

  it("a trigger file: one branch per type, each with kind", () => {
    const schema = triggerFileJsonSchema();
    expect(schema.oneOf.map((b: any) => [b.properties.type.const, b.properties.kind.const, b.required[0]])).toEqual([
      ["r2", "Trigger", "kind"],
      ["queue", "Trigger", "kind"],
      ["webhook", "Trigger", "kind"],
    ]);
  });
});
