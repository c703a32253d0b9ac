// Starts the local stack (wrangler dev with local D1/R2/Queues/DOs, plus runners); used by npm start and e2e tests.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { guardGroup, releaseGroup } from "../runner/src/orphan-guard.ts";
import { groupGone, groupIsAlive } from "../runner/src/process-group.ts";

export const ROOT = `${join(import.meta.dirname, "..")}/`;
const BIN = `${ROOT}node_modules/.bin`;

export interface StackOptions {
  port?: number;
  adminToken?: string;
  /** Where wrangler keeps local D1/R2/DO/queue state (default .wrangler/state). */
  persistTo?: string;
  runners?: { slots: number; name: string }[];
  /** Extra `--var NAME:VALUE` for the Worker (e.g. a short LEASE_SECONDS in tests). */
  vars?: Record<string, string>;
  /** Where child output goes: inherited (npm start) or collected (tests). */
  quiet?: boolean;
  /**
   * How often the stack fires the Worker's cron (retention, log archiving), as Cloudflare does every minute in
   * production: wrangler dev never fires crons by itself. Default 60 000 ms; 0 turns it off.
   */
  cronEveryMs?: number;
}

export interface Stack {
  url: string;
  /** Wrangler's devtools port for the Worker's isolate (heap usage, profiles). */
  inspectorPort: number;
  adminToken: string;
  runnerToken: string;
  worker: ChildProcess;
  runners: ChildProcess[];
  output: string[];
  startRunner(name: string, slots: number): ChildProcess;
  stop(): Promise<void>;
  /**
   * SIGKILL, at once, every process group this stack started (wrangler with its workerd, each runner), as a crash
   * would; resolves when they are gone. Node processes lead groups of their own: each runner's orphan guard
   * (runner/src/orphan-guard.ts) kills them when it sees its runner die.
   */
  kill(): Promise<void>;
  /** A new stack on the same port, admin token, state directory and runners; call it after kill() or stop(). */
  restart(): Promise<Stack>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The children's environment. Wrangler's local trace collector (X_LOCAL_OBSERVABILITY) keeps every request's spans
 * in a SQLite file that only grows (355 MiB in 3 minutes of the soak) and costs the stack memory: off unless asked for.
 */
function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${BIN}:${process.env.PATH}`, X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false" };
}

/** Fires the Worker's scheduled handler through wrangler dev's trigger route until stopped. */
function cronTicker(url: string, everyMs: number): () => void {
  if (everyMs <= 0) return () => {};
  const tick = () => void fetch(`${url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("* * * * *")}`).then((r) => r.body?.cancel(), () => {});
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Each child leads its own process group so stop() can end it with everything it spawned. Being in another group,
 * it would outlive this process (npm start SIGKILLed, a test runner that crashes) and keep the port: the runner's
 * orphan guard (a detached awk reading a pipe from this process) kills the group when that pipe closes, which
 * happens however this process ends. The group is released once it is gone, so a reused pgid is never killed.
 */
function run(cmd: string, args: string[], opts: { quiet?: boolean; output?: string[]; cwd?: string }): ChildProcess {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, detached: true, stdio: opts.quiet ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"], env: childEnv() });
  const pgid = child.pid;
  if (pgid !== undefined) {
    guardGroup(pgid);
    child.once("exit", () => void groupGone(pgid, 30_000).then(() => groupIsAlive(pgid) || releaseGroup(pgid)));
  }
  if (opts.quiet && opts.output) {
    child.stdout?.on("data", (d: Buffer) => opts.output!.push(d.toString()));
    child.stderr?.on("data", (d: Buffer) => opts.output!.push(d.toString()));
  }
  return child;
}

/** A quiet child in its own process group, with the stack's environment (the soak's baseline Worker). */
export function startProcess(cmd: string, args: string[], cwd: string): ChildProcess {
  return run(cmd, args, { quiet: true, output: [], cwd });
}

async function exec(cmd: string, args: string[], quiet: boolean): Promise<void> {
  const output: string[] = [];
  const child = run(cmd, args, { quiet: true, output });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${code}):\n${output.join("")}`);
  if (!quiet) process.stdout.write(output.join(""));
}

