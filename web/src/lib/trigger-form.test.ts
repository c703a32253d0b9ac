import { describe, expect, it } from "vitest";
import type { Trigger, TriggerEvent } from "./api/types.ts";
import {
  emptyForm,
  eventsAbout,
  eventSubject,
  exampleKey,
  formErrorsFrom,
  formFromTrigger,
  outcomeText,
  outcomeTone,
  replayable,
  sampleMessage,
  triggerFromForm,
} from "./trigger-form.ts";

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
        batch: null,
        debounce: null,
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
      dedup: { key: null, windowSeconds: 86_400 }, ordering: null, batch: null, debounce: null, paused: false, pausedAt: null, enabled: false, createdAt: "", updatedAt: "",
    } satisfies Trigger;
    const result = triggerFromForm(formFromTrigger(trigger));
    expect(result.ok && result.input).toMatchObject({ type: "queue", config: { queue: "user-behavior", key: "some-key" }, enabled: false, dedup: { windowSeconds: 86_400 } });
  });
});

describe("batching and debounce", () => {
  it("sends a batch and no debounce when batching is chosen, with a blank key as null", () => {
    const result = triggerFromForm({ ...emptyForm("queue"), name: "q", gathering: "batch", batchMaxEvents: "3", batchWindowSeconds: "10", batchKey: " " });
    expect(result.ok && [result.input.batch, result.input.debounce]).toEqual([{ maxEvents: 3, windowSeconds: 10, key: null }, null]);
  });

  it("sends a debounce whose blank max wait is null, and drops the other when switched", () => {
    const form = { ...emptyForm("queue"), name: "q", gathering: "debounce" as const, debounceWindowSeconds: "5", debounceKey: "${workflow.triggerMessage.key}" };
    const result = triggerFromForm(form);
    expect(result.ok && [result.input.batch, result.input.debounce]).toEqual([null, { windowSeconds: 5, maxWaitSeconds: null, key: "${workflow.triggerMessage.key}" }]);
    const none = triggerFromForm({ ...form, gathering: "none" });
    expect(none.ok && [none.input.batch, none.input.debounce]).toEqual([null, null]);
  });

  it("reads the numbers a number field hands over as numbers, and blank as null", () => {
    const form = { ...emptyForm("queue"), name: "q", gathering: "debounce" as const, debounceWindowSeconds: 5 as unknown as string, debounceMaxWaitSeconds: null as unknown as string };
    const result = triggerFromForm(form);
    expect(result.ok && result.input.debounce).toEqual({ windowSeconds: 5, maxWaitSeconds: null, key: null });
  });

  it("asks for whole numbers of events and seconds", () => {
    const result = triggerFromForm({ ...emptyForm("queue"), name: "q", gathering: "batch", batchMaxEvents: "0", batchWindowSeconds: "1.5" });
    expect(!result.ok && Object.keys(result.errors).sort()).toEqual(["batchMaxEvents", "batchWindowSeconds"]);
  });

  it("reads a saved batch or debounce back into the form", () => {
    const base = {
      id: "trg_1", name: "t", description: "", type: "queue", config: { queue: "user-behavior", key: null }, filter: null,
      dedup: { key: null, windowSeconds: 86_400 }, ordering: null, batch: null, debounce: null, paused: false, pausedAt: null, enabled: true, createdAt: "", updatedAt: "",
    } satisfies Trigger;
    expect(formFromTrigger({ ...base, batch: { maxEvents: 7, windowSeconds: 9, key: "k" } })).toMatchObject({ gathering: "batch", batchMaxEvents: "7", batchWindowSeconds: "9", batchKey: "k" });
    expect(formFromTrigger({ ...base, debounce: { windowSeconds: 4, maxWaitSeconds: 60, key: null } })).toMatchObject({ gathering: "debounce", debounceWindowSeconds: "4", debounceMaxWaitSeconds: "60", debounceKey: "" });
    expect(formFromTrigger(base).gathering).toBe("none");
  });

  it("puts the server's messages on the fields they name", () => {
    const errors = formErrorsFrom([
      { path: "batch.key", message: "batch.key: unknown reference" },
      { path: "debounce", message: "debounce: a trigger either batches or debounces, not both" },
      { path: "config.somethingNew", message: "elsewhere" },
    ]);
    expect(errors).toEqual({ batchKey: "batch.key: unknown reference", gathering: "debounce: a trigger either batches or debounces, not both" });
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
    id, receivedAt: at, lastReceivedAt: at, deliveries: 1, source: "r2://uploads", sourceId: null, outcome: "started", detail: "", dedupKey: null, instanceIds: [], message, messageTruncated: false, replayOf: null,
  });

  it("finds the events about one object since an upload", () => {
    const events = [event("1", "2026-03-10T10:00:05Z", { subject: "input/a.csv" }), event("2", "2026-03-10T10:00:06Z", { subject: "input/b.csv" }), event("3", "2026-03-10T09:00:00Z", { subject: "input/a.csv" })];
    expect(eventsAbout(events, new Date("2026-03-10T10:00:00Z"), "input/a.csv").map((e) => e.id)).toEqual(["1"]);
    expect(eventSubject(event("4", "", { key: "some-key" }))).toBe("some-key");
  });

  it("says outcomes in words", () => {
    expect(outcomeText("key_mismatch")).toBe("the message key is not the trigger's key");
    expect(outcomeText("paused")).toMatch(/resume/);
  });

  it("styles the flow-control outcomes apart from starts and failures", () => {
    expect(outcomeTone("batched")).toBe("live");
    expect(outcomeTone("debounced")).toBe("live");
    expect(outcomeTone("paused")).toBe("idle");
    expect(outcomeTone("discarded")).toBe("muted");
  });

  it("does not offer to replay an event still kept by a pause", () => {
    expect(replayable({ outcome: "paused" })).toBe(false);
    expect(replayable({ outcome: "unpublished" })).toBe(true);
  });
});
