// What the browser keeps for the editor: a backup of unsaved edits (the layout is saved with the draft).
import type { WorkflowDefinition } from "./api/types.ts";

type KeyValue = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function browserStorage(): KeyValue | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/** Per workflow, in this browser only; storage that is full or disabled makes it forget, never fail. */
export class LocalStore {
  readonly #storage: KeyValue | null;
  constructor(storage: KeyValue | null = browserStorage()) {
    this.#storage = storage;
  }

  #read<T>(key: string): T | null {
    try {
      const text = this.#storage?.getItem(key);
      return text ? (JSON.parse(text) as T) : null;
    } catch {
      return null;
    }
  }

  #write(key: string, value: unknown): void {
    try {
      if (value === null) this.#storage?.removeItem(key);
      else this.#storage?.setItem(key, JSON.stringify(value));
    } catch {
      // full or disabled: the editor still works, it just forgets
    }
  }

  /** Unsaved edits, written as they are made, so a closed tab or a crash does not lose them. */
  backup(workflowId: string): { definition: WorkflowDefinition; savedAt: string; baseUpdatedAt: string | null } | null {
    return this.#read(`sluice.backup.${workflowId}`);
  }

  saveBackup(workflowId: string, definition: WorkflowDefinition, baseUpdatedAt: string | null, now = new Date()): void {
    this.#write(`sluice.backup.${workflowId}`, { definition, savedAt: now.toISOString(), baseUpdatedAt });
  }

  clearBackup(workflowId: string): void {
    this.#write(`sluice.backup.${workflowId}`, null);
  }
}
