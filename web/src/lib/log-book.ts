// Node logs followed live: full reads over HTTP merged with streamed chunks, without gaps or repeats.

export const logKey = (node: string, attempt: number) => `${node}#${attempt}`;

/** A log read is stale once its node moves on: another attempt, or another status. */
export function logVersion(node: { attempt: number; status: string }): string {
  return `${node.attempt}:${node.status}`;
}

interface Entry {
  text: string;
  /** A full read has been merged: later chunks append. */
  loaded: boolean;
  /** A full read is in flight: chunks wait here and are merged with it. */
  fetching: boolean;
  held: string[];
}

/**
 * The logs of one instance's node attempts. A streamed chunk is appended once the log has been read
 * in full; before that it asks for a read, and chunks that arrive during the read are dropped when
 * the read already holds them (they were written before it), else appended after it.
 */
export class LogBook {
  #entries = new Map<string, Entry>();

  #entry(key: string): Entry {
    let entry = this.#entries.get(key);
    if (!entry) this.#entries.set(key, (entry = { text: "", loaded: false, fetching: false, held: [] }));
    return entry;
  }

  text(node: string, attempt: number): string | undefined {
    const entry = this.#entries.get(logKey(node, attempt));
    return entry?.loaded ? entry.text : undefined;
  }

  isLoaded(node: string, attempt: number): boolean {
    return this.#entries.get(logKey(node, attempt))?.loaded ?? false;
  }

  /**
   * A streamed chunk. Returns "read" when the log must be read in full first (the caller starts the read).
   * During a read, even of a log already loaded, it is held and merged with the read, which replaces the text.
   */
  chunk(node: string, attempt: number, text: string): "appended" | "held" | "read" {
    const entry = this.#entry(logKey(node, attempt));
    if (entry.loaded && !entry.fetching) {
      entry.text += text;
      return "appended";
    }
    entry.held.push(text);
    return entry.fetching ? "held" : "read";
  }

  /** Marks a full read as started; false when one is already in flight. */
  beginRead(node: string, attempt: number): boolean {
    const entry = this.#entry(logKey(node, attempt));
    if (entry.fetching) return false;
    entry.fetching = true;
    return true;
  }

  /** A full read's text. Held chunks that the read already ends with (or contains near its end) are not repeated. */
  read(node: string, attempt: number, text: string): string {
    const entry = this.#entry(logKey(node, attempt));
    let merged = text;
    for (const chunk of entry.held) {
      const tail = merged.slice(-(chunk.length + 8192));
      if (!tail.includes(chunk)) merged += chunk;
    }
    entry.text = merged;
    entry.loaded = true;
    entry.fetching = false;
    entry.held = [];
    return merged;
  }

  /** A read failed: held chunks stay held for the next read. */
  readFailed(node: string, attempt: number): void {
    this.#entry(logKey(node, attempt)).fetching = false;
  }
}
