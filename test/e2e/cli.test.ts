// The sluice CLI as a user runs it, against the real stack: apply the examples, run, follow, export, errors.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startStack, type Stack } from "../../scripts/stack.ts";

let stack: Stack;
let persistTo: string;
let work: string;

beforeAll(async () => {
  persistTo = mkdtempSync(join(tmpdir(), "sluice-e2e-cli-"));
  work = mkdtempSync(join(tmpdir(), "sluice-e2e-cli-files-"));
  stack = await startStack({ quiet: true, persistTo, runners: [{ name: "e2e-cli-runner", slots: 2 }] });
});

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** `sluice …` from the repository root, as `npx sluice` runs it (cli/bin.mjs), with the key in the environment. */
function sluice(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return sluiceWith({ SLUICE_URL: stack.url, SLUICE_KEY: stack.adminToken }, ...args);
}

function sluiceWith(connection: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { SLUICE_URL: _u, SLUICE_KEY: _k, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "cli/bin.mjs"), ...args], {
      cwd: ROOT,
      env: { ...inherited, ...connection, XDG_CONFIG_HOME: work, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const file = (name: string, text: string) => {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
};

describe("sluice apply, run, export on the real stack", () => {
  it("applies the examples and publishes them; the same files again change nothing", async () => {
    const first = await sluice("apply", "-f", "examples/", "--publish", "-m", "from the examples");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("+name: r2_new_file_trigger");
    for (const name of ["hello_trigger_workflow", "process_r2_file_workflow", "handle_user_action_workflow"]) {
      expect(first.stdout).toMatch(new RegExp(`workflow ${name} \\(wf_\\w+\\): created, published as version 1`));
    }
    const second = await sluice("apply", "-f", "examples/", "--publish");
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("no changes");
    expect(second.stdout).not.toMatch(/created|updated|published/);
  });

  it("runs scenario 1 in dev, following it live, and exits 0 with the greeting in its log", async () => {
    const run = await sluice("run", "hello_trigger_workflow", "--env", "dev", "--run-date", "20260310", "--follow");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("Hello, Trigger Workflow! Current time is 20260309");
    expect(run.stderr).toMatch(/hello: succeeded/);
    expect(run.stderr).toMatch(/instance \S+: succeeded/);
    expect(run.stderr).not.toContain("polling"); // followed over the live socket
  });

  it("exports every definition as files that apply reads back with no change", async () => {
    const dir = join(work, "export");
    const exported = await sluice("export", "--dir", dir);
    expect(exported.code, exported.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([
      "handle_user_action_workflow.workflow.yaml",
      "hello_trigger_workflow.workflow.yaml",
      "process_r2_file_workflow.workflow.yaml",
      "r2_new_file_trigger.trigger.yaml",
      "user_action_trigger.trigger.yaml",
    ]);
    const again = await sluice("apply", "-f", dir, "--publish");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("no changes");
  });

  it("shows a diff for a changed draft, applies it, and publishes only what differs from the published version", async () => {
    const path = file("hello.yaml", 'kind: Workflow\nname: hello_trigger_workflow\nnodes:\n  - name: hello\n    type: shell\n    code: echo "Hello again ${bizdate}"\n');
    const dry = await sluice("apply", "-f", path, "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('-    code: echo "Hello, Trigger Workflow! Current time is ${bizdate}"');
    expect(dry.stdout).toContain('+    code: echo "Hello again ${bizdate}"');
    expect(dry.stdout).toContain("dry run: nothing was changed");
    const applied = await sluice("apply", "-f", path, "--publish", "-m", "again");
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/workflow hello_trigger_workflow \(wf_\w+\): updated, published as version 2/);
    expect((await sluice("apply", "-f", path, "--publish")).stdout).toContain("no changes");
  });

  it("a run that fails exits 1 with the failing node's log", async () => {
    const path = file("failing.yaml", 'kind: Workflow\nname: failing_workflow\nnodes:\n  - name: boom\n    type: shell\n    code: |\n      echo "about to fail"\n      exit 3\n');
    expect((await sluice("apply", "-f", path)).code).toBe(0);
    const run = await sluice("run", "failing_workflow", "--env", "dev", "--follow");
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("about to fail");
    expect(run.stderr).toMatch(/instance \S+: failed/);
  });

  it("scenario 3 through the CLI: send a message, the trigger's event and the run's log", async () => {
    const sent = await sluice("send", "user-behavior", "--key", "some-key", "--value", '{"user_id": "1001", "action_type": "login", "timestamp": 1688888888}');
    expect(sent.code, sent.stderr).toBe(0);
    let instances: any[] = [];
    for (let i = 0; i < 150 && !instances.some((x) => x.status === "succeeded"); i++) {
      await new Promise((r) => setTimeout(r, 200));
      instances = JSON.parse((await sluice("--json", "instances", "--workflow", "handle_user_action_workflow")).stdout);
    }
    expect(instances.map((x) => x.status)).toEqual(["succeeded"]);
    const logs = await sluice("logs", instances[0].id, "--node", "parse");
    expect(logs.stdout).toContain("User ID: 1001, Action: login");
    const events = await sluice("--json", "events", "user_action_trigger");
    expect(JSON.parse(events.stdout).map((e: any) => e.outcome)).toEqual(["started"]);
  });
});

describe("operating through the CLI", () => {
  /** Polls `sluice --json instances` until `done` (bounded by the test timeout). */
  async function instancesUntil(workflow: string, done: (list: any[]) => boolean): Promise<any[]> {
    for (;;) {
      const list = JSON.parse((await sluice("--json", "instances", "--workflow", workflow)).stdout);
      if (done(list)) return list;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it("scenario 2: upload starts one run; the event log, replay, rerun and logs -f", async () => {
    const csv = file("orders.csv", "order_id,amount\n1,9.99\n");
    const up = await sluice("upload", "uploads", "input/test_file_20260310.csv", csv, "--content-type", "text/csv");
    expect(up.code, up.stderr).toBe(0);
    const [run] = await instancesUntil("process_r2_file_workflow", (l) => l.some((i) => i.status === "succeeded"));
    const followed = await sluice("logs", run.id, "-f");
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toContain("A new file has arrived: input/test_file_20260310.csv");

    const events = JSON.parse((await sluice("--json", "events", "r2_new_file_trigger")).stdout);
    expect(events.map((e: any) => e.outcome)).toEqual(["started"]);
    const replayed = await sluice("replay", "r2_new_file_trigger", events[0].id);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toMatch(/replayed as \S+: started/);
    await instancesUntil("process_r2_file_workflow", (l) => l.length === 2 && l.every((i) => i.status === "succeeded"));

    const rerun = await sluice("rerun", run.id, "--mode", "all");
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = await sluice("logs", run.id, "--follow", "--node", "print_key");
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain("A new file has arrived: input/test_file_20260310.csv");
  });

  it("trigger test says whether a sample matches (exit 1 when it does not)", async () => {
    const other = file("other.json", JSON.stringify({ key: "other-key", value: "{}" }));
    const miss = await sluice("trigger", "test", "user_action_trigger", "--message", `@${other}`);
    expect(miss.code).toBe(1);
    expect(miss.stdout).toContain("does not match: key_mismatch");
    const hit = await sluice("trigger", "test", "user_action_trigger", "--message", JSON.stringify({ key: "some-key", value: '{"user_id": "7"}' }));
    expect(hit.code, hit.stderr).toBe(0);
    expect(hit.stdout).toContain("workflow handle_user_action_workflow v1: would start");
  });

  it("login saves the connection (mode 0600) that later commands use without SLUICE_URL/SLUICE_KEY", async () => {
    const wrong = await sluiceWith({}, "login", "--url", stack.url, "--key", "not-a-key");
    expect(wrong.code).toBe(1); // a wrong key is said at login, and nothing is saved
    expect(existsSync(join(work, "sluice", "config.json"))).toBe(false);
    const login = await sluiceWith({}, "login", "--url", stack.url, "--key", stack.adminToken);
    expect(login.code, login.stderr).toBe(0);
    expect(statSync(join(work, "sluice", "config.json")).mode & 0o777).toBe(0o600);
    const list = await sluiceWith({}, "--json", "workflows");
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((w: any) => w.name)).toContain("hello_trigger_workflow");
  });

  it("an API refusal exits 1 with the API's message", async () => {
    const res = await sluice("terminate", "ins_does_not_exist");
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/ins_does_not_exist was not found \(404 not_found\)/);
  });
});

describe("sluice apply refuses bad files before changing anything", () => {
  it("names the file, the line, the path in it and the problem; exit 2", async () => {
    const path = file("bad.yaml", "kind: Workflow\nname: bad_workflow\npolicy:\n  trigger: r2_new_file_trigger\nnodes:\n  - name: a\n    type: shell\n    priority: 4\n");
    const res = await sluice("apply", "-f", path);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${path}:8: nodes[0].priority (node 'a'): priority must be one of 1, 3, 5, 7, 8`);
    const list = await sluice("--json", "workflows");
    expect(JSON.parse(list.stdout).map((w: any) => w.name)).not.toContain("bad_workflow");
  });

  it("an unknown trigger name and the API's own 400 are pointed at the file the same way", async () => {
    const unknown = file("unknown.yaml", "kind: Workflow\nname: orphan\npolicy:\n  trigger: no_such_trigger\nnodes:\n  - name: a\n    type: shell\n");
    const a = await sluice("apply", "-f", unknown);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain(`${unknown}:4: policy.trigger: no trigger named 'no_such_trigger' in the workspace or in the files`);
    // Whether a queue is consumed is the Worker's to say: its 400 comes back located in the file.
    const queue = file("queue.yaml", "kind: Trigger\nname: ghost_queue_trigger\ntype: queue\nconfig:\n  queue: no-such-queue\n");
    const b = await sluice("apply", "-f", queue);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`${queue}:5: config.queue: this Worker consumes no queue named 'no-such-queue'`);
  });
});

describe("the JSON Schemas of definition files", () => {
  it("are served without a key and describe kind and policy.trigger", async () => {
    const workflow = (await (await fetch(`${stack.url}/api/v1/schemas/workflow.json`)).json()) as any;
    expect(workflow.required).toContain("kind");
    expect(workflow.properties.policy.properties.trigger).toBeDefined();
    expect(workflow.properties.policy.properties.triggerId).toBeUndefined();
    const trigger = await fetch(`${stack.url}/api/v1/schemas/trigger.json`);
    expect(trigger.status).toBe(200);
    const doc = (await (await fetch(`${stack.url}/api/v1/openapi.json`)).json()) as any;
    expect(doc.paths["/api/v1/schemas/workflow.json"].get.security).toEqual([]);
    expect(((await trigger.json()) as any).oneOf.map((b: any) => b.properties.type.const)).toEqual(["r2", "queue", "webhook"]);
  });
});
