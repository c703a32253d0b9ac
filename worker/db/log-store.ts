// Node logs: running attempts' chunks in D1 (the live tail), a finished attempt's log as one R2 object; archiving moves one to the other.
import {
  ARCHIVE_BATCH,
  ARCHIVE_CONCURRENCY,
  archiveMayContinue,
  attemptFinished,
  chunksToArchive,
  contentRange,
  logObjectKey,
  parseByteRange,
  type ByteRange,
  type LogChunk,
} from "../core/logs.ts";
import { FINISHED_NODE } from "../core/progress.ts";

/** One attempt, with what names its log object. */
export interface LogAttempt {
  id: string;
  workspace_id: string;
  instance_id: string;
  node_name: string;
  attempt: number;
  status: string;
}

const FINISHED_SQL = [...FINISHED_NODE].map((s) => `'${s}'`).join(", ");
const ATTEMPT_COLUMNS = `r.id, i.workspace_id, r.instance_id, r.node_name, r.attempt, r.status`;
const TEXT = "text/plain; charset=utf-8";
const encoder = new TextEncoder();

const keyOf = (a: LogAttempt) => logObjectKey(a.workspace_id, a.instance_id, a.node_name, a.attempt);
/** The id of the last D1 chunk an object holds (its metadata; 0 with no object). */
const heldThrough = (object: R2Object | null) => Number(object?.customMetadata?.through ?? 0);

async function chunksOf(db: D1Database, attemptId: string): Promise<LogChunk[]> {
  return (await db.prepare(`SELECT id, text FROM node_logs WHERE node_run_id = ? ORDER BY id`).bind(attemptId).all<LogChunk>()).results;
}

function concat(head: ArrayBuffer, tail: string): Uint8Array {
  const more = encoder.encode(tail);
  const out = new Uint8Array(head.byteLength + more.byteLength);
  out.set(new Uint8Array(head), 0);
  out.set(more, head.byteLength);
  return out;
}

/** archiveAttempt by id, for a runner's result: an attempt that printed nothing costs one D1 read. */
export async function archiveById(db: D1Database, bucket: R2Bucket, attemptId: string): Promise<number> {
  const chunks = await chunksOf(db, attemptId);
  if (chunks.length === 0) return 0;
  const attempt = await logAttempt(db, attemptId);
  return attempt === null ? 0 : archiveAttempt(db, bucket, attempt, chunks);
}

/** One attempt as the archiver and the log route name it, from D1 (null: D1 has no such node run yet). */
export async function logAttempt(db: D1Database, attemptId: string): Promise<LogAttempt | null> {
  return db
    .prepare(`SELECT ${ATTEMPT_COLUMNS} FROM node_runs r JOIN instances i ON i.id = r.instance_id WHERE r.id = ?`)
    .bind(attemptId)
    .first<LogAttempt>();
}

/**
 * Moves a finished attempt's D1 chunks into its object, written whole (the old object's bytes, then the new
 * chunks), then deletes exactly the chunks the object now holds; a chunk that lands meanwhile stays for the
 * next time. The caller knows the attempt finished: D1 says so, or its runner's result was just taken (a
 * runner sends every chunk before its result). Idempotent: the object's `through` metadata says which chunks it holds, so a write whose delete
 * never happened is not repeated. The write is conditional on the object read, so two archivers at once never
 * lose a chunk: the one that loses writes nothing and deletes nothing. Returns the chunks deleted.
 */
export async function archiveAttempt(db: D1Database, bucket: R2Bucket, attempt: LogAttempt, read?: LogChunk[]): Promise<number> {
  const chunks = read ?? (await chunksOf(db, attempt.id));
  if (chunks.length === 0) return 0;
  const key = keyOf(attempt);
  const head = await bucket.head(key);
  let through = heldThrough(head);
  if (chunksToArchive(chunks, through) !== null) {
    const old = head === null ? null : await bucket.get(key);
    through = heldThrough(old);
    const next = chunksToArchive(chunks, through);
    if (next !== null) {
      const body = old === null ? next.text : concat(await old.arrayBuffer(), next.text);
      const written = await bucket.put(key, body, {
        httpMetadata: { contentType: TEXT },
        customMetadata: { through: String(next.through) },
        onlyIf: old === null ? { etagDoesNotMatch: "*" } : { etagMatches: old.etag },
      });
      if (written === null) return 0;
      through = next.through;
    } else if (old !== null) {
      await old.body.cancel();
    }
  }
  const deleted = await db.prepare(`DELETE FROM node_logs WHERE node_run_id = ? AND id <= ?`).bind(attempt.id, through).run();
  return deleted.meta.changes;
}

export interface Swept {
  /** Attempts whose chunks went to R2 in this sweep. */
  attempts: number;
  /** No finished attempt old enough was left with chunks (false: the budget ran out or an attempt failed). */
  complete: boolean;
}

