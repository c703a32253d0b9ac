// JSON Schemas of the definition files `sluice apply` reads (DESIGN §8), derived from the zod schemas the API
// validates with: a workflow file is the definition with `kind: Workflow` and its trigger named in
// `policy.trigger` (not `policy.triggerId`); a trigger file is the trigger input with `kind: Trigger`.
import { z } from "zod";
import { DefinitionSchema } from "./definition.ts";
import { TriggerInputSchema } from "./triggers/config.ts";

type JsonSchema = Record<string, any>;

const kindProperty = (kind: string) => ({ const: kind, description: `This file defines a ${kind.toLowerCase()}` });

/** The schema of a `kind: Workflow` file. */
export function workflowFileJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(DefinitionSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const policy = schema.properties.policy as JsonSchema;
  const { triggerId: _id, ...policyProperties } = policy.properties as JsonSchema;
  return {
    ...schema,
    title: "Sluice workflow file",
    properties: {
      kind: kindProperty("Workflow"),
      ...schema.properties,
      policy: {
        ...policy,
        properties: {
          ...policyProperties,
          trigger: { anyOf: [{ type: "string", minLength: 1 }, { type: "null" }], default: null, description: "The name of the trigger (kind: Trigger) that starts the published version; null: manual and API runs only" },
        },
      },
    },
    required: ["kind", ...(schema.required ?? [])],
  };
}

/** The schema of a `kind: Trigger` file: one branch per trigger type, each with `kind`. */
export function triggerFileJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(TriggerInputSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const branches = (schema.oneOf ?? schema.anyOf) as JsonSchema[];
  const withKind = branches.map((b) => ({ ...b, properties: { kind: kindProperty("Trigger"), ...b.properties }, required: ["kind", ...(b.required ?? [])] }));
  const { oneOf: _o, anyOf: _a, ...rest } = schema;
  return { ...rest, title: "Sluice trigger file", oneOf: withKind };
}
