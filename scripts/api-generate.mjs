// npm run api:generate: writes web/src/lib/api/schema.d.ts from the routers' OpenAPI document (scripts/api-schema.ts).
// The TypeScript modules are loaded through Vite's module runner, so this works on any Node the repo supports
// and starts nothing but an in-process transformer (no server socket, no Worker).
import { writeFile } from "node:fs/promises";
import { createServer } from "vite";

const vite = await createServer({
  configFile: false,
  appType: "custom",
  logLevel: "error",
  server: { middlewareMode: true, hmr: false, watch: null },
  optimizeDeps: { noDiscovery: true },
});
try {
  const { generatedSchema, SCHEMA_FILE } = await vite.ssrLoadModule("/scripts/api-schema.ts");
  await writeFile(SCHEMA_FILE, await generatedSchema());
  console.log(`wrote ${SCHEMA_FILE}`);
} finally {
  await vite.close();
}
