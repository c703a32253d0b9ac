import { describe, expect, it } from "vitest";
import { fixture } from "./testing.ts";
import { queueRecord } from "./queue-record.ts";

const meta = { id: "msg-1", timestamp: 1_773_207_645_000 };

describe("queue records", () => {
  it("maps a producer body {key, value} onto the record and keeps a string value as it is", () => {
    const body = fixture("queue-user-behavior.json");
    expect(queueRecord("user-behavior", body, meta)).toEqual({
      topic: "user-behavior",
      key: "some-key",
      value: '{"user_id": "1001", "action_type": "login", "timestamp": 1688888888}',
      headers: {},
      timestamp: meta.timestamp,
      id: "msg-1",
    });
  });

  it("turns a non-string value into JSON text and keeps string headers", () => {
    expect(queueRecord("t", { value: { a: 1 }, headers: { h: "v" } }, meta)).toMatchObject({ key: null, value: '{"a":1}', headers: { h: "v" } });
  });

  it("makes any other JSON body the value, as a JSON string", () => {
    expect(queueRecord("t", { user: 1 }, meta)).toMatchObject({ key: null, value: '{"user":1}' });
    expect(queueRecord("t", { key: "k", value: "v", extra: 1 }, meta).value).toBe('{"key":"k","value":"v","extra":1}');
    expect(queueRecord("t", { key: 42, value: "v" }, meta).value).toBe('{"key":42,"value":"v"}');
    expect(queueRecord("t", [1, 2], meta).value).toBe("[1,2]");
    expect(queueRecord("t", 7, meta).value).toBe("7");
  });

  it("keeps a string body as the value, even when it looks like JSON", () => {
    expect(queueRecord("t", "not json", meta).value).toBe("not json");
    expect(queueRecord("t", '{"key":"k"}', meta)).toMatchObject({ key: null, value: '{"key":"k"}' });
  });
});
