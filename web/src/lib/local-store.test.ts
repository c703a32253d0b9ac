import { describe, expect, it } from "vitest";
import { LocalStore } from "./local-store.ts";
import { emptyDefinition } from "./workflow-doc.ts";

function memory() {
  const data = new Map<string, string>();
  return { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), removeItem: (k: string) => void data.delete(k), data };
}

describe("LocalStore", () => {
  it("keeps a backup of unsaved edits until it is cleared", () => {
    const store = new LocalStore(memory());
    store.saveBackup("wf_1", emptyDefinition("draft"), "2026-03-10T00:00:00Z", new Date("2026-03-10T01:00:00Z"));
    expect(store.backup("wf_1")).toEqual({ definition: emptyDefinition("draft"), savedAt: "2026-03-10T01:00:00.000Z", baseUpdatedAt: "2026-03-10T00:00:00Z" });
    store.clearBackup("wf_1");
    expect(store.backup("wf_1")).toBeNull();
  });

  it("works without storage (private mode): it just forgets", () => {
    const store = new LocalStore(null);
    store.saveBackup("wf", emptyDefinition("draft"), null);
    expect(store.backup("wf")).toBeNull();
  });

  it("reads a corrupt backup as none", () => {
    const storage = memory();
    storage.setItem("sluice.backup.wf", "{not json");
    expect(new LocalStore(storage).backup("wf")).toBeNull();
  });
});
