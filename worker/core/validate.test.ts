// Tests for definition validation: every rule of DESIGN §2.2 and the message a person sees for it.
import { describe, expect, it, vi } from "vitest";
import { SluiceError, type ErrorDetail } from "./errors.ts";
import { checkReferences } from "./params/index.ts";
import { formatPath, parseDefinition } from "./validate.ts";

// Spy, not stub: the real reference checker runs; the spy shows when validation calls it.
vi.mock("./params/index.ts", { spy: true });

type Input = Record<string, unknown> & { nodes?: unknown[]; edges?: unknown[] };

const workflow = (overrides: Input = {}): Input => ({
  name: "orders",
  nodes: [
    { name: "a", type: "shell", code: "echo a" },
    { name: "b", type: "python", code: "print('b')" },
    { name: "c", type: "noop" },
  ],
  edges: [
    { from: "a", to: "b" },
    { from: "b", to: "c" },
  ],
  ...overrides,
});

const rejection = (input: unknown): SluiceError => {
  try {
    parseDefinition(input);
  } catch (error) {
    if (error instanceof SluiceError) return error;
    throw error;
  }
  throw new Error("expected the definition to be rejected");
};
const problems = (input: unknown): ErrorDetail[] => rejection(input).details;

describe("parseDefinition accepts", () => {
  it("a minimal definition, filling every default", () => {
    expect(parseDefinition({ name: "wf", nodes: [{ name: "only", type: "shell" }] })).toEqual({
      name: "wf",
      description: "",
      params: {},
      policy: { priority: 5, weighting: "none", maxParallel: null, triggerId: null, timezone: "UTC", resourceGroup: "default", concurrency: null, overlap: "queue", waitingTimeoutSeconds: null, share: 1, alerts: [] },
      nodes: [{ name: "only", type: "shell", code: "", params: {}, timeoutSeconds: 3600 }],
      edges: [],
    });
  });

  it("maxParallel at both ends of its range and null for unlimited", () => {
    for (const maxParallel of [1, 100_000, null]) {
      expect(parseDefinition(workflow({ policy: { maxParallel } })).policy.maxParallel).toBe(maxParallel);
    }
  });

  it("every priority level and an IANA time zone", () => {
    for (const priority of [1, 3, 5, 7, 8]) {
      expect(parseDefinition(workflow({ policy: { priority, timezone: "Asia/Shanghai" } })).policy.priority).toBe(priority);
    }
  });

  it("exactly 400 nodes", () => {
    const nodes = Array.from({ length: 400 }, (_, i) => ({ name: `n${i}`, type: "noop" }));
    expect(parseDefinition({ name: "big", nodes }).nodes).toHaveLength(400);
  });

  it("node names that are Object.prototype properties", () => {
    const def = parseDefinition({
      name: "wf",
      nodes: [{ name: "constructor", type: "noop" }, { name: "toString", type: "noop" }],
      edges: [{ from: "constructor", to: "toString" }],
    });
    expect(def.nodes.map((n) => n.name)).toEqual(["constructor", "toString"]);
  });
});

