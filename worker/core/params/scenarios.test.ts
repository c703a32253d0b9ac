// DESIGN §7: the reference scenarios' node code, prepared here and run with real bash and python3.
import { describe, expect, it } from "vitest";
import { runClock } from "./dates.ts";
import { prepareNodeCode } from "./prepare.ts";
import { fixture } from "../triggers/testing.ts";
import { context, runPrepared } from "./testing.ts";


describe("scenario 1: a manual run with a run date", () => {
  it("prints bizdate as the day before the run date", () => {
    const clock = runClock({ runDate: "20260310", receivedAt: new Date("2026-05-01T08:00:00Z"), timezone: "UTC" });
    const code = 'echo "Hello, Trigger Workflow! Current time is ${bizdate}"';
    const ran = runPrepared("shell", prepareNodeCode("shell", code, context({ clock })));
    expect(ran).toEqual({ stdout: "Hello, Trigger Workflow! Current time is 20260309\n", stderr: "", status: 0 });
  });
});

describe("scenario 2: an R2 upload", () => {
  const notification = fixture("r2-put-object.json") as { object: { key: string }; eventTime: string };
  const envelope = {
    specversion: "1.0",
    id: "evt-1",
    source: "r2://uploads",
    type: "r2:ObjectCreated:PutObject",
    subject: notification.object.key,
    time: notification.eventTime,
    datacontenttype: "application/json",
    data: notification,
  };
  const code = [
    'echo "========= Start Processing R2 File ========="',
    'message="${workflow.triggerMessage}"',
    'echo "Raw Value: ${message}"',
    "",
    "# Extract the file path from the event message.",
    'FILE_PATH="${workflow.triggerMessage.data.object.key}"',
    'echo "A new file has arrived: ${FILE_PATH}"',
    'echo "========= Finish Processing R2 File ========="',
  ].join("\n");

  it("prints the raw message and the key, leaving the script's own variables alone", () => {
    const prepared = prepareNodeCode("shell", code, context({ triggerMessage: envelope }));
    expect(prepared).toMatchObject({ ok: true, script: expect.stringContaining('echo "A new file has arrived: ${FILE_PATH}"') });
    const ran = runPrepared("shell", prepared);
    expect(ran.stdout).toBe(
      [
        "========= Start Processing R2 File =========",
        `Raw Value: ${JSON.stringify(envelope)}`,
        "A new file has arrived: input/test_file_20260310.csv",
        "========= Finish Processing R2 File =========",
        "",
      ].join("\n"),
    );
    expect(ran.status).toBe(0);
  });

  it("fails before running, naming the reference, when the message has no key", () => {
    expect(prepareNodeCode("shell", code, context({ triggerMessage: {} }))).toEqual({
      ok: false,
      unresolved: ["${workflow.triggerMessage.data.object.key}"],
      message: "unresolved parameter reference ${workflow.triggerMessage.data.object.key} (the trigger message has no data)",
    });
  });
});

describe("scenario 3: a queue message whose value is JSON text", () => {
  const body = fixture("queue-user-behavior.json") as { key: string; value: string };
  const record = (value: string) => ({ topic: "user-behavior", key: body.key, value, headers: {}, timestamp: 1688888888000, id: "msg-1" });
  const code = `import json

# 1. Get the 'value' field from the queue message, which is a JSON-encoded string, via a built-in variable.
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
    raise e
`;

  it("parses the value and prints the user and action", () => {
    const ran = runPrepared("python", prepareNodeCode("python", code, context({ triggerMessage: record(body.value) })));
    expect(ran.stdout).toBe(
      [
        `Received raw message value string: ${body.value}`,
        "Successfully parsed message. User ID: 1001, Action: login",
        "Processing login action...",
        "",
      ].join("\n"),
    );
    expect(ran.status).toBe(0);
  });

  it("fails with the decode error when the value is not JSON", () => {
    const ran = runPrepared("python", prepareNodeCode("python", code, context({ triggerMessage: record("not json, it's 'quoted'") })));
    expect(ran.status).not.toBe(0);
    expect(ran.stdout).toContain("Error decoding JSON: Expecting value: line 1 column 1 (char 0)");
    expect(ran.stderr).toContain("json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)");
  });
});
