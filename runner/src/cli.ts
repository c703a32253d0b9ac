// Command line for the Sluice runner: parses options (flags or SLUICE_* env) and wires signals.
import { parseArgs } from "node:util";
import { Runner, type RunnerOptions } from "./runner.ts";

const USAGE = `usage: node runner/src/cli.ts --url <base url> --token <runner token> [options]

  --url URL                 the Sluice Worker, e.g. http://127.0.0.1:8787   (env SLUICE_URL)
  --token TOKEN             the resource group's runner token             (env SLUICE_RUNNER_TOKEN;
                            prefer the env: flags are visible to other users in ps)
  --slots N                 node runs executed at once (1..1024), default 4 (env SLUICE_RUNNER_SLOTS)
  --name NAME               shown in the console, default the host name   (env SLUICE_RUNNER_NAME)
  --work-dir DIR            parent of the attempts' work dirs, default <tmp>/sluice-runner-<id>
  --heartbeat-seconds S     default 5
  --kill-grace-seconds S    SIGTERM to SIGKILL delay for a killed node, default 5
  --keep-work-dirs          keep each attempt's work dir (debugging)
  --bash PATH               bash executable, default bash                  (env SLUICE_BASH)
  --python PATH             python executable, default python3             (env SLUICE_PYTHON)`;

/** The Worker accepts claims and heartbeats for at most this many slots. */
const MAX_SLOTS = 1024;

export class UsageError extends Error {
  override name = "UsageError";
}

/** Flags win over environment variables; anything missing or malformed is a UsageError. */
export function parseRunnerArgs(argv: string[], env: NodeJS.ProcessEnv): RunnerOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        slots: { type: "string" },
        name: { type: "string" },
        "work-dir": { type: "string" },
        "heartbeat-seconds": { type: "string" },
        "kill-grace-seconds": { type: "string" },
        "keep-work-dirs": { type: "boolean" },
        bash: { type: "string" },
        python: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return "help";
  const url = values.url ?? env.SLUICE_URL;
  const token = values.token ?? env.SLUICE_RUNNER_TOKEN;
  if (!url) throw new UsageError("missing --url (or SLUICE_URL)");
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--url must be an http(s) URL, got ${JSON.stringify(url)}`);
  if (!token) throw new UsageError("missing --token (or SLUICE_RUNNER_TOKEN)");
  const options: RunnerOptions = {
    url,
    token,
    slots: positiveNumber("--slots", values.slots ?? env.SLUICE_RUNNER_SLOTS ?? "4", true),
    heartbeatSeconds: positiveNumber("--heartbeat-seconds", values["heartbeat-seconds"] ?? "5", false),
    killGraceSeconds: positiveNumber("--kill-grace-seconds", values["kill-grace-seconds"] ?? "5", false),
    keepWorkDirs: values["keep-work-dirs"] ?? false,
  };
  if (options.slots > MAX_SLOTS) throw new UsageError(`--slots is at most ${MAX_SLOTS}`);
  const name = values.name ?? env.SLUICE_RUNNER_NAME;
  if (name) options.name = name;
  if (values["work-dir"]) options.workDir = values["work-dir"];
  const bash = values.bash ?? env.SLUICE_BASH;
  if (bash) options.bash = bash;
  const python = values.python ?? env.SLUICE_PYTHON;
  if (python) options.python = python;
  return options;
}

function positiveNumber(flag: string, text: string, integer: boolean): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${flag} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(text)}`);
  }
  return value;
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseRunnerArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  const runner = new Runner(options);
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      console.log(`[runner] ${signal} again: killing every running node now`);
      runner.killAllNow();
      process.exit(130);
    }
    signalled = true;
    console.log(`[runner] ${signal}: stopping, killing ${runner.runningAttempts().length} running attempts`);
    void runner.stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await runner.run();
  } catch (error) {
    console.error(`[runner] error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  process.exit(0);
}

if (import.meta.main) await main();