describe("parseDefinition rejects", () => {
  it("with a 400 validation_failed error whose message is the problem when there is one", () => {
    const error = rejection(workflow({ policy: { priority: 4 } }));
    expect(error.status).toBe(400);
    expect(error.code).toBe("validation_failed");
    expect(error.message).toBe(error.details[0]!.message);
    expect(error.toJSON().error.details).toEqual(error.details);
  });

  it("a cycle, naming its nodes in order", () => {
    const input = workflow({ edges: [{ from: "a", to: "b" }, { from: "b", to: "c" }, { from: "c", to: "a" }] });
    expect(problems(input)).toEqual([{ path: "edges[2]", message: "the edges form a cycle: a → b → c → a" }]);
  });

  it("each independent cycle once", () => {
    const input = workflow({
      nodes: ["a", "b", "c", "d"].map((name) => ({ name, type: "noop" })),
      edges: [{ from: "a", to: "b" }, { from: "b", to: "a" }, { from: "c", to: "d" }, { from: "d", to: "c" }],
    });
    expect(problems(input).map((d) => d.message)).toEqual([
      "the edges form a cycle: a → b → a",
      "the edges form a cycle: c → d → c",
    ]);
  });

  it("more than 400 nodes, naming the limit, before any other check", () => {
    const nodes = Array.from({ length: 401 }, (_, i) => ({ name: `n${i}`, type: "flink-sql-streaming", priority: 4 }));
    expect(problems({ name: "big", nodes })).toEqual([{ path: "nodes", message: "a workflow has at most 400 nodes; this one has 401" }]);
  });

  it("a huge node list by its length alone, before looking at any node", () => {
    const nodes = Array.from({ length: 200_000 }, () => ({}));
    expect(problems({ name: "huge", nodes })[0]?.message).toBe("a workflow has at most 400 nodes; this one has 200000");
  });

  it("a streaming node type, naming it and why", () => {
    const input = workflow({ nodes: [{ name: "x", type: "flink-sql-streaming" }], edges: [] });
    expect(problems(input)).toEqual([
      {
        path: "nodes[0].type",
        message:
          "node 'x' has type flink-sql-streaming, which cannot run in a triggered workflow (streaming and dependency-check nodes only run as independent nodes)",
      },
    ]);
  });

  it("every trigger-incompatible type", () => {
    const types = ["emr-spark-streaming", "flink-sql-streaming", "flink-jar-streaming", "flink-python-streaming", "dependency-check"];
    const details = problems(workflow({ nodes: types.map((type, i) => ({ name: `n${i}`, type })), edges: [] }));
    expect(details.map((d) => d.path)).toEqual(types.map((_, i) => `nodes[${i}].type`));
    for (const [i, type] of types.entries()) expect(details[i]!.message).toContain(`has type ${type}, which cannot run in a triggered workflow`);
  });

  it("an unknown type, listing the supported ones", () => {
    const input = workflow({ nodes: [{ name: "x", type: "foo" }], edges: [] });
    expect(problems(input)).toEqual([{ path: "nodes[0].type", message: "node 'x' has unknown type 'foo'; supported types: shell, python, http, noop, branch, merge" }]);
  });

  it("duplicate node names, naming the name and both places", () => {
    const input = workflow({ nodes: [{ name: "a", type: "shell" }, { name: "b", type: "shell" }, { name: "a", type: "noop" }], edges: [] });
    expect(problems(input)).toEqual([
      { path: "nodes[2].name", message: "node name 'a' is used by nodes[0] and nodes[2]; node names must be unique" },
    ]);
  });

  it("edges to unknown nodes, naming the edge and the missing node", () => {
    const input = workflow({ edges: [{ from: "a", to: "zz" }, { from: "ghost", to: "b" }] });
    expect(problems(input)).toEqual([
      { path: "edges[0].to", message: "edge a → zz refers to unknown node 'zz'" },
      { path: "edges[1].from", message: "edge ghost → b refers to unknown node 'ghost'" },
    ]);
  });

  it("a duplicate edge", () => {
    const input = workflow({ edges: [{ from: "a", to: "b" }, { from: "b", to: "c" }, { from: "a", to: "b" }] });
    expect(problems(input)).toEqual([{ path: "edges[2]", message: "edge a → b is listed twice (edges[0] and edges[2])" }]);
  });

  it("a self-edge", () => {
    const input = workflow({ edges: [{ from: "a", to: "a" }] });
    expect(problems(input)).toEqual([{ path: "edges[0]", message: "edge a → a connects node 'a' to itself" }]);
  });

  it("workflow priority 4, listing the levels", () => {
    expect(problems(workflow({ policy: { priority: 4 } }))).toEqual([
      { path: "policy.priority", message: "policy.priority: priority must be one of 1, 3, 5, 7, 8 (higher runs first)" },
    ]);
  });

  it("node priority 4, naming the node", () => {
    const input = workflow({ nodes: [{ name: "load", type: "shell", priority: 4 }], edges: [] });
    expect(problems(input)).toEqual([
      { path: "nodes[0].priority", message: "nodes[0].priority (node 'load'): priority must be one of 1, 3, 5, 7, 8 (higher runs first)" },
    ]);
  });

  it("maxParallel 0 and 100001, stating the range", () => {
    expect(problems(workflow({ policy: { maxParallel: 0 } }))).toEqual([
      { path: "policy.maxParallel", message: "policy.maxParallel: must be at least 1 (maxParallel is null for unlimited, or 1 to 100000)" },
    ]);
    expect(problems(workflow({ policy: { maxParallel: 100_001 } }))).toEqual([
      { path: "policy.maxParallel", message: "policy.maxParallel: must be at most 100000 (maxParallel is null for unlimited, or 1 to 100000)" },
    ]);
  });

  it("a time zone that is not an IANA name", () => {
    expect(problems(workflow({ policy: { timezone: "Mars/Olympus" } }))).toEqual([
      { path: "policy.timezone", message: "policy.timezone: timezone must be an IANA time zone name such as UTC or Asia/Shanghai" },
    ]);
  });

  it("node code over 64 KiB, counting UTF-8 bytes", () => {
    const code = "é".repeat(40_000); // 40,000 characters, 80,000 bytes
    expect(problems(workflow({ nodes: [{ name: "big", type: "shell", code }], edges: [] }))).toEqual([
      { path: "nodes[0].code", message: "node 'big' has 80,000 bytes of code; the limit is 65,536 bytes (64 KiB)" },
    ]);
  });

  it("a definition over 1 MiB as JSON, naming the limit", () => {
    const nodes = Array.from({ length: 20 }, (_, i) => ({ name: `n${i}`, type: "shell", code: "x".repeat(60_000) }));
    const details = problems({ name: "wf", nodes });
    expect(details).toHaveLength(1);
    expect(details[0]!.message).toMatch(/^the definition is 1,200,\d{3} bytes as JSON; the limit is 1,048,576 bytes \(1024 KiB\)$/);
  });

  it("unknown fields, suggesting the known ones", () => {
    expect(problems(workflow({ policy: { priorty: 5 } }))).toEqual([
      {
        path: "policy.priorty",
        message: "policy has no field 'priorty'; its fields are priority, weighting, maxParallel, triggerId, timezone, resourceGroup, concurrency, overlap, waitingTimeoutSeconds, share, alerts",
      },
    ]);
  });

  it("a missing name and a non-object node, in plain words", () => {
    const input = { nodes: [{ name: "a", type: "shell" }, 5] };
    expect(problems(input)).toEqual([
      { path: "name", message: "name: is required" },
      { path: "nodes[1]", message: "nodes[1]: must be an object, not a number" },
    ]);
  });

  it("a definition that is not an object", () => {
    expect(problems(null)).toEqual([{ message: "the definition: must be an object, not null" }]);
  });

  it("a workflow without nodes", () => {
    expect(problems({ name: "wf", nodes: [] })).toEqual([{ path: "nodes", message: "nodes: a workflow needs at least one node" }]);
  });

  it("a parameter name that breaks the naming rule", () => {
    expect(problems(workflow({ params: { "1st": "x" } }))).toEqual([
      { path: "params.1st", message: "params.1st: parameter names are letters, digits and _ and start with a letter or _" },
    ]);
  });

  it("every problem together, in one error", () => {
    const error = rejection({
      name: "wf",
      policy: { priority: 4, maxParallel: 0 },
      nodes: [
        { name: "a", type: "shell" },
        { name: "b", type: "flink-sql-streaming" },
        { name: "c", type: "foo" },
        { name: "a", type: "noop" },
      ],
      edges: [{ from: "a", to: "b" }, { from: "b", to: "a" }, { from: "c", to: "zz" }],
    });
    expect(error.details.map((d) => d.path)).toEqual([
      "policy.priority",
      "policy.maxParallel",
      "nodes[3].name",
      "edges[2].to",
      "edges[1]",
      "nodes[1].type",
      "nodes[2].type",
    ]);
    expect(error.message).toBe(`7 problems in the workflow definition: ${error.details[0]!.message} …`);
  });
});

