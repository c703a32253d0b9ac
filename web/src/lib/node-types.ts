// The node types the editor offers (DESIGN §2.1): what each is for, where it runs and what a new one starts with.
import type { NodeDefinition } from "./api/types.ts";

export type CodeLanguage = "shell" | "python" | "json";

export interface NodeTypeInfo {
  type: string;
  label: string;
  /** One line for the palette. */
  summary: string;
  /** Where it executes: a runner (shell, python) or the Worker itself. */
  runsOn: "runner" | "worker";
  /** The language of its `code`, or null when it has none. */
  language: CodeLanguage | null;
  /** A two-letter glyph for the canvas and the palette. */
  glyph: string;
}

export const NODE_TYPES: readonly NodeTypeInfo[] = [
  { type: "shell", label: "Shell", summary: "A bash script on a runner", runsOn: "runner", language: "shell", glyph: "sh" },
  { type: "python", label: "Python", summary: "A python3 script on a runner", runsOn: "runner", language: "python", glyph: "py" },
  { type: "http", label: "HTTP", summary: "A request sent by the Worker; 2xx succeeds", runsOn: "worker", language: null, glyph: "↗" },
  { type: "branch", label: "Branch", summary: "Chooses which outgoing edges run", runsOn: "worker", language: null, glyph: "if" },
  { type: "merge", label: "Merge", summary: "Joins branches: runs when one upstream succeeded", runsOn: "worker", language: null, glyph: "⊕" },
  { type: "noop", label: "No-op", summary: "A start or join point that does nothing", runsOn: "worker", language: null, glyph: "○" },
];

const BY_TYPE = new Map(NODE_TYPES.map((info) => [info.type, info]));

/** What the editor knows about a type; an unknown type (from an older build) reads as itself. */
export function nodeTypeInfo(type: string): NodeTypeInfo {
  return BY_TYPE.get(type) ?? { type, label: type, summary: "", runsOn: "runner", language: null, glyph: "?" };
}

/** The colour a node type is drawn in (a base.css variable); an unknown type looks like a no-op. */
export function kindColour(type: string): string {
  return `var(--kind-${BY_TYPE.has(type) ? type : "noop"})`;
}

/** Only the types this server build accepts (the palette hides the others). */
export function paletteTypes(supported: readonly string[] | null): NodeTypeInfo[] {
  return supported ? NODE_TYPES.filter((info) => supported.includes(info.type)) : [...NODE_TYPES];
}

const STARTER_CODE: Record<string, string> = {
  shell: 'echo "bizdate is ${bizdate}"\n',
  python: 'print("bizdate is ${bizdate}")\n',
};

/** A new node of a type, named `<type>_<n>` with the first n not taken. */
export function newNode(type: string, taken: ReadonlySet<string>): NodeDefinition {
  let n = 1;
  while (taken.has(`${type}_${n}`)) n++;
  const node: NodeDefinition = { name: `${type}_${n}`, type, code: STARTER_CODE[type] ?? "", params: {}, timeoutSeconds: 3600 };
  if (type === "http") node.http = { method: "GET", url: "https://example.com/", headers: {} };
  if (type === "branch") node.conditions = [];
  return node;
}
