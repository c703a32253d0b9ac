// JSON Schemas of the definition files (DESIGN §8) for editors: `# yaml-language-server: $schema=<url>`.
// Served without a key: they describe the file format, not any workspace's data, and editors fetch them bare.
import { Hono } from "hono";
import { triggerFileJsonSchema, workflowFileJsonSchema } from "../core/definition-files.ts";
import type { AppEnv } from "./context.ts";

export const SCHEMA_PATHS = ["/api/v1/schemas/workflow.json", "/api/v1/schemas/trigger.json"];

export const schemasRoute = new Hono<AppEnv>();

// Built once per isolate: the zod schemas do not change while it lives.
let cached: { workflow: object; trigger: object } | null = null;
const schemas = () => (cached ??= { workflow: workflowFileJsonSchema(), trigger: triggerFileJsonSchema() });

for (const kind of ["workflow", "trigger"] as const) {
  schemasRoute.get(`/api/v1/schemas/${kind}.json`, (c) => {
    c.header("cache-control", "public, max-age=300");
    // $id on the host the client called, so it is right behind any proxy or custom domain.
    return c.json({ $id: new URL(c.req.url).origin + c.req.path, ...schemas()[kind] });
  });
}
