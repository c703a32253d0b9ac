import { describe, expect, it } from "vitest";
import { execute, hasChanges, plan, type Workspace } from "../apply.ts";
import { ApiError } from "../api.ts";
import { fakeServer } from "./fake-server.ts";
import { FileError, type DefinitionFile, type Source } from "../files.ts";
import { definitionOf, formDiff, sameForm, triggerForm, triggerInputOf, workflowForm } from "../forms.ts";
import { parseDefinition } from "../../worker/core/validate.ts";
import { TriggerInputSchema } from "../../worker/core/triggers/config.ts";

const source = (file: string): Source => ({ file, doc: 1, docs: 1, line: () => 3 });
const workflowFile = (def: object, trigger: string | null = null): DefinitionFile => {
  const definition = parseDefinition(def);
  return { kind: "Workflow", name: definition.name, trigger, definition, source: source(`${definition.name}.yaml`) };
};
const triggerFile = (input: object): DefinitionFile => {
  const parsed = TriggerInputSchema.parse(input);
  return { kind: "Trigger", name: parsed.name, input: parsed, source: source(`${parsed.name}.yaml`) };
};
const HELLO = { name: "hello", nodes: [{ name: "a", type: "shell", code: "echo hi" }] };
const QUEUE = { name: "q", type: "queue", config: { queue: "user-behavior", key: "k" } };
/** A trigger as the API answers: its input with defaults plus the server's own fields. */
const remoteTrigger = (id: string, input: object) => ({ id, name: (input as { name: string }).name, record: { ...TriggerInputSchema.parse(input), id, paused: false, createdAt: "x", updatedAt: "x" } });
const empty: Workspace = { triggers: [], workflows: [] };

describe("apply's plan", () => {
  it("creates what the workspace lacks, triggers first, with a diff from nothing", () => {
    const steps = plan([workflowFile({ ...HELLO, policy: {} }, "q"), triggerFile(QUEUE)], empty, true);
    expect(steps.map((s) => [s.kind, s.name, s.action])).toEqual([["Trigger", "q", "create"], ["Workflow", "hello", "create"]]);
    expect(steps[1]!.kind === "Workflow" && steps[1]!.publish).toBe(true);
    expect(steps[1]!.diff).toContain("+  trigger: q");
    expect(steps[0]!.diff).toMatch(/^--- \/dev\/null/);
  });

  it("is unchanged when the workspace holds the same definitions, whatever their key order or filled defaults", () => {
    const ws: Workspace = {
      triggers: [remoteTrigger("trg_1", QUEUE)],
      workflows: [{ id: "wf_1", name: "hello", publishedVersion: 1, draft: definitionOf({ ...HELLO, policy: { triggerId: "trg_1" } }), published: definitionOf({ ...HELLO, policy: { triggerId: "trg_1" } }) }],
    };
    const steps = plan([triggerFile({ config: QUEUE.config, type: "queue", name: "q" }), workflowFile(HELLO, "q")], ws, true);
    expect(steps.map((s) => s.action)).toEqual(["unchanged", "unchanged"]);
    expect(hasChanges(steps)).toBe(false);
  });

  it("updates a changed draft and publishes only when the draft differs from the published version", () => {
    const changed = { ...HELLO, nodes: [{ name: "a", type: "shell", code: "echo bye" }] };
    const ws: Workspace = { triggers: [], workflows: [{ id: "wf_1", name: "hello", publishedVersion: 1, draft: definitionOf(HELLO), published: definitionOf(HELLO) }] };
    const [step] = plan([workflowFile(changed)], ws, true);
    expect(step).toMatchObject({ action: "update", publish: true });
    expect(step!.diff).toContain("-    code: echo hi");
    expect(step!.diff).toContain("+    code: echo bye");
    // The draft already saved but not yet published: nothing to save, one publish to do.
    const saved: Workspace = { triggers: [], workflows: [{ id: "wf_1", name: "hello", publishedVersion: 1, draft: definitionOf(changed), published: definitionOf(HELLO) }] };
    const [again] = plan([workflowFile(changed)], saved, true);
    expect(again).toMatchObject({ action: "unchanged", publish: true });
    expect(hasChanges([again!])).toBe(true);
    expect(plan([workflowFile(changed)], saved, false)[0]).toMatchObject({ action: "unchanged", publish: false });
  });

  it("a file without ui leaves the editor's layout alone; a file with ui compares it", () => {
    const withUi = { ...HELLO, ui: { positions: { a: { x: 1, y: 2 } } } };
    const ws: Workspace = { triggers: [], workflows: [{ id: "wf_1", name: "hello", publishedVersion: null, draft: definitionOf(withUi) }] };
    expect(plan([workflowFile(HELLO)], ws, false)[0]!.action).toBe("unchanged");
    expect(plan([workflowFile({ ...HELLO, ui: { positions: { a: { x: 5, y: 2 } } } })], ws, false)[0]!.action).toBe("update");
  });

  it("refuses a trigger named nowhere and a trigger whose type would change, naming the file and path", () => {
    const ws: Workspace = { triggers: [remoteTrigger("trg_1", QUEUE)], workflows: [] };
    const run = () => plan([workflowFile(HELLO, "missing"), triggerFile({ name: "q", type: "webhook" })], ws, false);
    expect(run).toThrow(FileError);
    try {
      run();
    } catch (err) {
      expect((err as FileError).problems).toEqual([
        "q.yaml:3: type: trigger 'q' is a queue trigger in the workspace; a trigger's type cannot change (delete it first)",
        "hello.yaml:3: policy.trigger: no trigger named 'missing' in the workspace or in the files",
      ]);
    }
  });

  it("refuses to apply by a name the workspace holds twice", () => {
    const ws: Workspace = { triggers: [], workflows: [{ id: "wf_1", name: "hello", publishedVersion: null, draft: definitionOf(HELLO) }, { id: "wf_2", name: "hello", publishedVersion: null, draft: definitionOf(HELLO) }] };
    expect(() => plan([workflowFile(HELLO)], ws, false)).toThrow("the workspace has several workflows named 'hello'");
  });
});

