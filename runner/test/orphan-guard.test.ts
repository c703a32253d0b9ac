// A runner killed with SIGKILL takes its nodes' process groups with it; a group it released is left alone.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, test } from "vitest";
import { groupIsAlive, signalGroup } from "../src/process-group.ts";
import { waitFor } from "./fake-sluice.ts";

const started: number[] = [];

afterEach(() => {
  for (const pgid of started.splice(0)) signalGroup(pgid, "SIGKILL");
});

/** A stand-in runner process that starts one guarded group (a script and its background child), optionally releases it, and waits. */
async function runnerWithGroup(release: boolean) {
  const src = new URL("../src/", import.meta.url).href;
  const script = `
    import { startInGroup } from "${src}process-group.ts";
    import { releaseGroup } from "${src}orphan-guard.ts";
    const started = await startInGroup("sh", ["-c", "sleep 30 & sleep 30"], { cwd: "/", env: process.env });
    if ("error" in started) throw started.error;
    ${release ? "releaseGroup(started.child.pid);" : ""}
    console.log(started.child.pid);
    setInterval(() => {}, 1000);
  `;
  const runner = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = await createInterface({ input: runner.stdout! })[Symbol.asyncIterator]().next().then((r) => [r.value as string]);
  const pgid = Number(line);
  started.push(pgid);
  return { runner, pgid };
}

describe("orphan guard", { timeout: 20_000 }, () => {
  test("a node's whole process group dies with its runner when the runner is killed with SIGKILL", async () => {
    const { runner, pgid } = await runnerWithGroup(false);
    expect(groupIsAlive(pgid)).toBe(true);
    runner.kill("SIGKILL");
    await waitFor(() => !groupIsAlive(pgid), `process group ${pgid} to die with its runner`);
  });

  test("a released group (its number may belong to someone else's by now) outlives the runner", async () => {
    const { runner, pgid } = await runnerWithGroup(true);
    const exited = new Promise((resolve) => runner.once("exit", resolve));
    runner.kill("SIGKILL");
    await exited;
    await new Promise((r) => setTimeout(r, 300)); // the guard would have acted by now
    expect(groupIsAlive(pgid)).toBe(true);
  });
});
