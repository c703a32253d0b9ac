// npm start: builds the console, starts wrangler dev (local D1/R2/Queues/DOs) and a runner, prints URL and key.
import { spawnSync } from "node:child_process";
import { ROOT, startStack } from "./stack.ts";

const build = spawnSync("npm", ["run", "build:web"], { cwd: ROOT, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const stack = await startStack({
  port: Number(process.env.PORT ?? 8787),
  adminToken: process.env.SLUICE_ADMIN_TOKEN || undefined,
  runners: [{ name: "local-runner", slots: 4 }],
});

console.log(`
  Sluice is running.
    Console and API:  ${stack.url}
    API reference:    ${stack.url}/api/docs
    Admin API key:    ${stack.adminToken}
    Runner:           local-runner, 4 slots
  Ctrl-C stops everything.
`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
stack.worker.on("exit", (code) => {
  if (!stopping) {
    console.error(`wrangler dev exited (${code}); stopping`);
    void shutdown();
  }
});
