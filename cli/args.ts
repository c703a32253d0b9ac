// Pure argument parsing: parameters, messages, priorities and names to ids.
import { readFileSync } from "node:fs";
import { UsageError } from "./config.ts";

/** `--param k=v` repeated → {k: v}; the value may itself contain `=`. */
export function parseParams(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`--param ${pair}: write it as name=value`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

/** `@file` (JSON, or the text as a string when it is not JSON) or a JSON literal. */
export function parseMessage(arg: string, read = (path: string) => readFileSync(path, "utf8")): unknown {
  if (arg.startsWith("@")) {
    const path = arg.slice(1);
    let text;
    try {
      text = read(path);
    } catch {
      throw new UsageError(`--message ${arg}: cannot read ${path}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new UsageError(`--message ${arg}: ${path} is not JSON`);
    }
  }
  try {
    return JSON.parse(arg);
  } catch {
    throw new UsageError(`--message: not JSON (write @file to read one): ${arg.slice(0, 80)}`);
  }
}

export function parseIntArg(name: string, value: string): number {
  if (!/^-?\d+$/.test(value)) throw new UsageError(`${name} ${value}: a whole number`);
  return Number(value);
}

/** An id as given, else the one item of that name; none or several is a usage error naming the candidates. */
export function resolveByName<T extends { id: string; name: string }>(items: readonly T[], nameOrId: string, kind: string, idPrefix: string): T {
  if (nameOrId.startsWith(idPrefix)) {
    const byId = items.find((i) => i.id === nameOrId);
    if (byId) return byId;
  }
  const matches = items.filter((i) => i.name === nameOrId);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new UsageError(`several ${kind}s are named '${nameOrId}': give the id (${matches.map((m) => m.id).join(", ")})`);
  throw new UsageError(`no ${kind} named '${nameOrId}'`);
}

/** A name safe as a file name: path separators and the like become _. */
export const fileSafe = (name: string) => name.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^\.+/, "_") || "_";
