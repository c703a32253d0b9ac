// Definition files (DESIGN §8): YAML or JSON, one or more documents each, `kind: Workflow` or `kind: Trigger`.
// Every problem is reported as `file:line: path: problem`, all of them at once, before anything is sent.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { isNode, LineCounter, parseAllDocuments, type Document } from "yaml";
import { parseDefinition } from "../worker/core/validate.ts";
import { parseTriggerInput, type TriggerInput } from "../worker/core/triggers/config.ts";
import type { WorkflowDefinition } from "../worker/core/definition.ts";

export const KINDS = ["Workflow", "Trigger"] as const;
const EXTENSIONS = [".yaml", ".yml", ".json"];

/** Where a document came from, able to point at the line of a path inside it. */
export interface Source {
  file: string;
  /** 1-based, among the file's documents (and array items). */
  doc: number;
  /** How many documents the file holds (a lone one is not numbered in messages). */
  docs: number;
  line(path: readonly (string | number)[]): number | undefined;
}

export type WorkflowFile = { kind: "Workflow"; name: string; trigger: string | null; definition: WorkflowDefinition; source: Source };
export type TriggerFile = { kind: "Trigger"; name: string; input: TriggerInput; source: Source };
export type DefinitionFile = WorkflowFile | TriggerFile;

export class FileError extends Error {
  override name = "FileError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.problems = problems;
  }
}

/** `nodes[0].code` → ["nodes", 0, "code"]. */
export function pathSegments(path: string | undefined): (string | number)[] {
  if (!path) return [];
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/** `file:line: problem`; the document number only when a file holds several. */
export function located(source: Source, path: string | undefined, message: string, docs = source.docs): string {
  const line = source.line(pathSegments(path));
  const where = `${source.file}${docs > 1 ? ` (document ${source.doc})` : ""}${line !== undefined ? `:${line}` : ""}`;
  const text = path && !message.startsWith(path) ? `${path}: ${message}` : message;
  return `${where}: ${text}`;
}

/** The files named: a directory stands for its YAML and JSON files (recursively), in name order. */
export function expandPaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const path of paths) {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      throw new FileError([`${path}: no such file or directory`]);
    }
    if (!stat.isDirectory()) {
      out.push(path);
      continue;
    }
    const entries = readdirSync(path).sort();
    const nested = entries.map((e) => join(path, e));
    out.push(...expandPaths(nested.filter((p) => statSync(p).isDirectory())));
    out.push(...nested.filter((p) => statSync(p).isFile() && EXTENSIONS.includes(extname(p).toLowerCase())));
  }
  return out;
}

type RawDoc = { value: unknown; source: Source };

