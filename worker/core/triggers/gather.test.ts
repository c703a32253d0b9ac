import { describe, expect, it } from "vitest";
import { SluiceError } from "../errors.ts";
import { MAX_TRIGGER_MESSAGE_BYTES } from "../runs.ts";
import {
  admit,
  batchMessage,
  fitsAlone,
  gatheredInstanceId,
  gatherKeyOf,
  gatherRuleOf,
  groupStartVerdict,
  groupsToStart,
  messageBytes,
  startRetryAt,
  type GatherEvent,
  type GatherRule,
  type GatherStore,
  type Group,
} from "./gather.ts";

/** The gate's store in memory, as the Durable Object keeps it in SQLite. */
class MemoryStore implements GatherStore {
  groups = new Map<string, Group>();
  members = new Map<string, { groupId: string; seq: number; message: unknown }>();
  lastMessage = new Map<string, unknown>();
  dedup = new Map<string, { groupId: string; eventId: string; until: number }>();

  groupOfEvent(eventId: string) {
    const m = this.members.get(eventId);
    return m ? { ...this.groups.get(m.groupId)! } : null;
  }
  openGroupFor(kind: GatherRule["kind"], key: string | null) {
    const g = [...this.groups.values()].find((g) => g.state === "open" && g.rule.kind === kind && g.key === key);
    return g ? { ...g } : null;
  }
  saveGroup(group: Group) {
    this.groups.set(group.id, { ...group });
  }
  addMember(group: Group, event: GatherEvent) {
    this.members.set(event.eventId, { groupId: group.id, seq: group.count, message: event.message });
    this.lastMessage.set(group.id, event.message);
  }
  dedupHolder(key: string, now: number) {
    const held = this.dedup.get(key);
    return held && held.until > now ? { group: { ...this.groups.get(held.groupId)! }, eventId: held.eventId } : null;
  }
  holdDedup(key: string, groupId: string, eventId: string, until: number) {
    this.dedup.set(key, { groupId, eventId, until });
  }
  messagesOf(groupId: string) {
    return [...this.members.values()].filter((m) => m.groupId === groupId).sort((a, b) => a.seq - b.seq).map((m) => m.message);
  }
  /** What the gate's alarm does at `now`: closes the due groups and marks them started. */
  closeDue(now: number): Group[] {
    const due = groupsToStart([...this.groups.values()].map((g) => ({ ...g })), now);
    for (const g of due) this.groups.set(g.id, { ...g, state: "closed" });
    return due;
  }
}

const BATCH: GatherRule = { kind: "batch", maxEvents: 3, windowSeconds: 10, key: null };
const DEBOUNCE: GatherRule = { kind: "debounce", windowSeconds: 5, maxWaitSeconds: 20, key: null };

let seq = 0;
const ids = () => `grp_${++seq}`;
const ev = (id: string, key: string | null = null, message: unknown = { id }, receivedAt = 1_000): GatherEvent => ({
  eventId: id,
  key,
  message,
  receivedAt,
  bytes: messageBytes(message),
  dedup: { key: `trg:${id}`, windowSeconds: 3600 },
});

