// Validation of a workflow definition (DESIGN §2.2): every broken rule becomes one detail of a single 400 error.
import type { z } from "zod";
import { findCycles, formatCycle, Dag } from "./dag.ts";
import { checkNodeRules } from "./node-rules.ts";
import {
  DefinitionSchema,
  EdgeSchema,
  LIMITS,
  MAX_NODES,
  MAX_PARALLEL,
  NodeSchema,
  PRIORITY_LEVELS,
  PolicySchema,
  RetryPolicySchema,
  SUPPORTED_NODE_TYPES,
  TRIGGER_INCOMPATIBLE_NODE_TYPES,
  type WorkflowDefinition,
} from "./definition.ts";
import { invalidDefinition, type ErrorDetail } from "./errors.ts";
import { checkConcurrencyKey } from "./concurrency-key.ts";
import { checkReferences } from "./params/index.ts";

/**
 * Parses a definition (from a save, a publish or a run) and fills its defaults. Throws one
 * `invalidDefinition` listing every problem found, so a person fixes them all in one round.
 *
 * Order: the size limits first, on the raw input, and alone — anything over them must be cut down
 * before other findings matter, and it spares us parsing and graph work on arbitrarily large input.
 * Then the schema and the graph rules together; the graph rules read the raw input leniently so a
 * bad priority does not hide a cycle. Parameter references last, only on a sound graph, because
 * "can this reference ever resolve" needs every node's ancestors.
 */
export function parseDefinition(input: unknown): WorkflowDefinition {
  const limits = checkLimits(input);
  if (limits.length > 0) throw invalidDefinition(limits);

  const view = looseView(input);
  const parsed = DefinitionSchema.safeParse(input, { error: describeIssue });
  const details = parsed.success ? [] : schemaDetails(parsed.error.issues, view);
  const graph = checkGraph(view);
  details.push(...graph.details, ...checkNodeTypes(view), ...checkCodeSizes(view));

  if (parsed.success) {
    // Defaults make the stored form larger than what was sent; the stored form is what must fit.
    details.push(...checkDefinitionSize(parsed.data));
    details.push(...checkConcurrencyKey(parsed.data));
    if (graph.sound) {
      const dag = Dag.fromDefinition(parsed.data);
      details.push(...checkNodeRules(parsed.data, dag));
      details.push(...checkReferences(parsed.data, (node: string) => dag.ancestors(node)));
    }
  }
  // A failed parse always yields details (every zod issue becomes at least one).
  if (!parsed.success || details.length > 0) throw invalidDefinition(details);
  return parsed.data;
}

// ---- limits ------------------------------------------------------------------------------------

const utf8Bytes = (text: string) => new TextEncoder().encode(text).byteLength;
const kib = (bytes: number) => `${bytes.toLocaleString("en-US")} bytes (${bytes / 1024} KiB)`;

function checkLimits(input: unknown): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  if (isRecord(input) && Array.isArray(input.nodes) && input.nodes.length > MAX_NODES) {
    details.push({
      path: "nodes",
      message: `a workflow has at most ${MAX_NODES} nodes; this one has ${input.nodes.length}`,
    });
  }
  details.push(...checkDefinitionSize(input));
  return details;
}

function checkDefinitionSize(definition: unknown): ErrorDetail[] {
  let json: string | undefined;
  try {
    json = JSON.stringify(definition);
  } catch {
    return []; // not JSON at all (a BigInt, a cycle): the schema says what is wrong with it
  }
  if (json === undefined) return [];
  const bytes = utf8Bytes(json);
  return bytes > LIMITS.definitionBytes
    ? [{ message: `the definition is ${bytes.toLocaleString("en-US")} bytes as JSON; the limit is ${kib(LIMITS.definitionBytes)}` }]
    : [];
}

// ---- the raw input, read leniently for the graph rules -----------------------------------------

