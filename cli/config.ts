// Where the CLI finds its API: SLUICE_URL / SLUICE_KEY, else the file `sluice login` wrote (mode 0600).
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Connection } from "./api.ts";

export class UsageError extends Error {
  override name = "UsageError";
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== "" ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "sluice", "config.json");
}

function readSaved(path: string): Partial<Connection> {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Partial<Connection>;
  } catch {
    return {};
  }
}

/** The environment wins over the saved file, field by field. */
export function resolveConnection(env: NodeJS.ProcessEnv = process.env): Connection {
  const saved = readSaved(configPath(env));
  const url = env.SLUICE_URL || saved.url;
  const key = env.SLUICE_KEY || saved.key;
  if (!url || !key) throw new UsageError("no API to talk to: set SLUICE_URL and SLUICE_KEY, or run `sluice login --url URL --key KEY`");
  return { url, key };
}

export function saveConnection(connection: Connection, env: NodeJS.ProcessEnv = process.env): string {
  const path = configPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(connection, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its mode on write
  return path;
}
