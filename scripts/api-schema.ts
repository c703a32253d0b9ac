// The typed client's types, generated from the OpenAPI document the Worker serves (worker/api/app.ts): the
// document is built in process from the Hono app (no Worker, no network), then openapi-typescript writes its types.
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from "openapi-typescript";
import { createApp } from "../worker/api/app.ts";

/** Where the generated types are checked in: the console and the CLI import them from there. */
export const SCHEMA_FILE = "web/src/lib/api/schema.d.ts";

/** The document exactly as GET /api/v1/openapi.json serves it. */
export async function openApiDocument(): Promise<OpenAPI3> {
  const res = await createApp().request("/api/v1/openapi.json");
  if (!res.ok) throw new Error(`the OpenAPI document did not build: ${res.status} ${await res.text()}`);
  return (await res.json()) as OpenAPI3;
}

/** The text of schema.d.ts for the current routers. */
export async function generatedSchema(): Promise<string> {
  // A field with a default is optional, as the document says: requests may leave it out (answers carry it).
  const ast = await openapiTS(await openApiDocument(), { alphabetize: false, defaultNonNullable: false });
  return `${COMMENT_HEADER}// Regenerate with \`npm run api:generate\` (scripts/api-generate.mjs); a test fails while it is stale.\n\n${astToString(ast)}`;
}
