// Test support: runs prepared code with real bash and python3, as a runner would, and builds contexts.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runClock } from "./dates.ts";
import type { PreparedCode } from "./prepare.ts";
import type { ResolveContext } from "./resolve.ts";

export interface Ran {
  stdout: string;
  stderr: string;
  status: number | null;
}

/** Writes prelude, values and script to files and runs bash with BASH_ENV pointing at the prelude, as the runner does. */
export function runPrepared(language: "shell" | "python", prepared: PreparedCode, env: Record<string, string> = {}): Ran {
  if (!prepared.ok) throw new Error(`expected prepared code, got: ${prepared.message}`);
  const dir = mkdtempSync(join(tmpdir(), "sluice-params-"));
  try {
    const script = join(dir, language === "shell" ? "script.sh" : "script.py");
    writeFileSync(script, prepared.script);
    const prelude = join(dir, "prelude.sh");
    writeFileSync(prelude, prepared.prelude);
    const values = join(dir, "values");
    mkdirSync(values);
    prepared.values.forEach((value, k) => writeFileSync(join(values, String(k + 1)), value));
    const command = language === "shell" ? "bash" : "python3";
    const extra = language === "shell" ? { BASH_ENV: prelude, SLUICE_VALUES: values } : { PYTHONIOENCODING: "utf-8" };
    const ran = spawnSync(command, [script], { cwd: dir, encoding: "utf8", env: { ...process.env, ...env, ...extra }, timeout: 10_000 });
    return { stdout: ran.stdout, stderr: ran.stderr, status: ran.status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh path that hostile values try to create; the test asserts it never appears. */
export function canaryPath(): { path: string; exists: () => boolean } {
  const path = join(tmpdir(), `sluice-pwned-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return { path, exists: () => existsSync(path) };
}

/** Values an attacker could put in a trigger message, each trying to create `canary`. */
export function hostileValues(canary: string): string[] {
  return [
    `input/$(touch ${canary}).csv`,
    `\`touch ${canary}\``,
    `'; touch ${canary}; echo '`,
    `"; touch ${canary}; echo "`,
    `'''; __import__('os').system('touch ${canary}'); '''`,
    `"""; __import__("os").system("touch ${canary}"); """`,
    `\\'); __import__('os').system('touch ${canary}') #`,
    `line one\nline two'"\n$(touch ${canary})`,
    `\${HOME} \${workflow.secret} $HOME %s %(x)s {} {0} {__import__('os').system('touch ${canary}')}`,
    `back\\slash\\ and trailing\\`,
    `tab\tcr\rbell\x07 del\x7f`,
    `ünïcødé — 数据 🚀 \u2028 end`,
    `a[$(touch ${canary})]`,
    `EOF\n$(touch ${canary})`,
  ];
}

export function context(overrides: Partial<ResolveContext> = {}): ResolveContext {
  return {
    workflowParams: {},
    nodeParams: {},
    triggerMessage: {},
    nodeOutputs: {},
    clock: runClock({ runDate: "20260310", receivedAt: new Date(), timezone: "UTC" }),
    ...overrides,
  };
}