interface LooseNode {
  index: number;
  name?: string;
  type?: string;
  code?: string;
}
interface LooseEdge {
  index: number;
  from?: string;
  to?: string;
}
interface LooseView {
  nodes: LooseNode[];
  edges: LooseEdge[];
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const stringOrUndefined = (value: unknown) => (typeof value === "string" ? value : undefined);

function looseView(input: unknown): LooseView {
  const items = (key: string) => (isRecord(input) && Array.isArray(input[key]) ? (input[key] as unknown[]) : []);
  return {
    nodes: items("nodes").map((node, index) => ({
      index,
      name: stringOrUndefined(isRecord(node) ? node.name : undefined),
      type: stringOrUndefined(isRecord(node) ? node.type : undefined),
      code: stringOrUndefined(isRecord(node) ? node.code : undefined),
    })),
    edges: items("edges").map((edge, index) => ({
      index,
      from: stringOrUndefined(isRecord(edge) ? edge.from : undefined),
      to: stringOrUndefined(isRecord(edge) ? edge.to : undefined),
    })),
  };
}

const nodeLabel = (node: LooseNode) => (node.name === undefined ? `nodes[${node.index}]` : `node '${node.name}'`);

// ---- graph rules -------------------------------------------------------------------------------

/** `sound` when the edges form a DAG over uniquely named nodes: the precondition for reference checks. */
function checkGraph(view: LooseView): { details: ErrorDetail[]; sound: boolean } {
  const details: ErrorDetail[] = [];
  const firstIndex = new Map<string, number>();
  for (const node of view.nodes) {
    if (node.name === undefined) continue;
    const first = firstIndex.get(node.name);
    if (first === undefined) firstIndex.set(node.name, node.index);
    else {
      details.push({
        path: `nodes[${node.index}].name`,
        message: `node name '${node.name}' is used by nodes[${first}] and nodes[${node.index}]; node names must be unique`,
      });
    }
  }

  const firstEdge = new Map<string, number>();
  const edges: { from: string; to: string; index: number }[] = [];
  for (const { index, from, to } of view.edges) {
    if (from === undefined || to === undefined) continue; // the schema reports it
    const edge = `${from} → ${to}`;
    const key = JSON.stringify([from, to]);
    const first = firstEdge.get(key);
    if (first !== undefined) {
      details.push({ path: `edges[${index}]`, message: `edge ${edge} is listed twice (edges[${first}] and edges[${index}])` });
      continue;
    }
    firstEdge.set(key, index);
    let usable = true;
    const ends = from === to ? ([["to", to]] as const) : ([["from", from], ["to", to]] as const);
    for (const [end, name] of ends) {
      if (firstIndex.has(name)) continue;
      usable = false;
      details.push({ path: `edges[${index}].${end}`, message: `edge ${edge} refers to unknown node '${name}'` });
    }
    if (from === to && usable) {
      usable = false;
      details.push({ path: `edges[${index}]`, message: `edge ${edge} connects node '${from}' to itself` });
    }
    if (usable) edges.push({ from, to, index });
  }

  const cycles = findCycles([...firstIndex.keys()], edges);
  for (const cycle of cycles) {
    // Point at the edge that closes the cycle, so an editor can highlight one edge to remove.
    const closing = edges.find((e) => e.from === cycle[cycle.length - 1] && e.to === cycle[0]);
    details.push({
      path: closing ? `edges[${closing.index}]` : "edges",
      message: `the edges form a cycle: ${formatCycle(cycle)}`,
    });
  }
  return { details, sound: details.length === 0 };
}

// ---- node rules --------------------------------------------------------------------------------

const incompatible: readonly string[] = TRIGGER_INCOMPATIBLE_NODE_TYPES;
const supported: readonly string[] = SUPPORTED_NODE_TYPES;

function checkNodeTypes(view: LooseView): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const node of view.nodes) {
    if (!node.type || supported.includes(node.type)) continue; // an empty type is the schema's to report
    details.push({
      path: `nodes[${node.index}].type`,
      message: incompatible.includes(node.type)
        ? `${nodeLabel(node)} has type ${node.type}, which cannot run in a triggered workflow (streaming and dependency-check nodes only run as independent nodes)`
        : `${nodeLabel(node)} has unknown type '${node.type}'; supported types: ${supported.join(", ")}`,
    });
  }
  return details;
}

function checkCodeSizes(view: LooseView): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const node of view.nodes) {
    // Three bytes per UTF-16 unit is the most UTF-8 can take, so short code needs no encoding.
    if (node.code === undefined || node.code.length * 3 <= LIMITS.nodeCodeBytes) continue;
    const bytes = utf8Bytes(node.code);
    if (bytes <= LIMITS.nodeCodeBytes) continue;
    details.push({
      path: `nodes[${node.index}].code`,
      message: `${nodeLabel(node)} has ${bytes.toLocaleString("en-US")} bytes of code; the limit is ${kib(LIMITS.nodeCodeBytes)}`,
    });
  }
  return details;
}

// ---- schema issues as details ------------------------------------------------------------------

