// Reads the key=value lines a node wrote to $SLUICE_OUTPUT (DESIGN §2.1) into its outputs.
import { open } from "node:fs/promises";

/** Same cap as the Worker's MAX_OUTPUTS_BYTES: a runaway writer cannot bloat the completion. */
export const MAX_OUTPUT_FILE_BYTES = 64 * 1024;

const OUTPUT_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses output lines: `key=value`, value is the rest of the line, the last value of a key wins. */
export function parseOutputLines(text: string): Record<string, string> {
  const outputs = new Map<string, string>();
  for (const rawLine of text.split("\n")) {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    const equals = line.indexOf("=");
    if (equals <= 0) continue;
    const key = line.slice(0, equals);
    if (!OUTPUT_KEY.test(key)) continue;
    outputs.delete(key); // keeps insertion order = order of the winning lines
    outputs.set(key, line.slice(equals + 1));
  }
  // fromEntries defines own properties, so a key such as __proto__ stays plain data.
  return Object.fromEntries(outputs);
}

/** Reads at most MAX_OUTPUT_FILE_BYTES; when the file is longer, its cut-off last line is dropped. */
export async function readOutputFile(path: string): Promise<Record<string, string>> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch {
    return {}; // the script may have removed it; no outputs then
  }
  try {
    const buffer = Buffer.alloc(MAX_OUTPUT_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    let bytes = buffer.subarray(0, Math.min(length, MAX_OUTPUT_FILE_BYTES));
    if (length > MAX_OUTPUT_FILE_BYTES) bytes = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
    return parseOutputLines(bytes.toString("utf8"));
  } finally {
    await handle.close();
  }
}
