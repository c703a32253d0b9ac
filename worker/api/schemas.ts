// Response and parameter schemas of the public API, shared by the routers and the OpenAPI document.
import { z } from "@hono/zod-openapi";
import { DefinitionSchema } from "../core/definition.ts";

export const Definition = DefinitionSchema.openapi("WorkflowDefinition");

export const WorkflowSummary = z
  .object({
    id: z.string().openapi({ example: "wf_01jd3k2v9q7m4x8c2n6b5t1r0a" }),
    name: z.string(),
    description: z.string(),
    publishedVersion: z.number().int().nullable(),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("WorkflowSummary");

export const Workflow = WorkflowSummary.extend({
  draftRevision: z.number().int().openapi({ description: "Bumped by every save of the draft; publish freezes the revision it validated" }),
  definition: Definition,
}).openapi("Workflow");

export const IdParam = z.object({ id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }) });

export const Page = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ param: { name: "limit", in: "query" } }),
  cursor: z.string().optional().openapi({ param: { name: "cursor", in: "query" } }),
});

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({ path: z.string().optional(), message: z.string() })),
    }),
  })
  .openapi("Error");

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const errors = {
  400: json(ErrorBody, "The request is invalid; `details` names each problem"),
  401: json(ErrorBody, "Missing or invalid API key"),
  403: json(ErrorBody, "The key's role may not do this"),
  404: json(ErrorBody, "Not found in this workspace"),
  409: json(ErrorBody, "Conflicts with the current state"),
} as const;

export const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});
