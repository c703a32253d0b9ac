import { describe, expect, it } from "vitest";
import type { WorkflowDefinition } from "./api/types.ts";
import { fieldMessage, mapErrors, nodeMessages } from "./validation-map.ts";
import { emptyDefinition } from "./workflow-doc.ts";

const node = (name: string) => ({ name, type: "shell", code: "", params: {}, timeoutSeconds: 60 });
const sent: WorkflowDefinition = {
  ...emptyDefinition("wf"),
  nodes: [node("extract"), node("load"), node("report")],
  edges: [{ from: "extract", to: "load" }, { from: "load", to: "extract" }],
};

describe("mapErrors", () => {
  it("puts a node detail on the node its index names, with the field inside it", () => {
    const mapped = mapErrors(
      [
        { path: "nodes[1].code", message: "nodes[1].code (node 'load'): unresolved parameter reference ${workflow.x}" },
        { path: "nodes[2].retry.count", message: "must be at most 10" },
        { path: "nodes[2]", message: "node 'report' is broken" },
      ],
      sent,
    );
    expect(mapped.nodes.get("load")).toEqual([{ field: "code", message: expect.stringContaining("${workflow.x}") }]);
    expect(mapped.nodes.get("report")!.map((e) => e.field)).toEqual(["retry.count", ""]);
    expect(fieldMessage(mapped, "report", "retry")).toBe("must be at most 10");
    expect(nodeMessages(mapped, "load")).toEqual(["code: unresolved parameter reference ${workflow.x}"]);
  });

  it("marks the edge that closes a cycle and both nodes it joins", () => {
    const mapped = mapErrors([{ path: "edges[1]", message: "the edges form a cycle: extract → load → extract" }], sent);
    expect(mapped.edges.get("load>extract")).toEqual(["the edges form a cycle: extract → load → extract"]);
    expect(nodeMessages(mapped, "extract")).toEqual(["the edges form a cycle: extract → load → extract"]);
    expect(nodeMessages(mapped, "load")).toHaveLength(1);
  });

  it("keeps workflow-level details and details whose index no longer exists at the workflow level", () => {
    const mapped = mapErrors(
      [
        { path: "policy.maxParallel", message: "must be at least 1" },
        { path: "nodes[9].code", message: "gone" },
        { message: "the definition is too large" },
      ],
      sent,
    );
    expect(mapped.workflow.map((e) => e.field)).toEqual(["policy.maxParallel", "nodes[9].code", ""]);
    expect(mapped.count).toBe(3);
  });

  it("reads a quoted param key in a node path", () => {
    const mapped = mapErrors([{ path: 'nodes[0].params["odd key"]', message: "bad name" }], sent);
    expect(mapped.nodes.get("extract")).toEqual([{ field: 'params["odd key"]', message: "bad name" }]);
  });
});