describe("batching", () => {
  it("closes a batch when maxEvents have arrived, with the events in arrival order", () => {
    const store = new MemoryStore();
    const joined = ["a", "b", "c"].map((id, i) => admit(store, BATCH, ev(id, null, { n: i }, 1_000 + i), 0, ids));
    expect(new Set(joined.map((j) => j.groupId)).size).toBe(1);
    expect(joined.every((j) => j.outcome === "batched" && j.added)).toBe(true);
    const group = store.groups.get(joined[0]!.groupId)!;
    expect(group.state).toBe("closing");
    expect(store.closeDue(0).map((g) => g.id)).toEqual([group.id]);
    expect(batchMessage(group, store.messagesOf(group.id))).toEqual({
      batch: { key: null, count: 3, firstReceivedAt: new Date(1_000).toISOString(), lastReceivedAt: new Date(1_002).toISOString() },
      events: [{ n: 0 }, { n: 1 }, { n: 2 }],
    });
  });

  it("names the earliest and latest receive times of its events, whatever order they were delivered in", () => {
    const store = new MemoryStore();
    const a = admit(store, BATCH, ev("a", null, {}, 5_000), 0, ids);
    admit(store, BATCH, ev("b", null, {}, 1_000), 0, ids);
    admit(store, BATCH, ev("c", null, {}, 3_000), 0, ids);
    expect(store.groups.get(a.groupId)).toMatchObject({ firstReceivedAt: 1_000, lastReceivedAt: 5_000 });
  });

  it("closes a batch windowSeconds after its first event, however few arrived", () => {
    const store = new MemoryStore();
    const first = admit(store, BATCH, ev("a"), 0, ids);
    admit(store, BATCH, ev("b"), 9_000, ids);
    expect(store.closeDue(9_999)).toEqual([]);
    expect(store.closeDue(10_000).map((g) => [g.id, g.count])).toEqual([[first.groupId, 2]]);
  });

  it("opens a new batch for an event after the previous one closed", () => {
    const store = new MemoryStore();
    const [a, , , d] = ["a", "b", "c", "d"].map((id) => admit(store, BATCH, ev(id), 0, ids));
    expect(d!.groupId).not.toBe(a!.groupId);
    expect(store.groups.get(d!.groupId)!.state).toBe("open");
  });

  it("gathers each key value in its own batch", () => {
    const store = new MemoryStore();
    const keyed = { ...BATCH, key: "${workflow.triggerMessage.user}" };
    const join = (id: string, user: string) => admit(store, keyed, ev(id, user, { user }), 0, ids);
    const [u1a, u2, u1b] = [join("1", "u1"), join("2", "u2"), join("3", "u1")];
    expect(u1a.groupId).toBe(u1b.groupId);
    expect(u2.groupId).not.toBe(u1a.groupId);
    expect(store.messagesOf(u1a.groupId)).toEqual([{ user: "u1" }, { user: "u1" }]);
  });

  it("counts an event added again (a redelivery) once, in the group it joined", () => {
    const store = new MemoryStore();
    const first = admit(store, BATCH, ev("a"), 0, ids);
    const again = admit(store, BATCH, ev("a"), 1_000, ids);
    expect(again).toEqual({ ...first, added: false, duplicateOf: null });
    expect(store.groups.get(first.groupId)!.count).toBe(1);
  });

  it("answers another event with a held dedup key as a duplicate of the group, until its window ends", () => {
    const store = new MemoryStore();
    const first = admit(store, BATCH, { ...ev("a"), dedup: { key: "trg:same", windowSeconds: 60 } }, 0, ids);
    const dup = admit(store, BATCH, { ...ev("b"), dedup: { key: "trg:same", windowSeconds: 60 } }, 1_000, ids);
    expect(dup).toMatchObject({ groupId: first.groupId, added: false, duplicateOf: "a" });
    expect(store.groups.get(first.groupId)!.count).toBe(1);
    const later = admit(store, BATCH, { ...ev("c"), dedup: { key: "trg:same", windowSeconds: 60 } }, 60_000, ids);
    expect(later).toMatchObject({ added: true, duplicateOf: null });
  });

  it("answers a member redelivered after its batch started with that batch, not a new one", () => {
    const store = new MemoryStore();
    const first = admit(store, BATCH, ev("a"), 0, ids);
    store.closeDue(10_000);
    const late = admit(store, BATCH, ev("a"), 60_000, ids);
    expect(late).toMatchObject({ groupId: first.groupId, added: false });
    expect([...store.groups.values()].filter((g) => g.state === "open")).toEqual([]);
  });

  it("closes a batch early, before the event that would take its message past 128 KB", () => {
    const store = new MemoryStore();
    const big = { text: "x".repeat(50_000) };
    const rule: GatherRule = { ...BATCH, maxEvents: 100 };
    const [a, b, c] = ["a", "b", "c"].map((id) => admit(store, rule, ev(id, null, big), 0, ids));
    expect(a!.groupId).toBe(b!.groupId);
    expect(c!.groupId).not.toBe(a!.groupId);
    const closed = store.groups.get(a!.groupId)!;
    expect(closed.state).toBe("closing");
    expect(messageBytes(batchMessage(closed, store.messagesOf(closed.id)))).toBeLessThanOrEqual(MAX_TRIGGER_MESSAGE_BYTES);
  });

  it("refuses an event that alone makes a batch over 128 KB, but debounces it", () => {
    const bytes = MAX_TRIGGER_MESSAGE_BYTES - 20;
    expect(fitsAlone(BATCH, null, bytes)).toBe(false);
    expect(fitsAlone(BATCH, null, 1_000)).toBe(true);
    expect(fitsAlone(DEBOUNCE, null, bytes)).toBe(true);
  });

  it("lets an open group finish with the rule it opened with when the trigger's config changes", () => {
    const store = new MemoryStore();
    const a = admit(store, BATCH, ev("a"), 0, ids);
    const b = admit(store, { ...BATCH, maxEvents: 2, windowSeconds: 1 }, ev("b"), 0, ids);
    expect(b.groupId).toBe(a.groupId);
    expect(store.groups.get(a.groupId)).toMatchObject({ state: "open", dueAt: 10_000 });
  });
});

