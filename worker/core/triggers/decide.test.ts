import { describe, expect, it } from "vitest";
import { fixture } from "./testing.ts";
import { parseTriggerInput, type TriggerSpec } from "./config.ts";
import { coordinatorDedupKey, decide, defaultDedupKey, listensTo, noWorkflowVerdict, startVerdict, type TriggerEvent } from "./decide.ts";
import { queueRecord } from "./queue-record.ts";
import { cloudEvent, R2NotificationSchema } from "./r2.ts";

const at = Date.UTC(2026, 2, 11, 5, 40, 46);

function spec(input: Record<string, unknown>): TriggerSpec {
  return { id: "trg_1", paused: false, ...parseTriggerInput({ name: "t", ...input }, ["user-behavior"]) } as TriggerSpec;
}
const r2Event = (name: string, patch: Record<string, unknown> = {}): TriggerEvent => ({
  type: "r2",
  message: cloudEvent(R2NotificationSchema.parse({ ...fixture(name), ...patch }), "ce-1"),
  receivedAt: at,
});
const queueEvent = (body: unknown, id = "msg-1"): TriggerEvent => ({ type: "queue", message: queueRecord("user-behavior", body, { id, timestamp: at }), receivedAt: at });

const scenario2 = spec({ type: "r2", config: { bucket: "uploads", events: ["object-create"], keyPattern: "input/*.csv" } });
const scenario3 = spec({ type: "queue", config: { queue: "user-behavior", key: "some-key" } });

