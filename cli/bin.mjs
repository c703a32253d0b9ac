#!/usr/bin/env node
// The `sluice` command. The CLI is TypeScript run by Node's type stripping (Node >= 22.18 / 23.6, on by
// default); an older node hands over to the repository's own Node 24 (the `node` devDependency).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = fileURLToPath(new URL("./main.ts", import.meta.url));
if (process.features.typescript) {
  const { main } = await import("./main.ts");
  process.exitCode = await main(process.argv.slice(2));
} else {
  const node = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));
  if (!existsSync(node)) {
    process.stderr.write(`sluice needs Node 22.18 or newer (this is ${process.version}); or run npm install in the repository for its Node 24\n`);
    process.exit(2);
  }
  const child = spawnSync(node, [entry, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}
