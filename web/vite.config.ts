// The console build: a static SPA (adapter-static with an index.html fallback) written to web/build.
import { fileURLToPath } from "node:url";
import adapter from "@sveltejs/adapter-static";
import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";

// Absolute, so the build is the same whether it is started from the repo root (`vite build web`)
// or from web/: SvelteKit re-resolves this config in a child process that does not get the CLI's root.
const root = fileURLToPath(new URL(".", import.meta.url));
const build = fileURLToPath(new URL("./build", import.meta.url));

export default defineConfig({
  root,
  plugins: [
    sveltekit({
      adapter: adapter({ pages: build, assets: build, fallback: "index.html" }),
    }),
  ],
  // `vite dev web` talks to a local Worker (`npm start`, PORT 8787) for the API.
  server: { proxy: { "/api": "http://127.0.0.1:8787" } },
});
