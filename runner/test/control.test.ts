// Slots, heartbeats and killing: cancel, lease loss, timeout and SIGKILL escalation reach the whole group.
import { mkdtemp, rm } from "node:fs/promises";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { RunnerUnauthorizedError } from "../src/errors.ts";
import type { Runner } from "../src/runner.ts";
import type { RunnerTask } from "../src/sluice-client.ts";
import { FakeSluice, processIsGone, runnerFor, waitFor } from "./fake-sluice.ts";

let fake: FakeSluice;
let runner: Runner | undefined;
let lines: string[] = [];
let scratch: string;

beforeEach(async () => {
  fake = await FakeSluice.start();
  scratch = await mkdtemp(join(tmpdir(), "sluice-runner-test-"));
});

afterEach(async () => {
  await runner?.stop();
  runner = undefined;
  await fake.close();
  await rm(scratch, { recursive: true, force: true });
});

function startRunner(options: Parameters<typeof runnerFor>[1] = {}): void {
  ({ runner, lines } = runnerFor(fake, options));
  void runner.run();
}

/** Live (non-zombie) processes whose process group is pgid. */
function liveMembersOf(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return members;
}

/** A script that records its pid, starts a background sleep and a bash child with its own sleep, then waits. */
function familyScript(pidFile: string, prefix = ""): string {
  return [
    prefix,
    "sleep 1000 &",
    "bash -c 'sleep 1000; echo never' &",
    `echo $$ > ${pidFile}`,
    "echo started",
    "wait",
  ].join("\n");
}

async function leaderPid(pidFile: string): Promise<number> {
  const text = await waitFor(() => {
    try {
      return readFileSync(pidFile, "utf8").trim() || null;
    } catch {
      return null;
    }
  }, "the script's pid file");
  return Number(text);
}

function finishLine(task: RunnerTask, outcome: string): Promise<string> {
  return waitFor(
    () => lines.find((line) => line.startsWith(`[runner] ${task.nodeName} attempt 1 ${outcome}`)),
    `"${outcome}" line for ${task.nodeName}`,
  );
}

describe("runner control", { timeout: 20_000 }, () => {
  test("runs `slots` tasks at once and never more", async () => {
    startRunner({ slots: 3 });
    const tasks = Array.from({ length: 7 }, () =>
      fake.queue({ script: 'echo "start $EPOCHREALTIME"; sleep 0.6; echo "end $EPOCHREALTIME"' }),
    );
    await waitFor(() => tasks.every((task) => fake.completions.has(task.attemptId)), "all 7 completions");
    const events: Array<[number, number]> = [];
    for (const task of tasks) {
      const [start, end] = [...fake.logOf(task.attemptId).matchAll(/(start|end) (\d+\.\d+)/g)].map((m) => Number(m[2]));
      events.push([start ?? NaN, +1], [end ?? NaN, -1]);
    }
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let concurrent = 0;
    let most = 0;
    for (const [, change] of events) most = Math.max(most, (concurrent += change));
    expect(most).toBe(3);
    for (const claim of fake.claims) expect(claim.slots).toBeGreaterThanOrEqual(1);
    for (const claim of fake.claims) expect(claim.slots).toBeLessThanOrEqual(3);
    for (const heartbeat of fake.heartbeats) expect(heartbeat.attempts.length).toBeLessThanOrEqual(3);
  });

  test("heartbeats go out every heartbeatSeconds even when idle, carrying the total slots", async () => {
    startRunner({ slots: 5, heartbeatSeconds: 0.1 });
    await waitFor(() => fake.heartbeats.length >= 4, "four heartbeats");
    for (const heartbeat of fake.heartbeats) {
      expect(heartbeat).toEqual({ runnerId: runner?.runnerId, name: runner?.name, slots: 5, attempts: [] });
    }
    expect(fake.claims[0]).toMatchObject({ slots: 5, waitMs: 20_000 });
  });

  test("a cancel in the heartbeat reply kills the whole process group, grandchildren too, and reports nothing", async () => {
    startRunner();
    const pidFile = join(scratch, "pid");
    const task = fake.queue({ script: familyScript(pidFile) });
    const pgid = await leaderPid(pidFile);
    await waitFor(() => liveMembersOf(pgid).length >= 4, "script, two children and a grandchild");
    await waitFor(() => fake.heartbeats.some((h) => h.attempts.includes(task.attemptId)), "a heartbeat listing it");
    const family = liveMembersOf(pgid);
    fake.cancel(task.attemptId);
    await waitFor(() => family.every(processIsGone), "every process of the group to be gone");
    await finishLine(task, "killed: cancelled by the server");
    expect(fake.completions.has(task.attemptId)).toBe(false);
    expect(runner?.runningAttempts()).toEqual([]);
  });

  test("a process group that ignores SIGTERM is SIGKILLed after the grace period", async () => {
    startRunner({ killGraceSeconds: 0.3 });
    const pidFile = join(scratch, "pid");
    const task = fake.queue({ script: familyScript(pidFile, "trap '' TERM") });
    const pgid = await leaderPid(pidFile);
    await waitFor(() => liveMembersOf(pgid).length >= 4, "the family to start");
    const family = liveMembersOf(pgid);
    fake.cancel(task.attemptId);
    await waitFor(() => family.every(processIsGone), "SIGKILL to reach every process");
    await finishLine(task, "killed: cancelled by the server");
  });

  test("a 409 on a log upload means the lease is lost: the attempt is killed and never completed", async () => {
    startRunner();
    const pidFile = join(scratch, "pid");
    const attemptId = "att_lease_lost";
    fake.leaseLost.add(attemptId);
    const task = fake.queue({ attemptId, script: familyScript(pidFile) });
    const pgid = await leaderPid(pidFile);
    await finishLine(task, "killed: lease lost");
    expect(liveMembersOf(pgid)).toEqual([]);
    expect(fake.completions.has(attemptId)).toBe(false);
    await waitFor(() => fake.heartbeats.at(-1)?.attempts.length === 0, "a heartbeat without it");
  });

  test("a node that outlives its timeout is killed and completed as timed out", async () => {
    startRunner();
    const pidFile = join(scratch, "pid");
    const task = fake.queue({ timeoutSeconds: 1, script: familyScript(pidFile) });
    const pgid = await leaderPid(pidFile);
    const completion = await waitFor(() => fake.completions.get(task.attemptId), "the timeout completion");
    expect(completion).toMatchObject({ exitCode: null, error: "timed out after 1s" });
    expect(liveMembersOf(pgid)).toEqual([]);
    expect(fake.logOf(task.attemptId)).toBe("started\n[sluice-runner] timed out after 1s; killing the process group\n");
  });

  test("a script's leftover background processes are killed when it exits", async () => {
    startRunner();
    const pidFile = join(scratch, "pid");
    const task = fake.queue({ script: `sleep 1000 &\necho $! > ${pidFile}\nexit 0` });
    const background = await leaderPid(pidFile);
    expect(await waitFor(() => fake.completions.get(task.attemptId), "completion")).toMatchObject({ exitCode: 0 });
    expect(processIsGone(background)).toBe(true);
  });

  test("a rejected runner token stops the runner with an error that says so", async () => {
    const created = runnerFor(fake, { token: "not-the-token" });
    runner = created.runner;
    await expect(runner.run()).rejects.toThrow(RunnerUnauthorizedError);
    await expect(runner.run()).rejects.toThrow(/rejected the runner token \(401\)/);
  });
});