describe("debounce", () => {
  it("moves the close to windowSeconds after each event, and keeps the last event's message", () => {
    const store = new MemoryStore();
    const a = admit(store, DEBOUNCE, ev("a", null, { n: 1 }), 0, ids);
    admit(store, DEBOUNCE, ev("b", null, { n: 2 }), 4_000, ids);
    expect(store.closeDue(5_000)).toEqual([]);
    expect(store.groups.get(a.groupId)!.dueAt).toBe(9_000);
    const [closed] = store.closeDue(9_000);
    expect(closed).toMatchObject({ id: a.groupId, count: 2 });
    expect(store.lastMessage.get(a.groupId)).toEqual({ n: 2 });
    expect(a.outcome).toBe("debounced");
  });

  it("closes at maxWaitSeconds after the first event even while events keep coming", () => {
    const store = new MemoryStore();
    const first = admit(store, DEBOUNCE, ev("e0"), 0, ids);
    for (let t = 1; t <= 6; t++) admit(store, DEBOUNCE, ev(`e${t}`), t * 3_000, ids);
    // The last event came at 18 s; without the cap it would close at 23 s.
    expect(store.closeDue(19_999)).toEqual([]);
    expect(store.closeDue(20_000).map((g) => [g.id, g.count])).toEqual([[first.groupId, 7]]);
    const after = admit(store, DEBOUNCE, ev("late"), 21_000, ids);
    expect(after.groupId).not.toBe(first.groupId);
  });

  it("starts a new group for an event after the close time, even before the alarm closed the old one", () => {
    const store = new MemoryStore();
    const first = admit(store, DEBOUNCE, ev("a"), 0, ids);
    const late = admit(store, DEBOUNCE, ev("b"), 5_000, ids);
    expect(late.groupId).not.toBe(first.groupId);
    expect(store.groups.get(first.groupId)).toMatchObject({ state: "closing", count: 1 });
  });

  it("debounces each key value on its own", () => {
    const store = new MemoryStore();
    const keyed = { ...DEBOUNCE, key: "k" };
    const a = admit(store, keyed, ev("a", "x"), 0, ids);
    const b = admit(store, keyed, ev("b", "y"), 3_000, ids);
    expect(store.closeDue(5_000).map((g) => g.id)).toEqual([a.groupId]);
    expect(store.closeDue(8_000).map((g) => g.id)).toEqual([b.groupId]);
  });

  it("does not move the close for a redelivered event", () => {
    const store = new MemoryStore();
    const a = admit(store, DEBOUNCE, ev("a", null, { n: 1 }), 0, ids);
    admit(store, DEBOUNCE, ev("b", null, { n: 2 }), 1_000, ids);
    admit(store, DEBOUNCE, ev("a", null, { n: 1 }), 4_000, ids);
    expect(store.groups.get(a.groupId)).toMatchObject({ dueAt: 6_000, count: 2 });
    expect(store.lastMessage.get(a.groupId)).toEqual({ n: 2 });
  });
});

