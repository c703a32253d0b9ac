// Outages and process lifecycle: the runner rides out a down server, and the CLI stops cleanly on SIGTERM.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { Runner } from "../src/runner.ts";
import { FakeSluice, processIsGone, runnerFor, waitFor } from "./fake-sluice.ts";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "../src/cli.ts");

let fake: FakeSluice;
let runner: Runner | undefined;
let cli: ChildProcess | undefined;
let scratch: string;

beforeEach(async () => {
  fake = await FakeSluice.start();
  scratch = await mkdtemp(join(tmpdir(), "sluice-runner-test-"));
});

afterEach(async () => {
  await runner?.stop();
  runner = undefined;
  if (cli && cli.exitCode === null && cli.signalCode === null) cli.kill("SIGKILL");
  cli = undefined;
  await fake.close();
  await rm(scratch, { recursive: true, force: true });
});

function readPid(pidFile: string): Promise<number> {
  return waitFor(() => {
    try {
      return Number(readFileSync(pidFile, "utf8").trim()) || null;
    } catch {
      return null;
    }
  }, "the script's pid file");
}

describe("runner resilience", { timeout: 30_000 }, () => {
  test("a server that is down for a while gets the whole log and the result once it is back", async () => {
    ({ runner } = runnerFor(fake));
    void runner.run();
    const task = fake.queue({ script: 'echo before\nsleep 1\necho after\necho "k=v" >> "$SLUICE_OUTPUT"' });
    await waitFor(() => fake.logOf(task.attemptId).includes("before"), "the first log line");
    await fake.goDown();
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // the script finishes while the server is down
    expect(fake.completions.has(task.attemptId)).toBe(false);
    await fake.comeBack();
    const completion = await waitFor(() => fake.completions.get(task.attemptId), "the delayed completion", 15_000);
    expect(completion).toMatchObject({ exitCode: 0, outputs: { k: "v" } });
    expect(fake.logOf(task.attemptId)).toBe("before\nafter\n");
    const next = fake.queue({ script: "echo claimed after the outage" });
    await waitFor(() => fake.completions.get(next.attemptId), "a task claimed after the outage", 15_000);
  });

  test("a log upload whose answer is lost is sent again with the same seq, and the server keeps it once", async () => {
    fake.dropLogAnswers = 1;
    ({ runner } = runnerFor(fake));
    void runner.run();
    const task = fake.queue({ script: "echo once\nsleep 0.5\necho twice" });
    await waitFor(() => fake.completions.get(task.attemptId), "the completion", 20_000);
    const uploads = fake.logUploads.filter((u) => u.attemptId === task.attemptId).map((u) => u.seq);
    expect(uploads.slice(0, 2)).toEqual([0, 0]);
    expect(uploads.at(-1)).toBe(1);
    expect(fake.logOf(task.attemptId)).toBe("once\ntwice\n");
  });

  test("the CLI runs tasks, and on SIGTERM kills running process groups and exits without reporting them", async () => {
    const pidFile = join(scratch, "pid");
    let stdout = "";
    cli = spawn(
      process.execPath,
      [CLI, "--url", fake.url, "--slots", "2", "--name", "cli-test", "--heartbeat-seconds", "0.2", "--kill-grace-seconds", "0.5"],
      { env: { ...process.env, SLUICE_RUNNER_TOKEN: fake.token }, stdio: ["ignore", "pipe", "pipe"] },
    );
    cli.stdout?.on("data", (bytes: Buffer) => (stdout += bytes.toString()));
    const quick = fake.queue({ nodeName: "quick", script: "echo hi" });
    const slow = fake.queue({ nodeName: "slow", script: `echo $$ > ${pidFile}\nsleep 1000` });
    await waitFor(() => fake.completions.get(quick.attemptId), "the quick task's completion");
    const pid = await readPid(pidFile);
    expect(fake.claims[0]).toMatchObject({ name: "cli-test", slots: 2, waitMs: 20_000 });
    const exited = new Promise<number | null>((resolve) => cli?.once("exit", (code) => resolve(code)));
    cli.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(processIsGone(pid)).toBe(true);
    expect(fake.completions.has(slow.attemptId)).toBe(false);
    expect(stdout).toContain("[runner] quick attempt 1 started\n");
    expect(stdout).toContain("[runner] quick attempt 1 succeeded\n");
    expect(stdout).toContain("[runner] slow attempt 1 killed: runner stopping\n");
  });
});
