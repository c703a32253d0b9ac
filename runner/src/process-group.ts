// Starts a node's interpreter as the leader of its own process group, and kills the whole group.
import { type ChildProcess, spawn } from "node:child_process";
import { sleep } from "./backoff.ts";

export interface ProcessExit {
  exitCode: number | null;
  signal: string | null;
}

export interface StartOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export type StartResult = { child: ChildProcess & { pid: number } } | { error: Error };

/**
 * Spawns with `detached` so the child gets a fresh process group (pgid = its pid): one signal to
 * -pgid then reaches everything the script started, including `sleep &` and `bash -c` children.
 */
export function startInGroup(command: string, args: string[], options: StartOptions): Promise<StartResult> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (error) {
      resolve({ error: error instanceof Error ? error : new Error(String(error)) });
      return;
    }
    const onError = (error: Error): void => resolve({ error });
    child.once("error", onError);
    child.once("spawn", () => {
      child.off("error", onError);
      child.on("error", () => {}); // later errors (a failed signal) are handled through the group
      resolve({ child: child as ChildProcess & { pid: number } });
    });
  });
}

/** Resolves when the leader has exited (its output may still be draining from the pipes). */
export function processExited(child: ChildProcess): Promise<ProcessExit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ exitCode: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once("exit", (exitCode, signal) => resolve({ exitCode, signal }));
  });
}

/**
 * Resolves when stdout and stderr are closed, or after waitMs: a process that left the group
 * (setsid) may hold the pipes open forever, and the attempt must still finish.
 */
export function outputClosed(child: ChildProcess, waitMs: number): Promise<void> {
  const streams = [child.stdout, child.stderr].filter((stream) => stream !== null);
  const closed = Promise.all(
    streams.map((stream) =>
      stream.closed || stream.destroyed
        ? Promise.resolve()
        : new Promise<void>((resolve) => stream.once("close", () => resolve())),
    ),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      for (const stream of streams) stream.destroy();
      resolve();
    }, waitMs);
  });
  return Promise.race([closed.then(() => undefined), timedOut]).finally(() => clearTimeout(timer));
}

export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone, which is what we wanted.
  }
}

/** SIGTERM to the whole group, then SIGKILL to whatever is still there after graceMs. */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (!groupExists(pgid)) return;
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(50, left));
    if (!groupExists(pgid)) return;
  }
  signalGroup(pgid, "SIGKILL");
}