/**
 * The cron's sweep: every attempt D1 shows finished (before `finishedBefore`) that still has chunks in D1 —
 * attempts no runner result archived (http nodes, timeouts, terminations, lost leases), late lines after an
 * archive, archives that failed. Found from node_logs, which holds only live tails and such leftovers.
 */
export async function archiveFinishedLogs(db: D1Database, bucket: R2Bucket, finishedBefore: number, clock: () => number = Date.now): Promise<Swept> {
  const startedAt = clock();
  let queries = 0;
  const swept: Swept = { attempts: 0, complete: false };
  let failed = false;
  while (archiveMayContinue(startedAt, clock(), queries)) {
    const { results: batch } = await db
      .prepare(
        `SELECT ${ATTEMPT_COLUMNS} FROM node_runs r JOIN instances i ON i.id = r.instance_id
         WHERE r.id IN (SELECT DISTINCT node_run_id FROM node_logs) AND r.status IN (${FINISHED_SQL}) AND COALESCE(r.finished_at, 0) < ?1
         ORDER BY r.finished_at LIMIT ?2`,
      )
      .bind(finishedBefore, ARCHIVE_BATCH)
      .all<LogAttempt>();
    queries += 1 + 2 * batch.length;
    await inParallel(batch, ARCHIVE_CONCURRENCY, async (attempt) => {
      try {
        if ((await archiveAttempt(db, bucket, attempt)) > 0) swept.attempts++;
      } catch (err) {
        failed = true;
        console.error(`sluice logs: the log of ${attempt.id} was not archived: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    if (batch.length < ARCHIVE_BATCH) {
      swept.complete = !failed;
      break;
    }
  }
  return swept;
}

async function inParallel<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}

/** A log answer: the bytes (or R2's stream of them), the status, and the headers that go with it. */
export interface LogAnswer {
  status: 200 | 206 | 416;
  body: ReadableStream | Uint8Array | null;
  headers: Record<string, string>;
}

function answer(status: LogAnswer["status"], body: LogAnswer["body"], size: number, range: ByteRange | null): LogAnswer {
  const headers: Record<string, string> = { "content-type": TEXT, "accept-ranges": "bytes" };
  if (status !== 200) headers["content-range"] = contentRange(range, size);
  return { status, body, headers };
}

/** Whole bytes in memory, answered whole or in the requested range. */
function fromBytes(bytes: Uint8Array, rangeHeader: string | null): LogAnswer {
  const range = parseByteRange(rangeHeader, bytes.byteLength);
  if (range === "whole") return answer(200, bytes, bytes.byteLength, null);
  if (range === "unsatisfiable") return answer(416, null, bytes.byteLength, null);
  return answer(206, bytes.subarray(range.start, range.end + 1), bytes.byteLength, range);
}

/**
 * An attempt's log: a running attempt's is its D1 chunks; a finished one's is its R2 object followed by the
 * chunks it does not hold yet. An archived log with no such chunks is streamed from R2, and a Range is R2's
 * to read, so a large log is never read whole. An attempt D1 still shows running with no chunks is looked
 * up in R2 too: its runner's result archives it at once, and the mirror may not have said it finished yet
 * (a runner sends every chunk before its result, so a running attempt with chunks has none archived).
 */
export async function readLog(db: D1Database, bucket: R2Bucket, attempt: LogAttempt, rangeHeader: string | null): Promise<LogAnswer> {
  // D1 first: a chunk archived between the two reads is then in the object, and `through` keeps it from showing twice.
  const chunks = await chunksOf(db, attempt.id);
  const tail = (after: number) =>
    chunks
      .filter((c) => c.id > after)
      .map((c) => c.text)
      .join("");
  if (!attemptFinished(attempt.status) && chunks.length > 0) return fromBytes(encoder.encode(tail(0)), rangeHeader);
  const key = keyOf(attempt);
  if (chunks.length === 0 && rangeHeader === null) {
    const object = await bucket.get(key);
    return object === null ? fromBytes(new Uint8Array(), null) : answer(200, object.body, object.size, null);
  }
  if (chunks.length === 0) {
    const head = await bucket.head(key);
    if (head === null) return fromBytes(new Uint8Array(), rangeHeader);
    const range = parseByteRange(rangeHeader, head.size);
    if (range === "unsatisfiable") return answer(416, null, head.size, null);
    // An object only grows (an append rewrites it as old + new), so the range read now holds the same bytes.
    const object = await bucket.get(key, range === "whole" ? {} : { range: { offset: range.start, length: range.end - range.start + 1 } });
    if (object === null) return fromBytes(new Uint8Array(), rangeHeader);
    return range === "whole" ? answer(200, object.body, head.size, null) : answer(206, object.body, head.size, range);
  }
  const object = await bucket.get(key);
  return fromBytes(concat(object === null ? new ArrayBuffer(0) : await object.arrayBuffer(), tail(heldThrough(object))), rangeHeader);
}
