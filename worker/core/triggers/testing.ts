// Test helpers: the shared fixtures (../shared/fixtures from the project root) as parsed JSON.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const fixture = (name: string): any => JSON.parse(readFileSync(join(import.meta.dirname, "../../../../shared/fixtures", name), "utf8"));
