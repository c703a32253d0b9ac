// Webhook replay protection: which request delivers, which is a replay, and how long an id is remembered.
import { describe, expect, it } from "vitest";
import { replayAction, replayDetail, WEBHOOK_REPLAY_MEMORY_MS, WEBHOOK_TOLERANCE_MS, webhookInstanceSeed } from "./webhook-replay.ts";

describe("webhook replay protection", () => {
  it("remembers an id for longer than any copy of it can still verify", () => {
    // Accepted now with a timestamp one tolerance ahead, a copy verifies until two tolerances from now.
    expect(WEBHOOK_REPLAY_MEMORY_MS).toBeGreaterThan(2 * WEBHOOK_TOLERANCE_MS);
  });

  it("lets the first request deliver", () => {
    expect(replayAction({ eventId: "evt_1", receivedAt: 0, instanceIds: null, first: true })).toBe("deliver");
  });

  it("answers a later request of a finished delivery as a replay", () => {
    expect(replayAction({ eventId: "evt_1", receivedAt: 0, instanceIds: ["ins_1"], first: false })).toBe("replay");
    expect(replayAction({ eventId: "evt_1", receivedAt: 0, instanceIds: [], first: false })).toBe("replay");
  });

  it("completes a first delivery that never finished before answering as a duplicate", () => {
    expect(replayAction({ eventId: "evt_1", receivedAt: 0, instanceIds: null, first: false })).toBe("complete-then-replay");
  });

  it("names the id and when it was first received", () => {
    expect(replayDetail("msg_1", Date.UTC(2026, 2, 10))).toMatch(/webhook-id msg_1 was already received at 2026-03-10T00:00:00.000Z/);
  });

  it("derives one instance per trigger, webhook-id and workflow", () => {
    expect(webhookInstanceSeed("trg_1", "msg_1", "wf_1")).toBe(webhookInstanceSeed("trg_1", "msg_1", "wf_1"));
    expect(webhookInstanceSeed("trg_1", "msg_1", "wf_1")).not.toBe(webhookInstanceSeed("trg_2", "msg_1", "wf_1"));
    expect(webhookInstanceSeed("trg_1", "msg_1", "wf_1")).not.toBe(webhookInstanceSeed("trg_1", "msg_1", "wf_2"));
  });
});
