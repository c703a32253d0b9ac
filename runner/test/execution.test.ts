// What a node sees and produces: logs, exit codes, outputs, prelude, environment, encodings.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { Runner } from "../src/runner.ts";
import type { RunnerTask } from "../src/sluice-client.ts";
import { FakeSluice, runnerFor, waitFor } from "./fake-sluice.ts";

let fake: FakeSluice;
let runner: Runner | undefined;
let lines: string[] = [];

beforeEach(async () => {
  fake = await FakeSluice.start();
});

afterEach(async () => {
  await runner?.stop();
  runner = undefined;
  await fake.close();
});

function startRunner(options: Parameters<typeof runnerFor>[1] = {}): void {
  ({ runner, lines } = runnerFor(fake, options));
  void runner.run();
}

function completionOf(task: RunnerTask, timeoutMs = 10_000) {
  return waitFor(() => fake.completions.get(task.attemptId), `completion of ${task.nodeName}`, timeoutMs);
}

describe("runner execution", { timeout: 20_000 }, () => {
  test("a shell node's output is its log and its $SLUICE_OUTPUT key=value lines are its outputs", async () => {
    startRunner();
    const task = fake.queue({
      script: [
        'echo "hello from $SLUICE_NODE"',
        'echo "count=3" >> "$SLUICE_OUTPUT"',
        'echo "url=https://x.test/?a=b" >> "$SLUICE_OUTPUT"',
        'echo "not an output line" >> "$SLUICE_OUTPUT"',
        'echo "9starts_with_digit=1" >> "$SLUICE_OUTPUT"',
        'echo "count=4" >> "$SLUICE_OUTPUT"',
      ].join("\n"),
    });
    const completion = await completionOf(task);
    expect(completion).toEqual({
      exitCode: 0,
      signal: null,
      outputs: { count: "4", url: "https://x.test/?a=b" },
      error: null,
    });
    expect(fake.logOf(task.attemptId)).toBe(`hello from ${task.nodeName}\n`);
  });

  test("a python node runs with python3 -u and reports its outputs", async () => {
    startRunner();
    const task = fake.queue({
      type: "python",
      script: [
        "import os",
        'print("sum", 1 + 2)',
        'with open(os.environ["SLUICE_OUTPUT"], "a") as f:',
        '    f.write("answer=42\\n")',
      ].join("\n"),
    });
    const completion = await completionOf(task);
    expect(completion).toMatchObject({ exitCode: 0, signal: null, outputs: { answer: "42" }, error: null });
    expect(fake.logOf(task.attemptId)).toBe("sum 3\n");
  });

  test("a non-zero exit is reported as the exit code, with stderr in the log", async () => {
    startRunner();
    const task = fake.queue({ script: "echo failing >&2\nexit 3" });
    const completion = await completionOf(task);
    expect(completion).toMatchObject({ exitCode: 3, signal: null, error: null });
    expect(fake.logOf(task.attemptId)).toBe("failing\n");
  });

  test("a python exception exits non-zero with its traceback in the log", async () => {
    startRunner();
    const task = fake.queue({
      type: "python",
      script: ["def fail():", '    raise ValueError("boom")', "", "fail()"].join("\n"),
    });
    const completion = await completionOf(task);
    expect(completion.exitCode).toBe(1);
    const log = fake.logOf(task.attemptId);
    expect(log).toContain("Traceback (most recent call last)");
    expect(log).toContain('script.py", line 2');
    expect(log).toContain("ValueError: boom");
  });

  test("the prelude is sourced via BASH_ENV: its names are visible and errors cite script.sh's own lines", async () => {
    startRunner();
    const task = fake.queue({
      prelude: 'export GREETING="hello"\ngreet() { echo "greet $1"; }\n',
      script: ['echo "$GREETING"', "greet world", "no_such_command_xyz"].join("\n"),
    });
    const completion = await completionOf(task);
    expect(completion.exitCode).toBe(127);
    const log = fake.logOf(task.attemptId);
    expect(log).toMatch(/^hello\ngreet world\n/);
    expect(log).toMatch(/script\.sh: line 3: no_such_command_xyz: command not found/);
  });

  test("user code never sees the runner token or any other SLUICE_* variable of the runner", async () => {
    startRunner({
      env: {
        ...process.env,
        SLUICE_RUNNER_TOKEN: fake.token,
        SLUICE_URL: fake.url,
        SLUICE_PYTHON: "python3",
        KEPT_FOR_USER_CODE: "kept",
      },
    });
    const task = fake.queue({ script: "env" });
    await completionOf(task);
    const log = fake.logOf(task.attemptId);
    expect(log).not.toContain(fake.token);
    const sluiceNames = log
      .split("\n")
      .filter((line) => line.startsWith("SLUICE_"))
      .map((line) => line.slice(0, line.indexOf("=")))
      .sort();
    expect(sluiceNames).toEqual(["SLUICE_INSTANCE_ID", "SLUICE_NODE", "SLUICE_OUTPUT"]);
    expect(log).toContain("KEPT_FOR_USER_CODE=kept\n");
    expect(log).toContain("PYTHONUNBUFFERED=1\n");
  });

  test("a missing interpreter fails the attempt with an error and a log line naming it", async () => {
    startRunner({ python: "/nonexistent/python3" });
    const task = fake.queue({ type: "python", script: "print(1)" });
    const completion = await completionOf(task);
    expect(completion.exitCode).toBeNull();
    expect(completion.error).toMatch(/could not start \/nonexistent\/python3: .*ENOENT/);
    expect(fake.logOf(task.attemptId)).toMatch(/^\[sluice-runner\] could not start \/nonexistent\/python3/);
  });

  test("each attempt runs in a fresh work dir that is removed afterwards", async () => {
    startRunner();
    const task = fake.queue({ script: "pwd; ls -A" });
    await completionOf(task);
    const [dir, listing] = fake.logOf(task.attemptId).split("\n", 2);
    expect(listing).toBe(".sluice_output");
    await waitFor(() => lines.some((line) => line.includes(`${task.nodeName} attempt 1 succeeded`)), "finish line");
    expect(existsSync(dir ?? "")).toBe(false);
  });

  test("--keep-work-dirs keeps the work dir with the script in it", async () => {
    const workDir = await mkdtemp(join(tmpdir(), "sluice-runner-keep-"));
    try {
      startRunner({ keepWorkDirs: true, workDir });
      const task = fake.queue({ script: "pwd" });
      await completionOf(task);
      await waitFor(() => lines.some((line) => line.includes(`${task.nodeName} attempt 1 succeeded`)), "finish line");
      const dir = fake.logOf(task.attemptId).trim();
      expect(dir.startsWith(`${workDir}/`)).toBe(true);
      expect(existsSync(join(dir, "script.sh"))).toBe(true);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });

  test("a large log arrives complete and in order, in bounded chunks", async () => {
    startRunner();
    const task = fake.queue({ type: "python", script: 'for i in range(40000):\n    print(f"line {i:05d}")' });
    await completionOf(task);
    const expected = Array.from({ length: 40000 }, (_, i) => `line ${String(i).padStart(5, "0")}\n`).join("");
    expect(fake.logOf(task.attemptId)).toBe(expected);
    const chunks = fake.logChunksOf(task.attemptId);
    expect(chunks.length).toBeGreaterThan(4);
    for (const chunk of chunks) expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(128 * 1024);
  });

  test("output faster than a slow server arrives whole: the script waits instead of the runner's memory growing", async () => {
    fake.logDelayMs = 40;
    startRunner();
    const task = fake.queue({
      type: "python",
      script: 'import sys\nfor i in range(3000):\n    sys.stdout.write(f"{i:06d} " + "z" * 993 + "\\n")',
    });
    await completionOf(task, 20_000);
    const log = fake.logOf(task.attemptId);
    expect(log.length).toBe(3000 * 1001);
    expect(log.slice(-1001, -994)).toBe("002999 ");
  });

  test("multi-byte UTF-8 characters are never split across log chunks", async () => {
    startRunner();
    const task = fake.queue({
      type: "python",
      script: [
        "import sys, time",
        "out = sys.stdout.buffer",
        'data = ("aé日🙂" * 3000).encode()',
        "for i in range(0, len(data), 7):",
        "    out.write(data[i:i + 7]); out.flush()",
        'emoji = "🙂".encode()',
        "out.write(emoji[:2]); out.flush()",
        "time.sleep(0.5)  # long enough for a 200 ms flush to fall inside the character",
        "out.write(emoji[2:] + bytes([10])); out.flush()",
      ].join("\n"),
    });
    await completionOf(task);
    expect(fake.invalidUtf8Chunks).toBe(0);
    expect(fake.logOf(task.attemptId)).toBe(`${"aé日🙂".repeat(3000)}🙂\n`);
    expect(fake.logChunksOf(task.attemptId).length).toBeGreaterThan(1);
  });
});
