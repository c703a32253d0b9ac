// Registration: the server issues the runner's id, every call carries it, and a forgotten id is replaced.
import { afterEach, beforeEach, expect, test } from "vitest";
import type { Runner } from "../src/runner.ts";
import { FakeSluice, runnerFor, waitFor } from "./fake-sluice.ts";

let fake: FakeSluice;
let runner: Runner | undefined;

beforeEach(async () => {
  fake = await FakeSluice.start();
});

afterEach(async () => {
  await runner?.stop();
  runner = undefined;
  await fake.close();
});

test("uses the id the server issued on every claim, heartbeat, log and result", async () => {
  ({ runner } = runnerFor(fake));
  void runner.run();
  const task = fake.queue({ script: "echo registered" });
  await waitFor(() => fake.completions.get(task.attemptId), "the result");
  expect(fake.issued).toHaveLength(1);
  expect(runner.runnerId).toBe(fake.issued[0]);
  expect(fake.claims.map((c) => c.runnerId)).toEqual(fake.claims.map(() => fake.issued[0]));
  await waitFor(() => fake.heartbeats.length > 0, "a heartbeat");
  expect(new Set(fake.heartbeats.map((h) => h.runnerId))).toEqual(new Set([fake.issued[0]]));
  expect(fake.logOf(task.attemptId)).toBe("registered\n");
});

test("registers again when the server no longer knows its id, and keeps running tasks", async () => {
  let lines: string[];
  ({ runner, lines } = runnerFor(fake, { claimWaitMs: 50 }));
  void runner.run();
  await waitFor(() => fake.claims.length > 0, "a first claim");
  fake.forgetRunners();
  await waitFor(() => fake.issued.length === 1, "a second registration");
  const task = fake.queue({ script: "echo again" });
  await waitFor(() => fake.completions.get(task.attemptId), "the result after registering again");
  expect(runner.runnerId).toBe(fake.issued[0]);
  expect(lines.some((l) => l.includes("registered again"))).toBe(true);
});
