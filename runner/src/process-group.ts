// Starts a node's interpreter as the leader of its own process group, and kills the whole group.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { sleep } from "./backoff.ts";
import { guardGroup } from "./orphan-guard.ts";

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
 * The group is guarded: it is killed if the runner dies first; release it once it is gone.
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
      guardGroup(child.pid!);
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

/**
 * Whether any process of the group is still alive. On Linux zombies do not count: where PID 1 does
 * not reap orphans (a container without an init), a dead grandchild would otherwise keep the group
 * "alive" and every kill would wait out its whole grace period.
 */
export function groupIsAlive(pgid: number): boolean {
  if (!signalReaches(pgid)) return false;
  if (process.platform !== "linux") return true;
  try {
    return liveMembersOnLinux(pgid) > 0;
  } catch {
    return true; // no readable /proc: trust the signal probe
  }
}

function signalReaches(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function liveMembersOnLinux(pgid: number): number {
  let live = 0;
  for (const entry of readdirSync("/proc")) {
    if (entry.charCodeAt(0) > 57) continue; // not a pid
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile, or not a process directory
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces, so parse after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3);
    if (Number(fields[2]) === pgid && fields[0] !== "Z") live++;
  }
  return live;
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
  if (!groupIsAlive(pgid)) return;
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(50, left));
    if (!groupIsAlive(pgid)) return;
  }
  signalGroup(pgid, "SIGKILL");
}

/** Resolves once no process of the group is alive, or after waitMs (one that left the group is not waited for). */
export async function groupGone(pgid: number, waitMs: number): Promise<void> {
  for (const deadline = Date.now() + waitMs; groupIsAlive(pgid) && Date.now() < deadline; ) await sleep(10);
}
