import { describe, expect, it } from "vitest";
import type { TriggerEvent } from "./api/types.ts";
import { eventChoiceLabel, keptCount, messageText, replaySummary, resumeSummary } from "./trigger-ops.ts";

describe("resumeSummary", () => {
  it("says how many were resumed and how many remain", () => {
    expect(resumeSummary({ resumed: 12, remaining: 3 })).toBe("Resumed 12 events in arrival order. 3 more events continue in the background.");
    expect(resumeSummary({ resumed: 1, remaining: 0 })).toBe("Resumed 1 event in arrival order.");
    expect(resumeSummary({ resumed: 0, remaining: 0 })).toBe("Resumed: no event was kept.");
    expect(resumeSummary({ resumed: 100, remaining: 1 })).toBe("Resumed 100 events in arrival order. 1 more event continues in the background.");
  });
});

describe("keptCount", () => {
  it("counts a single page exactly and a longer log as at least", () => {
    const items = [{ id: "e1" }, { id: "e2" }] as TriggerEvent[];
    expect(keptCount({ items, nextCursor: null })).toBe("2");
    expect(keptCount({ items, nextCursor: "c" })).toBe("2+");
  });
});

describe("replaySummary", () => {
  it("names the runs a replay started, or why it started none", () => {
    expect(replaySummary({ outcome: "started", instanceIds: ["ins_1"] })).toBe("Replayed: started a run.");
    expect(replaySummary({ outcome: "unpublished", instanceIds: [] })).toBe("Replayed: unpublished (the workflow has no published version).");
  });
});

describe("the debug run's event picker", () => {
  it("labels an event by time, subject and outcome", () => {
    const event = { id: "e", receivedAt: "2026-03-10T10:00:05Z", outcome: "unpublished", message: { key: "u1", value: "x" }, sourceId: null } as unknown as TriggerEvent;
    expect(eventChoiceLabel(event, "UTC")).toBe("2026-03-10 10:00:05 · u1 · unpublished");
  });

  it("shows a stored JSON message as indented text and a string as it is", () => {
    expect(messageText({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(messageText("plain")).toBe("plain");
  });
});