/** `nodes[3].retry.count`, `params["odd key"]`: how a person (and the editor) names a field. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let path = "";
  for (const segment of segments) {
    if (typeof segment === "number") path += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z0-9_-]+$/.test(segment)) path += path ? `.${segment}` : segment;
    else path += `[${JSON.stringify(String(segment))}]`;
  }
  return path;
}

/** The rule behind a field, added where zod's own wording ("must be at least 1") leaves it unsaid. */
const FIELD_RULES = new Map([
  ["policy.maxParallel", `maxParallel is null for unlimited, or 1 to ${MAX_PARALLEL}`],
  ["policy.resourceGroup", "a resource group name is 1-64 letters, digits, _ or -"],
  ["policy.priority", `priority is one of ${PRIORITY_LEVELS.join(", ")}`],
  ["nodes[].priority", `priority is one of ${PRIORITY_LEVELS.join(", ")}`],
]);

/** The fields an object accepts, so "has no field 'priorty'" can show the right spelling. */
function knownFields(segments: readonly PropertyKey[]): string[] | undefined {
  const shape = (schema: { shape: object }) => Object.keys(schema.shape);
  const [first, second, third, fourth] = segments;
  if (segments.length === 0) return shape(DefinitionSchema);
  if (first === "policy" && segments.length === 1) return shape(PolicySchema);
  if (first === "edges" && typeof second === "number" && segments.length === 2) return shape(EdgeSchema);
  if (first === "nodes" && typeof second === "number") {
    if (segments.length === 2) return shape(NodeSchema);
    if (third === "retry" && fourth === undefined) return shape(RetryPolicySchema);
  }
  return undefined;
}

const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);
const kindOf = (value: unknown) =>
  value === null ? "null" : Array.isArray(value) ? "an array" : article(typeof value);
const count = (n: number | bigint, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** Per-parse error map: wording for the issues whose schema gives no message of its own. */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return issue.expected === "int" ? "must be a whole number" : `must be ${article(issue.expected)}, not ${kindOf(issue.input)}`;
    case "too_small":
      if (issue.origin === "string") return issue.minimum === 1 ? "must not be empty" : `must be at least ${count(issue.minimum, "character")}`;
      if (issue.origin === "array") return `must have at least ${count(issue.minimum, "item")}`;
      return issue.inclusive === false ? `must be greater than ${issue.minimum}` : `must be at least ${issue.minimum}`;
    case "too_big":
      if (issue.origin === "string") return `must be at most ${count(issue.maximum, "character")}`;
      if (issue.origin === "array") return `must have at most ${count(issue.maximum, "item")}`;
      return issue.inclusive === false ? `must be less than ${issue.maximum}` : `must be at most ${issue.maximum}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      return issue.pattern ? `must match ${issue.pattern}` : `must be a valid ${issue.format}`;
    default:
      return undefined;
  }
}

/** One detail per field: an empty name also fails the name's pattern, and saying so twice is noise. */
function schemaDetails(issues: readonly z.core.$ZodIssue[], view: LooseView): ErrorDetail[] {
  const seen = new Set<string>();
  return issues.flatMap((issue) => {
    const key = issue.code === "unrecognized_keys" ? `${formatPath(issue.path)}{}` : formatPath(issue.path);
    if (seen.has(key)) return [];
    seen.add(key);
    return toDetails(issue, view);
  });
}

function toDetails(issue: z.core.$ZodIssue, view: LooseView): ErrorDetail[] {
  const path = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const owner = path || "the definition";
    const fields = knownFields(issue.path);
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message: `${owner} has no field '${key}'${fields ? `; its fields are ${fields.join(", ")}` : ""}`,
    }));
  }
  let message = issue.message;
  // A bad record key reports "Invalid key in record"; the key's own issue says which rule it broke.
  if (issue.code === "invalid_key") message = issue.issues[0]?.message ?? message;
  // Custom messages (priority levels, time zones) already state their rule.
  const rule = issue.code === "custom" ? undefined : FIELD_RULES.get(path.replace(/\[\d+\]/g, "[]"));
  if (rule) message = issue.code === "invalid_format" ? `has an invalid format (${rule})` : `${message} (${rule})`;

  // Name the node as well as its index: "nodes[3].priority (node 'load')" is what a person looks for.
  const [first, index] = issue.path;
  const node = first === "nodes" && typeof index === "number" ? view.nodes[index] : undefined;
  const where = path ? (node?.name !== undefined ? `${path} (node '${node.name}')` : path) : "the definition";
  return [{ ...(path ? { path } : {}), message: `${where}: ${message}` }];
}
