// What the browser keeps for the editor: where nodes were placed, and a backup of unsaved edits.
import type { WorkflowDefinition } from "./api-types.ts";
import type { Point } from "./layout.ts";

type KeyValue = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function browserStorage(): KeyValue | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/**
 * The definition has no place for canvas positions (the API refuses unknown fields), so a person's
 * arrangement is kept per workflow in this browser; nodes without one are auto-laid out.
 */
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

  positions(workflowId: string): Map<string, Point> {
    const saved = this.#read<Record<string, Point>>(`sluice.positions.${workflowId}`) ?? {};
    return new Map(Object.entries(saved).filter(([, p]) => Number.isFinite(p?.x) && Number.isFinite(p?.y)));
  }

  savePositions(workflowId: string, positions: ReadonlyMap<string, Point>): void {
    this.#write(`sluice.positions.${workflowId}`, Object.fromEntries(positions));
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