describe("rules, keys and ids", () => {
  it("reads the rule from the trigger: batch, debounce or none", () => {
    expect(gatherRuleOf({ batch: { maxEvents: 2, windowSeconds: 3, key: null }, debounce: null })).toEqual({ kind: "batch", maxEvents: 2, windowSeconds: 3, key: null });
    expect(gatherRuleOf({ batch: null, debounce: { windowSeconds: 3, maxWaitSeconds: null, key: "k" } })?.kind).toBe("debounce");
    expect(gatherRuleOf({ batch: null, debounce: null })).toBeNull();
  });

  it("resolves the key template over the message; no key template: one group", () => {
    const rule: GatherRule = { ...BATCH, key: "${workflow.triggerMessage.user}" };
    expect(gatherKeyOf(rule, { user: "u7" }, 0)).toEqual({ ok: true, value: "u7" });
    expect(gatherKeyOf(BATCH, { user: "u7" }, 0)).toEqual({ ok: true, value: null });
    expect(gatherKeyOf(rule, { other: 1 }, 0).ok).toBe(false);
  });

  it("derives the same instance id for a group and workflow every time, another for another group", async () => {
    const one = await gatheredInstanceId("wf_abc", "grp_1", 1_000);
    expect(await gatheredInstanceId("wf_abc", "grp_1", 1_000)).toBe(one);
    expect(await gatheredInstanceId("wf_abc", "grp_2", 1_000)).not.toBe(one);
    expect(one.endsWith(".wf_abc")).toBe(true);
  });

  it("backs off a failed start from 2 up to 60 seconds", () => {
    const g = { attempts: 1 } as Group;
    expect(startRetryAt(g, 0)).toBe(2_000);
    expect(startRetryAt({ ...g, attempts: 3 }, 0)).toBe(8_000);
    expect(startRetryAt({ ...g, attempts: 12 }, 0)).toBe(60_000);
  });
});

describe("a closed group's start", () => {
  const ok = (id: string, duplicate = false) => ({ status: "fulfilled" as const, value: { id, duplicate } });
  const no = (reason: unknown) => ({ status: "rejected" as const, reason });
  const answer = (name: string, a: PromiseSettledResult<{ id: string; duplicate?: boolean }>) => ({ workflowId: `wf_${name}`, workflowName: name, requestedId: `ins_${name}`, answer: a });

  it("is started when every workflow started it, also when a repeated close finds the instances it asked for", () => {
    const v = groupStartVerdict("batch of 2 event(s)", [answer("a", ok("ins_a")), answer("b", ok("ins_b", true))]);
    expect(v).toMatchObject({ outcome: "started", instanceIds: ["ins_a", "ins_b"] });
  });

  it("is retried when a start failed for a passing reason", () => {
    const down = new Error("coordinator restarting");
    expect(groupStartVerdict("g", [answer("a", ok("ins_a")), answer("b", no(down))])).toEqual({ retry: down });
  });

  it("is logged, not retried forever, when a workflow refuses it for good", () => {
    const gone = new SluiceError(404, "not_found", "workflow wf_b not found");
    expect(groupStartVerdict("g", [answer("a", ok("ins_a")), answer("b", no(gone))])).toMatchObject({
      outcome: "started",
      instanceIds: ["ins_a"],
      detail: expect.stringMatching(/b refused it: workflow wf_b not found/),
    });
    expect(groupStartVerdict("g", [answer("b", no(gone))])).toMatchObject({ outcome: "error", instanceIds: [] });
  });
});
