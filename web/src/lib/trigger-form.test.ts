import { describe, expect, it } from "vitest";
import type { Trigger, TriggerEvent } from "./api-types.ts";
import { emptyForm, eventsAbout, eventSubject, exampleKey, formFromTrigger, outcomeText, sampleMessage, triggerFromForm } from "./trigger-form.ts";

describe("triggerFromForm", () => {
  it("builds an R2 trigger with its events, pattern, filter and a dedup window in seconds", () => {
    const form = { ...emptyForm("r2"), name: "new csv", events: "object-create, object-delete", filter: "data.object.size > 0", dedupHours: "2" };
    expect(triggerFromForm(form)).toEqual({
      ok: true,
      input: {
        name: "new csv",
        description: "",
        type: "r2",
        config: { bucket: "uploads", events: ["object-create", "object-delete"], keyPattern: "input/*.csv" },
        filter: "data.object.size > 0",
        dedup: { key: null, windowSeconds: 7200 },
        ordering: null,
        enabled: true,
      },
    });
  });

  it("builds a queue trigger whose blank key means every message", () => {
    const result = triggerFromForm({ ...emptyForm("queue"), name: "q", orderingKey: "${workflow.triggerMessage.key}" });
    expect(result.ok && result.input.config).toEqual({ queue: "user-behavior", key: null });
    expect(result.ok && result.input.ordering).toEqual({ key: "${workflow.triggerMessage.key}" });
  });

  it("asks for a name, an event type and a dedup window within 14 days", () => {
    const result = triggerFromForm({ ...emptyForm("r2"), events: " ", dedupHours: "400" });
    expect(result.ok).toBe(false);
    expect(!result.ok && Object.keys(result.errors).sort()).toEqual(["dedupHours", "events", "name"]);
  });

  it("round-trips a saved trigger through the form", () => {
    const trigger = {
      id: "trg_1", name: "t", description: "", type: "queue", config: { queue: "user-behavior", key: "some-key" }, filter: null,
      dedup: { key: null, windowSeconds: 86_400 }, ordering: null, enabled: false, createdAt: "", updatedAt: "",
    } satisfies Trigger;
    const result = triggerFromForm(formFromTrigger(trigger));
    expect(result.ok && result.input).toMatchObject({ type: "queue", config: { queue: "user-behavior", key: "some-key" }, enabled: false, dedup: { windowSeconds: 86_400 } });
  });
});

describe("samples", () => {
  it("makes a key that the pattern matches", () => {
    expect(exampleKey("input/*.csv")).toBe("input/sample.csv");
    expect(exampleKey("**")).toBe("sample.txt");
    expect(exampleKey("logs/**/*.json")).toBe("logs/sample.json");
  });

  it("writes an R2 notification for the trigger's bucket and a queue producer body", () => {
    expect(sampleMessage({ ...emptyForm("r2"), bucket: "b1" })).toMatchObject({ action: "PutObject", bucket: "b1", object: { key: "input/sample.csv" } });
    expect(sampleMessage({ ...emptyForm("queue"), messageKey: "k" })).toMatchObject({ key: "k", value: { user_id: "1001" } });
  });
});

describe("events", () => {
  const event = (id: string, at: string, message: unknown): TriggerEvent => ({
    id, receivedAt: at, lastReceivedAt: at, deliveries: 1, source: "r2://uploads", sourceId: null, outcome: "started", detail: "", dedupKey: null, instanceIds: [], message, messageTruncated: false,
  });

  it("finds the events about one object since an upload", () => {
    const events = [event("1", "2026-03-10T10:00:05Z", { subject: "input/a.csv" }), event("2", "2026-03-10T10:00:06Z", { subject: "input/b.csv" }), event("3", "2026-03-10T09:00:00Z", { subject: "input/a.csv" })];
    expect(eventsAbout(events, new Date("2026-03-10T10:00:00Z"), "input/a.csv").map((e) => e.id)).toEqual(["1"]);
    expect(eventSubject(event("4", "", { key: "some-key" }))).toBe("some-key");
  });

  it("says outcomes in words", () => {
    expect(outcomeText("key_mismatch")).toBe("the message key is not the trigger's key");
  });
});
