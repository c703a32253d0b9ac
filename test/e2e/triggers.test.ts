// Reference scenarios 2 (R2) and 3 (queue) on the real stack, plus hostile trigger data in bash and Python.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../scripts/stack.ts";
import { client } from "./client.ts";

let stack: Stack;
let persistTo: string;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  persistTo = mkdtempSync(join(tmpdir(), "sluice-e2e-triggers-"));
  stack = await startStack({ quiet: true, persistTo, runners: [{ name: "e2e-trigger-runner", slots: 4 }] });
  api = client(stack);
});

afterAll(async () => {
  await stack?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

// ---- helpers: queue consumers batch for up to a second under wrangler dev, so poll, bounded by the test timeout ----

/** The trigger's first logged event (the log lists newest first): it must say `started`, or the test fails at once with its detail. */
async function startedRun(triggerId: string, workflowId: string) {
  const events = await api.until(() => api.eventsOf(triggerId), (list) => list.length > 0, `an event on ${triggerId}`);
  const first = events.at(-1);
  expect(first, first.detail).toMatchObject({ outcome: "started" });
  const [run] = await api.until(() => api.instancesOf(workflowId), (list) => list.length > 0, `a run of ${workflowId}`);
  return run;
}

async function created(path: string, body: unknown): Promise<any> {
  const res = await api.call("POST", path, body);
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${res.text}`);
  return res.json;
}

/** The node code of DataWorks' OSS scenario, with R2's key path. */
const PRINT_KEY = [
  "# When a workflow is triggered, the event arrives as the built-in variable workflow.triggerMessage.",
  'echo "========= Start Processing R2 File ========="',
  'message="${workflow.triggerMessage}"',
  'echo "Raw Value: ${message}"',
  "",
  "# Extract the file path from the event message.",
  'FILE_PATH="${workflow.triggerMessage.data.object.key}"',
  'echo "A new file has arrived: ${FILE_PATH}"',
  'echo "========= Finish Processing R2 File ========="',
].join("\n");

/** The Python node of DataWorks' Kafka scenario ("Step 3"), unchanged. */
const PARSE_USER_ACTION = `import json

# 1. Get the 'value' field from the Kafka message, which is a JSON-encoded string, via a built-in variable.
message_value_str = '\${workflow.triggerMessage.value}'

print(f'Received raw message value string: {message_value_str}')

try:
    # 2. Parse the string into a Python dictionary.
    message_data = json.loads(message_value_str)
    
    user_id = message_data.get("user_id")
    action_type = message_data.get("action_type")
    print(f"Successfully parsed message. User ID: {user_id}, Action: {action_type}")
    
    # 3. Execute different business logic based on the action_type.
    if action_type == 'login':
        # o.run_sql(f"INSERT OVERWRITE TABLE user_login_record PARTITION(ds='{bizdate}') VALUES ('{user_id}');")
        print("Processing login action...")
    elif action_type == 'purchase':
        print("Processing purchase action...")
    else:
        print("Unknown action type.")
        
except json.JSONDecodeError as e:
    print(f"Error decoding JSON: {e}")
    # Add exception handling logic, such as writing the error message to a dedicated log table.
    raise e # Re-raise the exception to mark the node as failed, which helps with troubleshooting.
`;

const USER_BEHAVIOR = { key: "some-key", value: '{"user_id": "1001", "action_type": "login", "timestamp": 1688888888}' };

describe("reference scenario 2: R2 uploads on the real stack", () => {
  it("an upload of input/test_file_20260310.csv starts exactly one run that logs the message and the key; readme.txt starts nothing", async () => {
    const trigger = await created("/api/v1/triggers", { name: "r2_new_file_trigger", type: "r2", config: { bucket: "uploads", events: ["object-create"], keyPattern: "input/*.csv" } });
    const wf = await api.publishedWorkflow({ name: "process_r2_file_workflow", policy: { triggerId: trigger.id, maxParallel: 100 }, nodes: [{ name: "print_key", type: "shell", code: PRINT_KEY }] });

    await api.upload("input/test_file_20260310.csv", "order_id,amount\n1,9.99\n");
    const run = await startedRun(trigger.id, wf);
    const done = await api.finished(run.id);
    expect(done).toMatchObject({ status: "succeeded", triggerType: "r2", env: "prod", version: 1 });
    const log = await api.log(run.id, "print_key");
    expect(log).toContain("A new file has arrived: input/test_file_20260310.csv");
    expect(log).toContain(`Raw Value: ${JSON.stringify(done.triggerMessage)}`);
    expect(done.triggerMessage).toMatchObject({ specversion: "1.0", source: "r2://uploads", type: "r2:ObjectCreated:PutObject", subject: "input/test_file_20260310.csv" });

    // The same object again (same eTag): a repeated notification, as at-least-once delivery may bring.
    await api.upload("input/test_file_20260310.csv", "order_id,amount\n1,9.99\n");
    await api.upload("input/readme.txt", "not a csv");
    const events = await api.until(() => api.eventsOf(trigger.id), (list) => list.length >= 3);
    expect(events.map((e) => e.outcome).sort()).toEqual(["duplicate", "key_mismatch", "started"]);
    expect(events.find((e) => e.outcome === "key_mismatch").detail).toBe("key 'input/readme.txt' does not match input/*.csv");
    expect(await api.instancesOf(wf)).toHaveLength(1);
  });
});

describe("reference scenario 3: queue messages on the real stack", () => {
  it("a message with key some-key logs User ID: 1001, Action: login; another key starts nothing; a non-JSON value fails with the decode error", async () => {
    const trigger = await created("/api/v1/triggers", { name: "user_action_trigger", type: "queue", config: { queue: "user-behavior", key: "some-key" } });
    const wf = await api.publishedWorkflow({ name: "handle_user_action_workflow", policy: { triggerId: trigger.id, maxParallel: 100 }, nodes: [{ name: "parse", type: "python", code: PARSE_USER_ACTION }] });

    await api.send(USER_BEHAVIOR);
    const run = await startedRun(trigger.id, wf);
    const done = await api.finished(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.triggerMessage).toMatchObject({ topic: "user-behavior", key: "some-key", value: USER_BEHAVIOR.value, headers: {} });
    const log = await api.log(run.id, "parse");
    expect(log).toContain(`Received raw message value string: ${USER_BEHAVIOR.value}`);
    expect(log).toContain("User ID: 1001, Action: login");
    expect(log).toContain("Processing login action...");

    await api.send({ key: "other-key", value: USER_BEHAVIOR.value });
    await api.send({ key: "some-key", value: "not json {" });
    const runs = await api.until(() => api.instancesOf(wf), (list) => list.length >= 2);
    const broken = await api.finished(runs.find((r) => r.id !== run.id).id);
    expect(broken.status).toBe("failed");
    expect(await api.log(broken.id, "parse")).toContain("Error decoding JSON: Expecting value: line 1 column 1 (char 0)");
    const events = await api.until(() => api.eventsOf(trigger.id), (list) => list.length >= 3);
    expect(events.map((e) => e.outcome).sort()).toEqual(["key_mismatch", "started", "started"]);
    expect(await api.instancesOf(wf)).toHaveLength(2);
  });

  it("dedups repeated messages by a content template: three sends, one run", async () => {
    const trigger = await created("/api/v1/triggers", {
      name: "content_dedup_trigger",
      type: "queue",
      config: { queue: "user-behavior", key: "dedup-key" },
      dedup: { key: "${workflow.triggerMessage.key}/${workflow.triggerMessage.value}", windowSeconds: 3600 },
    });
    const wf = await api.publishedWorkflow({ name: "dedup_workflow", policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "shell", code: "echo once" }] });
    for (let i = 0; i < 3; i++) await api.send({ key: "dedup-key", value: "same payload" });
    const events = await api.until(() => api.eventsOf(trigger.id), (list) => list.length >= 3);
    expect(events.map((e) => e.outcome).sort()).toEqual(["duplicate", "duplicate", "started"]);
    expect(await api.instancesOf(wf)).toHaveLength(1);
  });
});

describe("untrusted trigger data on the real stack", () => {
  const marker = (name: string) => `/tmp/sluice-pwned-${name}-${process.pid}`;

  it("an object key with $(...), backticks, quotes, ''' and a newline reaches bash as a literal string", async () => {
    const pwned = marker("r2");
    rmSync(pwned, { force: true });
    const trigger = await created("/api/v1/triggers", { name: "hostile_r2_trigger", type: "r2", config: { bucket: "uploads", keyPattern: "hostile/**" } });
    const wf = await api.publishedWorkflow({ name: "hostile_r2_workflow", policy: { triggerId: trigger.id }, nodes: [{ name: "print_key", type: "shell", code: PRINT_KEY }] });
    const key = `hostile/$(touch ${pwned}) \`touch ${pwned}\` "q" 'q' ''' $HOME\nline2.csv`;
    await api.upload(key, "x");
    const run = await startedRun(trigger.id, wf);
    const done = await api.finished(run.id);
    expect(done.status).toBe("succeeded");
    expect(await api.log(run.id, "print_key")).toContain(`A new file has arrived: ${key}`);
    expect(existsSync(pwned)).toBe(false);
  });

  it("a message value with ''', quotes, backticks, $(...) and newlines reaches Python as a literal string", async () => {
    const pwned = marker("py");
    rmSync(pwned, { force: true });
    const trigger = await created("/api/v1/triggers", { name: "hostile_queue_trigger", type: "queue", config: { queue: "user-behavior", key: "hostile-key" } });
    const wf = await api.publishedWorkflow({
      name: "hostile_queue_workflow",
      policy: { triggerId: trigger.id },
      nodes: [
        { name: "py", type: "python", code: "value = '${workflow.triggerMessage.value}'\nprint('VALUE<' + value + '>')\nprint(f'''triple: ${workflow.triggerMessage.value}''')" },
        { name: "sh", type: "shell", code: "echo \"VALUE<${workflow.triggerMessage.value}>\"" },
      ],
    });
    const value = `''' + __import__('os').system('touch ${pwned}') + ''' """ \\" \`touch ${pwned}\` $(touch ${pwned}) \\n\nsecond line`;
    await api.send({ key: "hostile-key", value });
    const run = await startedRun(trigger.id, wf);
    const done = await api.finished(run.id);
    expect(done.status).toBe("succeeded");
    const pyLog = await api.log(run.id, "py");
    expect(pyLog).toContain(`VALUE<${value}>`);
    expect(pyLog).toContain(`triple: ${value}`);
    expect(await api.log(run.id, "sh")).toContain(`VALUE<${value}>`);
    expect(existsSync(pwned)).toBe(false);
  });
});

describe("signed webhooks on the real stack", () => {
  it("starts one run for a signed request, refuses a tampered one with 401 and ignores a replay", async () => {
    const { signWebhook } = await import("../../worker/core/triggers/webhook-signature.ts");
    const trigger = await created("/api/v1/triggers", { name: "orders_webhook", type: "webhook" });
    const wf = await api.publishedWorkflow({ name: "on_order", policy: { triggerId: trigger.id }, nodes: [{ name: "n", type: "shell", code: 'echo "order ${workflow.triggerMessage.order}"' }] });
    const body = JSON.stringify({ order: 42 });
    const headers = { "content-type": "application/json", ...signWebhook(trigger.secret, "msg_e2e_1", body) };
    const post = (b: string) => fetch(trigger.hookUrl, { method: "POST", headers, body: b });
    expect((await post(body.replace("42", "43"))).status).toBe(401);
    expect((await post(body)).status).toBe(202);
    expect((await post(body)).status).toBe(200);
    const run = await startedRun(trigger.id, wf);
    expect(await api.log((await api.finished(run.id)).id, "n")).toContain("order 42");
    expect(await api.instancesOf(wf)).toHaveLength(1);
  });
});