/** A file's documents as plain values (a top-level list is a list of documents), or its syntax errors. */
export function readDocuments(file: string, text: string): RawDoc[] {
  const counter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: counter, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const problems = list.flatMap((d) => d.errors.map((e) => `${file}:${counter.linePos(e.pos[0]).line}: ${e.message.split("\n")[0]}`));
  if (problems.length > 0) throw new FileError(problems);
  const out: RawDoc[] = [];
  const lineIn = (doc: Document, prefix: (string | number)[]) => (path: readonly (string | number)[]) => {
    // The deepest node that exists along the path: a missing field is reported at its parent.
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn([...prefix, ...path.slice(0, n)], true);
      if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  for (const doc of list) {
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue; // an empty document (a trailing ---)
    if (Array.isArray(value)) {
      value.forEach((item, i) => out.push({ value: item, source: { file, doc: out.length + 1, docs: 0, line: lineIn(doc, [i]) } }));
    } else {
      out.push({ value, source: { file, doc: out.length + 1, docs: 0, line: lineIn(doc, []) } });
    }
  }
  for (const raw of out) raw.source.docs = out.length;
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Error details of the core parsers (or the API's 400), each located in the file. */
export function detailProblems(source: Source, details: readonly { path?: string; message: string }[], docs: number, rename = (p?: string) => p): string[] {
  return details.map((d) => {
    const path = rename(d.path);
    const message = path !== d.path && d.path ? d.message.replace(d.path, path ?? "") : d.message;
    return located(source, path, message, docs);
  });
}

/** In a file a workflow names its trigger (`policy.trigger`); the API knows its id (`policy.triggerId`). */
export const fileTriggerPath = (path?: string) => (path?.startsWith("policy.triggerId") ? path.replace("policy.triggerId", "policy.trigger") : path);

/** One document checked as the API would check it, with the trigger named instead of referred to by id. */
export function parseDocument(raw: RawDoc, docs: number): DefinitionFile {
  const { value, source } = raw;
  if (!isObject(value)) throw new FileError([located(source, undefined, "a definition is a mapping with kind: Workflow or kind: Trigger", docs)]);
  const { kind, ...rest } = value;
  if (kind !== "Workflow" && kind !== "Trigger") {
    throw new FileError([located(source, "kind", `kind: must be Workflow or Trigger (got ${JSON.stringify(kind ?? null)})`, docs)]);
  }
  try {
    if (kind === "Trigger") {
      // The queue's existence is the server's to say (its 400 is mapped the same way); every other check runs here.
      const queue = isObject(rest.config) && typeof rest.config.queue === "string" ? [rest.config.queue] : [];
      const input = parseTriggerInput(rest, queue);
      return { kind, name: input.name, input, source };
    }
    const { definition, trigger } = withTriggerId(rest, source, docs);
    const parsed = parseDefinition(definition);
    return { kind, name: parsed.name, trigger, definition: parsed, source };
  } catch (err) {
    if (err instanceof FileError) throw err;
    const e = err as { details?: { path?: string; message: string }[]; message: string };
    throw new FileError(e.details?.length ? detailProblems(source, e.details, docs, fileTriggerPath) : [located(source, undefined, e.message, docs)]);
  }
}

/** `policy.trigger: NAME` out, `policy.triggerId: null` in (the id is found by name when applying). */
function withTriggerId(rest: Record<string, unknown>, source: Source, docs: number): { definition: Record<string, unknown>; trigger: string | null } {
  if (!isObject(rest.policy)) return { definition: rest, trigger: null };
  const { trigger = null, ...policy } = rest.policy;
  if ("triggerId" in policy) throw new FileError([located(source, "policy.triggerId", "policy.triggerId: name the trigger instead: policy.trigger: <trigger name>", docs)]);
  if (trigger !== null && (typeof trigger !== "string" || trigger === "")) {
    throw new FileError([located(source, "policy.trigger", "policy.trigger: the name of a trigger (kind: Trigger), or null", docs)]);
  }
  return { definition: { ...rest, policy: { ...policy, triggerId: null } }, trigger: trigger as string | null };
}

/** Reads and checks every file; all problems of all files in one FileError. Names are unique per kind. */
export function loadDefinitions(paths: readonly string[], read = (file: string) => readFileSync(file, "utf8")): DefinitionFile[] {
  const problems: string[] = [];
  const out: DefinitionFile[] = [];
  const files = expandPaths(paths);
  if (files.length === 0) throw new FileError([`${paths.join(", ")}: no .yaml, .yml or .json files`]);
  for (const file of files) {
    try {
      const docs = readDocuments(file, read(file));
      for (const raw of docs) {
        try {
          out.push(parseDocument(raw, docs.length));
        } catch (err) {
          if (!(err instanceof FileError)) throw err;
          problems.push(...err.problems);
        }
      }
    } catch (err) {
      if (!(err instanceof FileError)) throw err;
      problems.push(...err.problems);
    }
  }
  const seen = new Map<string, Source>();
  for (const def of out) {
    const key = `${def.kind}:${def.name}`;
    const first = seen.get(key);
    if (first) problems.push(located(def.source, "name", `name: ${def.kind.toLowerCase()} '${def.name}' is also defined in ${first.file} (document ${first.doc})`));
    else seen.set(key, def.source);
  }
  if (problems.length > 0) throw new FileError(problems);
  return out;
}