/** SIGKILL the child's whole process group; resolves when the child has exited and no member of its group lives. */
export async function killGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {} // ESRCH: the group is already gone
  await exited;
  // The leader's exit comes first; the others (workerd under wrangler) die a moment later.
  await groupGone(child.pid, 5_000);
}

export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      process.kill(-child.pid!, signal);
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

async function waitForHealth(url: string, worker: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (worker.exitCode !== null) throw new Error(`wrangler dev exited (${worker.exitCode}):\n${output.join("")}`);
    try {
      const res = await fetch(`${url}/api/v1/health`);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not become healthy at ${url}:\n${output.join("")}`);
}

/**
 * The key that seals webhook secrets (SLUICE_SECRET_KEY): the environment's, or one generated once and kept beside
 * the local state, so secrets stored by an earlier `npm start` still open after a restart.
 */
function localSecretKey(persistTo: string | undefined): string {
  if (process.env.SLUICE_SECRET_KEY) return process.env.SLUICE_SECRET_KEY;
  const dir = persistTo ?? join(ROOT, ".wrangler/state");
  const file = join(dir, "sluice-secret-key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dir, { recursive: true });
  const key = randomBytes(32).toString("base64");
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** Resolves if nothing listens on 127.0.0.1:port; otherwise throws an error naming the port. */
export async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === "EADDRINUSE" ? `port ${port} is already in use (another npm start?): stop it or set PORT to a free port` : `cannot listen on port ${port}: ${err.message}`)),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return assertPortFree(port).then(
    () => true,
    () => false,
  );
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  // A busy port would otherwise make wrangler fail or, worse, the health check answer from whatever holds it.
  if (options.port !== undefined) await assertPortFree(options.port);
  const port = options.port ?? (await freePort());
  const adminToken = options.adminToken ?? `sk_local_${randomBytes(24).toString("hex")}`;
  const persist = options.persistTo ? ["--persist-to", options.persistTo] : [];
  const output: string[] = [];
  const quiet = options.quiet ?? false;

  await exec("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...persist], quiet);

  const inspectorPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const vars = Object.entries({ SLUICE_ADMIN_TOKEN: adminToken, SLUICE_SECRET_KEY: localSecretKey(options.persistTo), PUBLIC_URL: url, ...options.vars }).flatMap(([k, v]) => [
    "--var",
    `${k}:${v}`,
  ]);
  const worker = run(
    "wrangler",
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--show-interactive-dev-session=false", ...persist, ...vars],
    { quiet, output },
  );
  const runners: ChildProcess[] = [];
  let stopCron = () => {};
  const stop = async () => {
    stopCron();
    await Promise.all(runners.map((r) => stopProcess(r)));
    await stopProcess(worker);
  };
  try {
    await waitForHealth(url, worker, output);
    const res = await fetch(`${url}/api/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "local runner", role: "runner", resourceGroup: "default" }),
    });
    if (res.status !== 201) throw new Error(`could not create a runner token: ${res.status} ${await res.text()}`);
    const runnerToken = ((await res.json()) as { key: string }).key;
    const startRunner = (name: string, slots: number) => {
      const child = run("node", ["runner/src/cli.ts", "--url", url, "--token", runnerToken, "--slots", String(slots), "--name", name], { quiet, output });
      runners.push(child);
      return child;
    };
    for (const r of options.runners ?? [{ name: "local-runner", slots: 4 }]) startRunner(r.name, r.slots);
    stopCron = cronTicker(url, options.cronEveryMs ?? 60_000);
    const kill = async () => {
      stopCron();
      await Promise.all([worker, ...runners].map(killGroup));
    };
    // After stop() the leaders are gone but workerd may hold the port a moment longer.
    const restart = async () => {
      for (const deadline = Date.now() + 10_000; Date.now() < deadline && !(await portIsFree(port)); ) await new Promise((r) => setTimeout(r, 100));
      return startStack({ ...options, port, adminToken });
    };
    return { url, inspectorPort, adminToken, runnerToken, worker, runners, output, startRunner, stop, kill, restart };
  } catch (err) {
    await stop();
    throw err;
  }
}
