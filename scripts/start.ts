// npm start: builds the console, starts wrangler dev (local D1/R2/Queues/DOs) and a runner, prints URL and key.
// PORT (default 8787), SLUICE_ADMIN_TOKEN, SLUICE_STATE_DIR (default .wrangler/state) and SLUICE_SKIP_BUILD=1 (the
// console in web/build is used as it is) change how.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { assertPortFree, ROOT, startStack } from "./stack.ts";

const port = Number(process.env.PORT ?? 8787);

/** Prints why the stack cannot start and exits non-zero. */
function fail(err: unknown): never {
  console.error(`sluice: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

// Before the build: a second npm start on the same port says so at once rather than attaching to the first.
await assertPortFree(port).catch(fail);

if (process.env.SLUICE_SKIP_BUILD !== "1") {
  const build = spawnSync("npm", ["run", "build:web"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const stack = await startStack({
  port,
  adminToken: process.env.SLUICE_ADMIN_TOKEN || undefined,
  persistTo: process.env.SLUICE_STATE_DIR || undefined,
  runners: [{ name: "local-runner", slots: 4 }],
}).catch(fail);

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
process.on("SIGHUP", shutdown);
stack.worker.on("exit", (code) => {
  if (!stopping) {
    console.error(`wrangler dev exited (${code}); stopping`);
    void shutdown();
  }
});

// Run by npm (npm start), this process is npm's grandchild (npm → sh → node): npm SIGKILLed leaves the shell and this
// process running, holding the port. So it stops when npm is gone. (This process SIGKILLed is stack.ts's orphan
// guard's case: it kills wrangler and the runner.) Run directly (node scripts/start.ts, nohup…), nothing is watched.
const npm = npmAncestor();
if (npm !== undefined) {
  setInterval(() => {
    if (!isAlive(npm)) void shutdown();
  }, 1_000).unref();
}

/** The pid of the npm process that runs this script, if npm runs it (Linux: the nearest ancestor whose command names npm). */
function npmAncestor(): number | undefined {
  if (!process.env.npm_lifecycle_event) return undefined;
  let pid = process.ppid;
  for (let depth = 0; depth < 4 && pid > 1; depth++) {
    try {
      if (/\bnpm\b|npm-cli/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"))) return pid;
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      return process.ppid; // no /proc: the parent is the best guess
    }
  }
  return process.ppid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
