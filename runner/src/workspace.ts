// An attempt's private work dir: the script files, the output file and the interpreter's environment.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RunnerTask } from "./sluice-client.ts";

export interface Interpreters {
  bash: string;
  python: string;
}

export interface AttemptWorkspace {
  dir: string;
  outputFile: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * The values of the node's references, one file each (`values/1`, `values/2`, …), which the prelude
 * reads byte for byte into variables: values reach bash as data, never as script text (DESIGN §2.3).
 */
async function writeValues(dir: string, values: readonly string[]): Promise<string> {
  const valuesDir = join(dir, "values");
  await mkdir(valuesDir);
  await Promise.all(values.map((value, k) => writeFile(join(valuesDir, String(k + 1)), value)));
  return valuesDir;
}

/** Creates `<workRoot>/<attemptId>-XXXXXX` with the script (and prelude and values) and an empty $SLUICE_OUTPUT. */
export async function prepareWorkspace(
  task: RunnerTask,
  workRoot: string,
  interpreters: Interpreters,
  runnerEnv: NodeJS.ProcessEnv,
): Promise<AttemptWorkspace> {
  const dir = await mkdtemp(join(workRoot, `${safeFileName(task.attemptId)}-`));
  const outputFile = join(dir, ".sluice_output");
  await writeFile(outputFile, "");
  const extra: Record<string, string> = {};
  let command: string;
  let args: string[];
  if (task.type === "shell") {
    await writeFile(join(dir, "script.sh"), task.script);
    if (task.prelude !== "") {
      // Sourced via BASH_ENV rather than prepended, so bash reports script.sh's own line numbers.
      const prelude = join(dir, "prelude.sh");
      await writeFile(prelude, task.prelude);
      extra.BASH_ENV = prelude;
      extra.SLUICE_VALUES = await writeValues(dir, task.values ?? []);
    }
    command = interpreters.bash;
    args = ["script.sh"];
  } else {
    await writeFile(join(dir, "script.py"), task.script);
    command = interpreters.python;
    args = ["-u", "script.py"];
  }
  const env = nodeEnvironment(runnerEnv, task.env, { ...extra, SLUICE_OUTPUT: outputFile, PYTHONUNBUFFERED: "1" });
  return { dir, outputFile, command, args, env };
}

/**
 * The runner's environment minus every SLUICE_* variable (the runner token must never reach user
 * code), then the task's variables, then the runner's own settings, which win.
 */
export function nodeEnvironment(
  runnerEnv: NodeJS.ProcessEnv,
  taskEnv: Record<string, string>,
  runnerSettings: Record<string, string>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(runnerEnv)) {
    if (!key.startsWith("SLUICE_") && value !== undefined) env[key] = value;
  }
  return { ...env, ...taskEnv, ...runnerSettings };
}

export async function removeWorkspace(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 80) || "attempt";
}
