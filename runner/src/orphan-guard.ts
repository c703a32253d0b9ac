// Node process groups die with the runner, however it dies: a lost attempt's retry never runs beside it (DESIGN §2.6).
import { type ChildProcess, spawn } from "node:child_process";

/**
 * A detached awk reads "+ pgid" / "- pgid" lines from this process; its stdin closes when this process
 * ends, even by SIGKILL or the OOM killer, and it then SIGKILLs every group still listed. A graceful stop
 * has already killed its attempts, so their groups were released and nothing is left to kill.
 */
const AWK = `$1 == "+" && $2 ~ /^[0-9]+$/ { g[$2] = 1 } $1 == "-" { delete g[$2] } END { for (p in g) system("kill -9 -" p " 2>/dev/null") }`;

let guard: ChildProcess | null | undefined;

function started(): ChildProcess | null {
  if (guard !== undefined) return guard;
  try {
    // Its own process group: whoever kills the runner's group must not take the guard with it.
    guard = spawn("awk", [AWK], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
  } catch {
    guard = null; // no awk: groups outlive a crashed runner, as they did before
    return guard;
  }
  const child = guard;
  child.on("error", () => {
    if (guard === child) guard = null;
  });
  child.stdin?.on("error", () => {});
  // The guard must never keep the runner (or a test process) alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

/** The group is killed should this process die before releasing it. */
export function guardGroup(pgid: number): void {
  started()?.stdin?.write(`+ ${pgid}\n`);
}

/** The group is gone: its number may be reused by someone else's, which must never be killed. */
export function releaseGroup(pgid: number): void {
  guard?.stdin?.write(`- ${pgid}\n`);
}
