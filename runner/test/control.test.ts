// Slots, heartbeats and killing: cancel, lease loss, an unrenewable lease, timeout and SIGKILL escalation reach the whole group.
import { mkdtemp, rm } from "node:fs/promises";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { RunnerUnauthorizedError } from "../src/errors.ts";
import type { Runner } from "../src/runner.ts";
import type { RunnerTask } from "../src/sluice-client.ts";
import { attemptsIn, FakeSluice, processIsGone, runnerFor, waitFor } from "./fake-sluice.ts";

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
    for (const heartbeat of fake.heartbeats) expect(heartbeat.leases.length).toBeLessThanOrEqual(3);
  });

  test("heartbeats go out every heartbeatSeconds even when idle, carrying the total slots", async () => {
    startRunner({ slots: 5, heartbeatSeconds: 0.1 });
    await waitFor(() => fake.heartbeats.length >= 4, "four heartbeats");
    for (const heartbeat of fake.heartbeats) {
      expect(heartbeat).toEqual({ runnerId: runner?.runnerId, name: runner?.name, slots: 5, leases: [] });
    }
    expect(fake.claims[0]).toMatchObject({ slots: 5, waitMs: 20_000 });
  });

  test("a cancel in the heartbeat reply kills the whole process group, grandchildren too, then reports the kill under its lease", async () => {
    startRunner();
    const pidFile = join(scratch, "pid");
    const task = fake.queue({ script: familyScript(pidFile) });
    const pgid = await leaderPid(pidFile);
    await waitFor(() => liveMembersOf(pgid).length >= 4, "script, two children and a grandchild");
    await waitFor(() => fake.heartbeats.some((h) => attemptsIn(h).includes(task.attemptId)), "a heartbeat listing it");
    expect(fake.heartbeats.flatMap((h) => h.leases).find((l) => l.attemptId === task.attemptId)?.leaseId).toBe(task.leaseId);
    const family = liveMembersOf(pgid);
    // The server holds the attempt's slot until it hears the process is gone: the report must come after.
    let aliveAtReport: number[] | null = null;
    fake.onResult = (attemptId) => {
      if (attemptId === task.attemptId) aliveAtReport = family.filter((pid) => !processIsGone(pid));
    };
    fake.cancel(task.attemptId);
    const report = await waitFor(() => fake.killReports.get(task.attemptId), "the kill report");
    expect(aliveAtReport).toEqual([]);
    expect(report).toMatchObject({ exitCode: null, error: "killed: cancelled by the server" });
    await finishLine(task, "killed: cancelled by the server");
    expect(runner?.runningAttempts()).toEqual([]);
    expect(fake.completions.has(task.attemptId)).toBe(false);
    expect(lines.filter((line) => line.includes("result refused"))).toEqual([]);
  });

  test("a log chunk refused because the attempt was stopped kills the group and reports the kill, without waiting for a heartbeat", async () => {
    startRunner({ heartbeatSeconds: 600 });
    const pidFile = join(scratch, "pid");
    const task = fake.queue({ script: familyScript(pidFile, "for i in $(seq 1 600); do echo tick $i; sleep 0.1; done &") });
    const pgid = await leaderPid(pidFile);
    await waitFor(() => fake.logOf(task.attemptId).includes("tick 2"), "a few ticks logged");
    const family = liveMembersOf(pgid);
    const heartbeatsBefore = fake.heartbeats.length;
    let aliveAtReport: number[] | null = null;
    fake.onResult = (attemptId) => {
      if (attemptId === task.attemptId) aliveAtReport = family.filter((pid) => !processIsGone(pid));
    };
    fake.cancel(task.attemptId, "log");
    const report = await waitFor(() => fake.killReports.get(task.attemptId), "the kill report");
    expect(aliveAtReport).toEqual([]);
    expect(report).toMatchObject({ exitCode: null, error: "killed: lease lost" });
    expect(fake.heartbeats.length, "no heartbeat was needed").toBe(heartbeatsBefore);
    await finishLine(task, "killed: lease lost");
    expect(fake.completions.has(task.attemptId)).toBe(false);
    expect(lines.filter((line) => line.includes("result refused"))).toEqual([]);
  });

  test("a lease that cannot be renewed: the runner kills the process group itself before the lease runs out on the server", async () => {
    startRunner({ killGraceSeconds: 0.3 });
    fake.failHeartbeats = true;
    const pidFile = join(scratch, "pid");
    const task = fake.queue({ leaseSeconds: 2, script: familyScript(pidFile) });
    const pgid = await leaderPid(pidFile);
    await waitFor(() => liveMembersOf(pgid).length >= 4, "script, two children and a grandchild");
    const family = liveMembersOf(pgid);
    // The server's side of the lease, from when it handed the task out: once it runs out, the node may run elsewhere.
    const expiresAt = fake.handedOutAt.get(task.attemptId)! + task.leaseSeconds * 1000;
    const aliveAtExpiry = await new Promise<number[]>((resolve) =>
      setTimeout(() => resolve(family.filter((pid) => !processIsGone(pid))), expiresAt - Date.now()),
    );
    expect(aliveAtExpiry, "no process of the attempt outlives its lease").toEqual([]);
    await finishLine(task, "killed: lease not renewed");
    expect(fake.completions.has(task.attemptId)).toBe(false);
  });

  test("a result's answer carries the next task, which runs without another claim", async () => {
    startRunner({ slots: 1 });
    const first = fake.queue({ script: "sleep 0.3; echo first" });
    await waitFor(() => runner?.runningAttempts().includes(first.attemptId), "the first task to start");
    const second = fake.queue({ script: "echo second" });
    await waitFor(() => fake.completions.get(second.attemptId), "the second task's result");
    expect(fake.resultFreeSlots[0]).toEqual({ attemptId: first.attemptId, freeSlots: 1, handedOut: 1 });
    expect(fake.handedOutBy.get(second.attemptId)).toBe("result");
    expect(fake.logOf(second.attemptId)).toBe("second\n");
  });

  test("an attempt whose process is gone holds no slot while its result's answer is on the way: a task for that slot is started, never refused", async () => {
    startRunner({ slots: 2 });
    // The first attempt's result is taken (the Worker frees its slot) but its answer is slow.
    fake.resultAnswerDelayMs = 1_500;
    const first = fake.queue({ script: "echo first" });
    await waitFor(() => fake.completions.get(first.attemptId), "the first result");
    const second = fake.queue({ script: "sleep 0.3; echo second" });
    const third = fake.queue({ script: "sleep 0.3; echo third" });
    await waitFor(() => fake.completions.get(second.attemptId) && fake.completions.get(third.attemptId), "both later results");
    expect(fake.answeredResults.has(first.attemptId), "both ran before the first result's answer came back").toBe(false);
    expect([fake.handedOutBy.get(second.attemptId), fake.handedOutBy.get(third.attemptId)]).toEqual(["claim", "claim"]);
    expect(lines.filter((line) => line.includes("more tasks than free slots"))).toEqual([]);
  });

  test("every log chunk and result carries the lease id issued with the task", async () => {
    startRunner();
    const task = fake.queue({ script: "echo hi; sleep 0.3; echo there" });
    expect(await waitFor(() => fake.completions.get(task.attemptId), "the result")).toMatchObject({ exitCode: 0 });
    expect(fake.logOf(task.attemptId)).toBe("hi\nthere\n");
    expect(fake.staleLeaseReports).toBe(0);
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
    await waitFor(() => fake.heartbeats.at(-1)?.leases.length === 0, "a heartbeat without it");
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
