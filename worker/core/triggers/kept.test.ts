import { describe, expect, it } from "vitest";
import { parseTriggerInput, type TriggerSpec } from "./config.ts";
import { decide } from "./decide.ts";
import {
  KEEP_WHOLE_MESSAGE,
  loggedEvent,
  nextRoundSize,
  replayDedupKey,
  RESUME_BATCH,
  resumedTrigger,
  resumeMayContinue,
  wholeMessage,
  withFixedDedupKey,
} from "./kept.ts";
import { queueRecord } from "./queue-record.ts";

const at = Date.UTC(2026, 2, 11, 5, 40, 46);
const trigger = (input: Record<string, unknown>, paused = false): TriggerSpec =>
  ({ id: "trg_1", paused, ...parseTriggerInput({ name: "t", ...input }, ["user-behavior"]) }) as TriggerSpec;
const record = (id: string, value: string) => queueRecord("user-behavior", { key: "k", value }, { id, timestamp: at });

describe("replay dedup keys", () => {
  it("numbers replays of one event from 1, each its own key", () => {
    expect(replayDedupKey("evt_a", 1)).toBe("replay:evt_a:1");
    expect(replayDedupKey("evt_a", 2)).not.toBe(replayDedupKey("evt_a", 1));
    expect(replayDedupKey("evt_b", 1)).not.toBe(replayDedupKey("evt_a", 1));
  });

  it("decides a replay under its replay key, bypassing the trigger's own dedup template", () => {
    const t = trigger({ type: "queue", config: { queue: "user-behavior" }, dedup: { key: "${workflow.triggerMessage.value}" } });
    const event = loggedEvent(t, record("m1", "same"), at, "m1");
    expect(decide(t, event)).toMatchObject({ start: true, dedupKey: "same" });
    expect(decide(withFixedDedupKey(t, replayDedupKey("evt_a", 3)), event)).toMatchObject({ start: true, dedupKey: "replay:evt_a:3" });
  });

  it("refuses a fixed key that a template would read as a reference", () => {
    expect(() => withFixedDedupKey(trigger({ type: "webhook" }), "replay:${x}:1")).toThrow(/template syntax/);
  });

  it("keeps a replay on a paused trigger like any new event", () => {
    const t = withFixedDedupKey(trigger({ type: "webhook" }, true), "replay:evt_a:1");
    expect(decide(t, loggedEvent(t, { a: 1 }, at, "wh-1"))).toMatchObject({ outcome: "paused" });
  });
});

describe("deciding kept events again", () => {
  it("decides a kept event as resumed: it starts with its original dedup key, never kept again", () => {
    const t = trigger({ type: "queue", config: { queue: "user-behavior" } }, true);
    const event = loggedEvent(t, record("msg-7", "v"), at, "msg-7");
    expect(decide(t, event)).toMatchObject({ outcome: "paused" });
    expect(decide(resumedTrigger(t), event)).toEqual({ start: true, dedupKey: "msg-7", orderingKey: null });
  });

  it("gives a webhook event its webhook-id back from the logged source id", () => {
    expect(loggedEvent(trigger({ type: "webhook" }), { a: 1 }, at, "wh-9")).toEqual({ type: "webhook", message: { a: 1 }, webhookId: "wh-9", receivedAt: at });
  });

  it("reads the whole message: the logged one when it was not cut, the kept whole form when it was, else why not", () => {
    expect(wholeMessage({ message: '{"a":1}', messageTruncated: false, messageFull: null })).toEqual({ ok: true, message: { a: 1 } });
    expect(wholeMessage({ message: '{"a":', messageTruncated: true, messageFull: '{"a":"long"}' })).toEqual({ ok: true, message: { a: "long" } });
    expect(wholeMessage({ message: '{"a":', messageTruncated: true, messageFull: null })).toMatchObject({ ok: false, reason: expect.stringMatching(/cut/) });
  });

  it("keeps whole messages only for events that will or may be decided again", () => {
    expect([...KEEP_WHOLE_MESSAGE].sort()).toEqual(["error", "no_workflow", "paused", "unpublished"]);
  });
});

describe("resume bounds", () => {
  const budget = { maxEvents: 200, maxMs: 10_000 };

  it("takes rounds of at most RESUME_BATCH and never more than the budget's count", () => {
    expect(nextRoundSize(budget, 0)).toBe(RESUME_BATCH);
    expect(nextRoundSize(budget, 180)).toBe(20);
    expect(nextRoundSize(budget, 200)).toBe(0);
  });

  it("stops when the count or the time is spent", () => {
    expect(resumeMayContinue(budget, 0, 9_999, 199)).toBe(true);
    expect(resumeMayContinue(budget, 0, 9_999, 200)).toBe(false);
    expect(resumeMayContinue(budget, 0, 10_000, 0)).toBe(false);
  });
});