describe("parameter references", () => {
  it("are checked on a sound graph, against each node's ancestors", () => {
    vi.mocked(checkReferences).mockClear();
    parseDefinition(workflow());
    expect(checkReferences).toHaveBeenCalledTimes(1);
    const [def, ancestorsOf] = vi.mocked(checkReferences).mock.calls[0]!;
    expect(def.name).toBe("orders");
    expect([...ancestorsOf("c")]).toEqual(["a", "b"]);
  });

  it("are not checked when the graph is broken, since ancestors are then undefined", () => {
    vi.mocked(checkReferences).mockClear();
    problems(workflow({ edges: [{ from: "a", to: "b" }, { from: "b", to: "a" }] }));
    expect(checkReferences).not.toHaveBeenCalled();
  });

  it("reject an output of a node that is not upstream", () => {
    const input = workflow({
      nodes: [
        { name: "first", type: "shell", code: "echo ${nodes.later.outputs.x}" },
        { name: "later", type: "shell", code: "echo x=1 >> $SLUICE_OUTPUT" },
      ],
      edges: [],
    });
    const details = problems(input);
    expect(details).toHaveLength(1);
    expect(details[0]!.path).toBe("nodes[0].code");
    expect(details[0]!.message).toContain("${nodes.later.outputs.x}");
  });
});

describe("formatPath", () => {
  it("writes indices in brackets and odd keys quoted", () => {
    expect(formatPath(["nodes", 3, "retry", "count"])).toBe("nodes[3].retry.count");
    expect(formatPath(["params", "a b"])).toBe('params["a b"]');
    expect(formatPath([])).toBe("");
  });
});