describe("file forms", () => {
  it("a workflow's form names its trigger and has no triggerId; an export reads back equal", () => {
    const def = definitionOf({ ...HELLO, policy: { triggerId: "trg_1" } });
    const form = workflowForm(def, "q") as { policy: Record<string, unknown> };
    expect(form.policy.trigger).toBe("q");
    expect("triggerId" in form.policy).toBe(false);
    expect(sameForm(form, workflowForm(parseDefinition({ ...HELLO }), "q"))).toBe(true);
  });

  it("a trigger's form leaves out the server's fields", () => {
    const form = triggerForm(triggerInputOf(remoteTrigger("trg_1", QUEUE).record));
    expect(Object.keys(form)).toEqual(["kind", "name", "description", "type", "config", "filter", "dedup", "ordering", "batch", "debounce", "enabled"]);
  });

  it("sameForm ignores key order only", () => {
    expect(sameForm({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameForm({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });

  it("diffs as YAML lines", () => {
    expect(formDiff("w", { kind: "Workflow", name: "a" }, { kind: "Workflow", name: "b" })).toContain("-name: a\n+name: b");
  });
});

describe("apply's execution", () => {
  /** Records calls and answers as the API would, ids made up; an ApiError answer is sent as the API's error body. */
  function recordingApi(answers: Record<string, unknown> = {}) {
    const { api, seen } = fakeServer(({ method, path }) => {
      const call = `${method} ${path}`;
      if (call in answers) return answers[call];
      return call === "POST /api/v1/triggers" ? { id: "trg_new" } : call === "POST /api/v1/workflows" ? { id: "wf_new" } : { version: 1 };
    });
    return { api, calls: seen };
  }

  it("creates the trigger first and gives its new id to the workflow, then publishes with the message", async () => {
    const { api, calls } = recordingApi();
    const steps = plan([workflowFile(HELLO, "q"), triggerFile(QUEUE)], empty, true);
    await execute(api, steps, "first", () => {});
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(["POST /api/v1/triggers", "POST /api/v1/workflows", "POST /api/v1/workflows/wf_new/publish"]);
    expect(calls[0]!.body).toMatchObject({ name: "q", type: "queue", config: { queue: "user-behavior", key: "k" } });
    expect(calls[1]!.body.policy.triggerId).toBe("trg_new");
    expect(calls[2]!.body).toEqual({ message: "first" });
    expect(calls.every((c) => c.headers.get("authorization") === "Bearer sk_test")).toBe(true);
  });

  it("keeps the editor's layout when the file has none, and skips unchanged workflows", async () => {
    const { api, calls } = recordingApi();
    const layout = { positions: { a: { x: 1, y: 2 } } };
    const ws: Workspace = {
      triggers: [],
      workflows: [
        { id: "wf_1", name: "hello", publishedVersion: null, draft: definitionOf({ ...HELLO, ui: layout }) },
        { id: "wf_2", name: "same", publishedVersion: null, draft: definitionOf({ ...HELLO, name: "same" }) },
      ],
    };
    await execute(api, plan([workflowFile({ ...HELLO, description: "new" }), workflowFile({ ...HELLO, name: "same" })], ws, false), "", () => {});
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(["PUT /api/v1/workflows/wf_1"]);
    expect(calls[0]!.body.ui).toEqual(layout);
  });

  it("a 400 from the API is located in the file; another refusal stays the API's", async () => {
    const bad = new ApiError(400, "invalid_definition", "x", [{ path: "policy.triggerId", message: "policy.triggerId: refused" }]);
    const { api } = recordingApi({ "POST /api/v1/workflows": bad });
    const run = execute(api, plan([workflowFile(HELLO)], empty, false), "", () => {});
    await expect(run).rejects.toThrow(new FileError(["hello.yaml:3: policy.trigger: refused"]));
    const { api: api2 } = recordingApi({ "POST /api/v1/workflows": new ApiError(403, "forbidden", "read-only key", []) });
    await expect(execute(api2, plan([workflowFile(HELLO)], empty, false), "", () => {})).rejects.toThrow("hello.yaml: workflow 'hello': read-only key");
  });
});
