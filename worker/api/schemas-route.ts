// JSON Schemas of the definition files (DESIGN §8) for editors: `# yaml-language-server: $schema=<url>`.
// Served without a key: they describe the file format, not any workspace's data, and editors fetch them bare.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { triggerFileJsonSchema, workflowFileJsonSchema } from "../core/definition-files.ts";
import type { AppEnv } from "./context.ts";

export const SCHEMA_PATHS = ["/api/v1/schemas/workflow.json", "/api/v1/schemas/trigger.json"];

export const schemasRoute = new OpenAPIHono<AppEnv>();

const JsonSchemaDocument = z
  .looseObject({
    $schema: z.string().openapi({ example: "https://json-schema.org/draft/2020-12/schema" }),
    $id: z.string().openapi({ description: "This document's URL on the host that was called" }),
    title: z.string(),
  })
  .openapi("DefinitionFileJsonSchema", { description: "A JSON Schema (draft 2020-12) document" });

// Built once per isolate: the zod schemas do not change while it lives.
let cached: { workflow: object; trigger: object } | null = null;
const schemas = () => (cached ??= { workflow: workflowFileJsonSchema(), trigger: triggerFileJsonSchema() });

const DESCRIPTIONS = {
  workflow: "A `kind: Workflow` file as `sluice apply` reads it: the workflow definition with its trigger named in `policy.trigger`",
  trigger: "A `kind: Trigger` file as `sluice apply` reads it: the trigger's fields, one branch per type",
};

for (const kind of ["workflow", "trigger"] as const) {
  schemasRoute.openapi(
    createRoute({
      method: "get",
      path: `/api/v1/schemas/${kind}.json`,
      tags: ["definition files"],
      security: [],
      description: `${DESCRIPTIONS[kind]}. No key needed.`,
      responses: { 200: { content: { "application/json": { schema: JsonSchemaDocument } }, description: "The JSON Schema" } },
    }),
    (c) => {
      c.header("cache-control", "public, max-age=300");
      // $id on the host the client called, so it is right behind any proxy or custom domain.
      return c.json({ $id: new URL(c.req.url).origin + c.req.path, ...schemas()[kind] } as z.infer<typeof JsonSchemaDocument>, 200);
    },
  );
}
