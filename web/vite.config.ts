// The console build: a static SPA (adapter-static with an index.html fallback) written to web/build, with its security headers.
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import staticAdapter from "@sveltejs/adapter-static";
import type { Adapter } from "@sveltejs/kit";
import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";
import { consoleHeadersFile, inlineScriptHashes } from "../worker/core/security-headers.ts";

// Absolute, so the build is the same whether it is started from the repo root (`vite build web`)
// or from web/: SvelteKit re-resolves this config in a child process that does not get the CLI's root.
const root = fileURLToPath(new URL(".", import.meta.url));
const build = fileURLToPath(new URL("./build", import.meta.url));

/**
 * The API reference page (/api/docs redirects to /api-docs/): web/api-docs/ (the page, its initializer and style)
 * and the two files of swagger-ui-dist it loads, so it works offline and asks nothing of a CDN.
 */
async function writeApiDocs(): Promise<void> {
  const out = join(build, "api-docs");
  const swaggerUi = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  await mkdir(out, { recursive: true });
  for (const file of ["index.html", "api-docs.js", "api-docs.css"]) await copyFile(join(root, "api-docs", file), join(out, file));
  for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"]) await copyFile(join(swaggerUi, file), join(out, file));
}

/**
 * adapter-static and the API reference page, then `_headers` for Workers static assets: the Content-Security-Policy (with the hash of every
 * inline script the pages ended up with) and the other security headers, on every path including deep links.
 * A real header rather than kit.csp: SvelteKit can only put a prerendered/fallback page's policy in a <meta>
 * tag, which cannot carry frame-ancestors and does not cover app.html's own inline script.
 */
function withSecurityHeaders(adapter: Adapter): Adapter {
  return {
    ...adapter,
    name: `${adapter.name}+security-headers`,
    async adapt(builder) {
      await adapter.adapt(builder);
      await writeApiDocs();
      const pages = (await readdir(build, { recursive: true })).filter((f) => f.endsWith(".html"));
      if (pages.length === 0) throw new Error(`no HTML page in ${build}: cannot compute the console's script hashes`);
      const hashes = (await Promise.all(pages.map(async (f) => inlineScriptHashes(await readFile(join(build, f), "utf8"))))).flat();
      await writeFile(join(build, "_headers"), consoleHeadersFile(hashes));
      builder.log.minor(`Wrote ${join(build, "_headers")} (${new Set(hashes).size} inline script hashes)`);
    },
  };
}

export default defineConfig({
  root,
  plugins: [
    sveltekit({
      adapter: withSecurityHeaders(staticAdapter({ pages: build, assets: build, fallback: "index.html" })),
    }),
  ],
  // `vite dev web` talks to a local Worker (`npm start`, PORT 8787) for the API.
  server: { proxy: { "/api": "http://127.0.0.1:8787" } },
});