describe("trigger decisions", () => {
  it("scenario 2: a CSV under input/ starts, readme.txt is a key mismatch, a delete is filtered by event type", () => {
    expect(decide(scenario2, r2Event("r2-put-object.json"))).toEqual({
      start: true,
      dedupKey: "uploads/input/test_file_20260310.csv@c846ff7a18f28c2e262116d6e8719ef0",
      orderingKey: null,
    });
    expect(decide(scenario2, r2Event("r2-put-object.json", { object: { key: "input/readme.txt", size: 1, eTag: "e" } }))).toMatchObject({
      start: false,
      outcome: "key_mismatch",
      detail: "key 'input/readme.txt' does not match input/*.csv",
    });
    expect(decide(scenario2, r2Event("r2-delete-object.json"))).toMatchObject({ start: false, outcome: "filtered", detail: expect.stringMatching(/r2:ObjectDeleted:DeleteObject/) });
  });

  it("scenario 3: the exact key starts, another key or no key is a key mismatch", () => {
    expect(decide(scenario3, queueEvent(fixture("queue-user-behavior.json")))).toEqual({ start: true, dedupKey: "msg-1", orderingKey: null });
    expect(decide(scenario3, queueEvent({ key: "other-key", value: "x" }))).toMatchObject({ outcome: "key_mismatch", detail: "key 'other-key' is not 'some-key'" });
    expect(decide(scenario3, queueEvent("plain text"))).toMatchObject({ outcome: "key_mismatch", detail: "no key is not 'some-key'" });
  });

  it("uses the default dedup keys of DESIGN §2.7: bucket/key@eTag, eventTime for deletes, message id, webhook-id", () => {
    expect(defaultDedupKey(r2Event("r2-delete-object.json"))).toBe("uploads/input/test_file_20260310.csv@2026-03-11T06:00:00.000Z");
    expect(defaultDedupKey(queueEvent({ value: 1 }, "msg-9"))).toBe("msg-9");
    expect(defaultDedupKey({ type: "webhook", message: {}, webhookId: "msg_abc", receivedAt: at })).toBe("msg_abc");
  });

  it("resolves dedup and ordering templates against the message", () => {
    const t = spec({ type: "queue", config: { queue: "user-behavior" }, dedup: { key: "${workflow.triggerMessage.value}" }, ordering: { key: "${workflow.triggerMessage.key}" } });
    expect(decide(t, queueEvent({ key: "user-7", value: "v1" }))).toEqual({ start: true, dedupKey: "v1", orderingKey: "user-7" });
  });

  it("makes an unresolvable ordering key an error naming the reference", () => {
    const t = spec({ type: "webhook", ordering: { key: "${workflow.triggerMessage.customer}" } });
    expect(decide(t, { type: "webhook", message: { order: 1 }, webhookId: "m", receivedAt: at })).toMatchObject({
      start: false,
      outcome: "error",
      detail: expect.stringMatching(/workflow\.triggerMessage\.customer/),
    });
  });

  it("checks the trigger's own criteria before enabled, and enabled before the filter", () => {
    const disabled = { ...scenario2, enabled: false, filter: "false" };
    expect(decide(disabled, r2Event("r2-put-object.json", { object: { key: "x.txt" } }))).toMatchObject({ outcome: "key_mismatch" });
    expect(decide(disabled, r2Event("r2-put-object.json"))).toMatchObject({ outcome: "disabled" });
  });

  it("filters with CEL, recording an evaluation error as filtered", () => {
    const t = { ...scenario2, filter: "data.object.size > 100000" };
    expect(decide(t, r2Event("r2-put-object.json"))).toMatchObject({ outcome: "filtered", detail: "filter data.object.size > 100000 is false" });
    const broken = { ...scenario2, filter: 'data.object.eTag == "x"' };
    expect(decide(broken, r2Event("r2-delete-object.json", { action: "PutObject" }))).toMatchObject({ outcome: "filtered", detail: expect.stringMatching(/^filter error: .*eTag/) });
  });

  it("keeps a paused trigger's matching events, after its own criteria, enabled and the filter", () => {
    const paused = { ...spec({ type: "queue", config: { queue: "user-behavior", key: "k" }, filter: 'value != "drop"' }), paused: true };
    expect(decide(paused, queueEvent({ key: "k", value: "v" }))).toMatchObject({ start: false, outcome: "paused" });
    expect(decide(paused, queueEvent({ key: "other", value: "v" }))).toMatchObject({ outcome: "key_mismatch" });
    expect(decide(paused, queueEvent({ key: "k", value: "drop" }))).toMatchObject({ outcome: "filtered" });
    expect(decide({ ...paused, enabled: false }, queueEvent({ key: "k", value: "v" }))).toMatchObject({ outcome: "disabled" });
  });

  it("keeps a paused event even when its keys would not resolve: resume resolves them against the trigger as it is then", () => {
    const t = { ...spec({ type: "webhook", ordering: { key: "${workflow.triggerMessage.customer}" } }), paused: true };
    expect(decide(t, { type: "webhook", message: { order: 1 }, webhookId: "m", receivedAt: at })).toMatchObject({ outcome: "paused" });
  });

  it("listens only to its own bucket or queue", () => {
    expect(listensTo(scenario2, r2Event("r2-put-object.json"))).toBe(true);
    expect(listensTo(scenario2, r2Event("r2-put-object.json", { bucket: "staging" }))).toBe(false);
    expect(listensTo(scenario2, queueEvent({ value: 1 }))).toBe(false);
  });

  it("scopes the coordinator's key to the trigger and hashes long keys", async () => {
    expect(await coordinatorDedupKey("trg_1", "k")).toBe("trg_1:k");
    expect(await coordinatorDedupKey("trg_1", "k".repeat(500))).toMatch(/^trg_1:sha256:[0-9a-f]{64}$/);
  });
});

describe("event log verdicts", () => {
  const start = (id: string, requestedId: string, duplicate: boolean) => ({ workflowId: "wf", workflowName: "w", requestedId, id, duplicate });

  it("counts a new instance, or the instance this same delivery asked for, as started", () => {
    expect(startVerdict([start("ins_a", "ins_a", false)])).toMatchObject({ outcome: "started", instanceIds: ["ins_a"] });
    expect(startVerdict([start("ins_a", "ins_a", true)]).outcome).toBe("started");
  });

  it("is a duplicate when every workflow answered with an earlier event's instance", () => {
    expect(startVerdict([start("ins_first", "ins_b", true)])).toMatchObject({ outcome: "duplicate", instanceIds: ["ins_first"] });
  });

  it("tells unpublished workflows apart from no workflow at all", () => {
    expect(noWorkflowVerdict([{ name: "process_r2_file_workflow" }])).toMatchObject({ outcome: "unpublished", detail: expect.stringMatching(/'process_r2_file_workflow'/) });
    expect(noWorkflowVerdict([]).outcome).toBe("no_workflow");
  });
});
