// Reference scenario 1 and a Python node on the real stack: wrangler dev + a runner running bash and python3.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../scripts/stack.ts";
import { client } from "./client.ts";

let stack: Stack;
let persistTo: string;

beforeAll(async () => {
  persistTo = mkdtempSync(join(tmpdir(), "sluice-e2e-"));
  stack = await startStack({ quiet: true, persistTo, runners: [{ name: "e2e-runner", slots: 4 }] });
});

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

describe("manual runs on the real stack", () => {
  it("scenario 1: a dev run with run date 20260310 logs bizdate 20260309", async () => {
    const api = client(stack);
    const id = await api.createWorkflow({
      name: "hello_trigger_workflow",
      nodes: [{ name: "hello", type: "shell", code: 'echo "Hello, Trigger Workflow! Current time is ${bizdate}"' }],
    });
    const instanceId = await api.run(id, { env: "dev", runDate: "20260310" });
    const done = await api.finished(instanceId);
    expect(done.status).toBe("succeeded");
    expect(done.nodes[0]).toMatchObject({ name: "hello", status: "succeeded", exitCode: 0, attempt: 1 });
    expect(await api.log(instanceId, "hello")).toContain("Hello, Trigger Workflow! Current time is 20260309");
  });

  it("passes a Python node's outputs downstream and keeps hostile trigger values literal", async () => {
    const api = client(stack);
    rmSync("/tmp/sluice-pwned-e2e", { force: true });
    const hostile = `input/$(touch /tmp/sluice-pwned-e2e).csv'"\`x\``;
    const id = await api.createWorkflow({
      name: "python_then_shell",
      params: { target: "ods_orders" },
      nodes: [
        {
          name: "parse",
          type: "python",
          code: [
            "import os",
            "key = '${workflow.triggerMessage.key}'",
            "print(f'key={key} target=${workflow.target}')",
            "with open(os.environ['SLUICE_OUTPUT'], 'a') as f:",
            "    f.write('rows=42\\n')",
          ].join("\n"),
        },
        { name: "report", type: "shell", code: 'echo "rows: ${nodes.parse.outputs.rows} key: ${workflow.triggerMessage.key}"' },
      ],
      edges: [{ from: "parse", to: "report" }],
    });
    const instanceId = await api.run(id, { env: "dev", triggerMessage: { key: hostile } });
    const done = await api.finished(instanceId);
    expect(done.status).toBe("succeeded");
    expect(await api.log(instanceId, "parse")).toContain(`key=${hostile} target=ods_orders`);
    expect(await api.log(instanceId, "report")).toContain(`rows: 42 key: ${hostile}`);
    const { existsSync } = await import("node:fs");
    expect(existsSync("/tmp/sluice-pwned-e2e")).toBe(false);
  });

  it("fails a node whose command fails and skips what depends on it", async () => {
    const api = client(stack);
    const id = await api.createWorkflow({
      name: "failing_branch",
      nodes: [
        { name: "boom", type: "python", code: "raise SystemExit(3)" },
        { name: "after", type: "shell", code: "echo never" },
        { name: "other", type: "shell", code: "echo independent" },
      ],
      edges: [{ from: "boom", to: "after" }],
    });
    const done = await api.finished(await api.run(id, { env: "dev" }));
    const byName = Object.fromEntries(done.nodes.map((n: { name: string }) => [n.name, n]));
    expect(done.status).toBe("failed");
    expect(byName.boom).toMatchObject({ status: "failed", exitCode: 3 });
    expect(byName.after.status).toBe("skipped");
    expect(byName.other.status).toBe("succeeded");
  });
});
