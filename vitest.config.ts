// Four suites: pure logic in Node, the Worker in the Workers runtime, fault injection there, and the real stack end to end.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations(new URL("./migrations", import.meta.url).pathname);
/** Seals webhook secrets in the Workers tests (32 bytes, base64; production sets its own with `wrangler secret put`). */
const TEST_SECRET_KEY = btoa("sluice-tests-only-not-a-real-key");

export default defineConfig({
  test: {
    // The Worker logs every failure it recovers from; in the fault suite the injected ones would bury the report.
    onConsoleLog: (log, _type, entity) => !(entity?.project.name === "faults" && /injected fault|abortAllDurableObjects/.test(log)),
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["worker/core/**/*.test.ts", "runner/test/**/*.test.ts", "cli/test/**/*.test.ts", "web/src/**/*.test.ts"],
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { SLUICE_ADMIN_TOKEN: "test-admin-key", SLUICE_SECRET_KEY: TEST_SECRET_KEY, LEASE_SECONDS: "2", TEST_MIGRATIONS: migrations },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          setupFiles: ["test/workers/setup.ts"],
        },
      },
      {
        // The fault-injection suite (npm run test:faults): the Workers runtime with the worker/faults.ts hooks armed.
        // SLUICE_FAULT_RUNS sets its size (default: a CI-sized run), SLUICE_FAULT_SEED replays a printed seed.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                SLUICE_ADMIN_TOKEN: "test-admin-key",
                SLUICE_SECRET_KEY: TEST_SECRET_KEY,
                LEASE_SECONDS: "2",
                TEST_MIGRATIONS: migrations,
                SLUICE_FAULTS: "on",
                SLUICE_FAULT_RUNS: process.env.SLUICE_FAULT_RUNS ?? "",
                SLUICE_FAULT_SEED: process.env.SLUICE_FAULT_SEED ?? "",
              },
            },
          }),
        ],
        test: {
          name: "faults",
          include: ["test/faults/**/*.test.ts"],
          setupFiles: ["test/workers/setup.ts"],
          testTimeout: 3_600_000,
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
