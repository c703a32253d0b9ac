import { describe, expect, it } from "vitest";
import { LocalStore } from "./local-store.ts";
import { emptyDefinition } from "./workflow-doc.ts";

function memory() {
  const data = new Map<string, string>();
  return { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), removeItem: (k: string) => void data.delete(k), data };
}

describe("LocalStore", () => {
  it("remembers node positions per workflow and skips broken entries", () => {
    const storage = memory();
    const store = new LocalStore(storage);
    store.savePositions("wf_1", new Map([["a", { x: 1, y: 2 }]]));
    storage.setItem("sluice.positions.wf_2", JSON.stringify({ a: { x: "no" }, b: { x: 3, y: 4 } }));
    expect([...store.positions("wf_1")]).toEqual([["a", { x: 1, y: 2 }]]);
    expect([...store.positions("wf_2")]).toEqual([["b", { x: 3, y: 4 }]]);
    expect(store.positions("nope").size).toBe(0);
  });

  it("keeps a backup of unsaved edits until it is cleared", () => {
    const store = new LocalStore(memory());
    store.saveBackup("wf_1", emptyDefinition("draft"), "2026-03-10T00:00:00Z", new Date("2026-03-10T01:00:00Z"));
    expect(store.backup("wf_1")).toEqual({ definition: emptyDefinition("draft"), savedAt: "2026-03-10T01:00:00.000Z", baseUpdatedAt: "2026-03-10T00:00:00Z" });
    store.clearBackup("wf_1");
    expect(store.backup("wf_1")).toBeNull();
  });

  it("works without storage (private mode): it just forgets", () => {
    const store = new LocalStore(null);
    store.savePositions("wf", new Map([["a", { x: 0, y: 0 }]]));
    expect(store.positions("wf").size).toBe(0);
  });
});
