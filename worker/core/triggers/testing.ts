// Test helpers: the sample events in test/fixtures as parsed JSON.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const fixture = (name: string): any => JSON.parse(readFileSync(join(import.meta.dirname, "../../../test/fixtures", name), "utf8"));
