// Node logs in R2 (DESIGN §3): where a finished attempt's log object lives, when it is archived, and byte ranges of it.
import { FINISHED_NODE, type NodeStatus } from "./progress.ts";

/** Only a finished attempt's log is archived (a D1 row's status, which never leaves a final state). */
export const attemptFinished = (status: string) => FINISHED_NODE.has(status as NodeStatus);

/**
 * The one object holding a finished attempt's log. Node names are identifiers already (definition.ts NODE_NAME)
 * and ids are `prefix_base32`; each part is still percent-encoded, so no value could ever make a `/` of its own.
 */
export function logObjectKey(workspaceId: string, instanceId: string, nodeName: string, attempt: number): string {
  return `${instanceLogPrefix(workspaceId, instanceId)}${encodeURIComponent(nodeName)}/${attempt}.log`;
}

/** Every log object of one instance starts with this (retention lists and deletes by it). */
export function instanceLogPrefix(workspaceId: string, instanceId: string): string {
  return `logs/${encodeURIComponent(workspaceId)}/${encodeURIComponent(instanceId)}/`;
}

/**
 * A finished attempt is archived by the sweep only this long after it finished: lines the Worker writes after
 * the result (a coordinator's note, an http node's last line) mostly land first, and one object write takes
 * them all. Later ones are kept in D1, served after the object, and appended by the next sweep.
 */
export const ARCHIVE_MIN_AGE_MS = 5_000;
/** Finished attempts with chunks in D1 taken per sweep query. */
export const ARCHIVE_BATCH = 40;
/** Attempts archived at once inside a batch (each: a D1 read, an R2 read and write, a D1 delete). */
export const ARCHIVE_CONCURRENCY = 8;
/** D1 queries of one batch at most: the query that finds it, then a read and a delete per attempt. */
export const ARCHIVE_QUERIES_PER_BATCH = 1 + 2 * ARCHIVE_BATCH;
/**
 * The cron's sweep shares its invocation with the retention purge (20 s, 600 D1 queries, of the 1,000 an
 * invocation may make): it takes another batch while it is under 15 s and the batch fits in 300 D1 queries
 * (R2 calls are as many: a get and a put per attempt). What is left waits for the next minute.
 */
export const ARCHIVE_TIME_BUDGET_MS = 15_000;
export const ARCHIVE_QUERY_BUDGET = 300;

/** Whether a sweep that began at `startedAt` and has made `queries` D1 queries may take another batch. */
export function archiveMayContinue(startedAt: number, now: number, queries: number): boolean {
  return now - startedAt < ARCHIVE_TIME_BUDGET_MS && queries + ARCHIVE_QUERIES_PER_BATCH <= ARCHIVE_QUERY_BUDGET;
}

/** One chunk of a live tail in D1, by its row id (ids only grow, so they order the chunks and mark what is archived). */
export interface LogChunk {
  id: number;
  text: string;
}

/**
 * What goes into an attempt's object now: the chunks past the last one the object already holds (`through`, its
 * metadata; 0 with no object). A write that stopped before its chunks were deleted is not written twice.
 */
export function chunksToArchive(chunks: readonly LogChunk[], through: number): { text: string; through: number } | null {
  const fresh = chunks.filter((c) => c.id > through);
  if (fresh.length === 0) return null;
  return { text: fresh.map((c) => c.text).join(""), through: Math.max(...fresh.map((c) => c.id)) };
}

/** A byte range of a log, both ends included. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * An HTTP `Range` header against a body of `size` bytes (RFC 9110 §14): `bytes=a-b`, `bytes=a-` or `bytes=-n`.
 * `whole`: no header, a unit other than bytes, or several ranges (served whole, as the RFC allows);
 * `unsatisfiable`: a malformed bytes range, or one that starts past the end (416).
 */
export function parseByteRange(header: string | null | undefined, size: number): ByteRange | "whole" | "unsatisfiable" {
  if (header === null || header === undefined) return "whole";
  const match = /^\s*([A-Za-z]+)\s*=\s*(.*)$/.exec(header);
  if (!match || match[1]!.toLowerCase() !== "bytes") return "whole";
  const spec = match[2]!.trim();
  if (spec.includes(",")) return "whole";
  const parts = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
  if (!parts || (parts[1] === "" && parts[2] === "")) return "unsatisfiable";
  if (parts[1] === "") {
    const suffix = Number(parts[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(parts[1]);
  const end = parts[2] === "" ? size - 1 : Math.min(Number(parts[2]), size - 1);
  if (parts[2] !== "" && Number(parts[2]) < start) return "unsatisfiable";
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** The `Content-Range` of a 206 answer, or of a 416 (`bytes *\/size`). */
export function contentRange(range: ByteRange | null, size: number): string {
  return range === null ? `bytes */${size}` : `bytes ${range.start}-${range.end}/${size}`;
}
