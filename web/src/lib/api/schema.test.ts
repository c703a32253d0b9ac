// The checked-in types must be what the routers' OpenAPI document generates today (npm run api:generate).
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { generatedSchema, SCHEMA_FILE } from "../../../../scripts/api-schema.ts";

describe("web/src/lib/api/schema.d.ts", () => {
  it("is up to date with the API's OpenAPI document (run `npm run api:generate` when this fails)", async () => {
    const checkedIn = await readFile(SCHEMA_FILE, "utf8");
    const fresh = await generatedSchema();
    expect(fresh).toContain('"/api/v1/instances/{id}"');
    expect(checkedIn === fresh, `${SCHEMA_FILE} is stale: run npm run api:generate`).toBe(true);
  });
});
