// The log batching rules: order, one request at a time, 200 ms / 32 KB flushes, retries, lease loss.
import { describe, expect, test } from "vitest";
import { LeaseLostError, TransientRequestError } from "../src/errors.ts";
import { LogStream, type LogStreamOptions } from "../src/log-stream.ts";
import { waitFor } from "./fake-sluice.ts";

interface Sink {
  stream: LogStream;
  sent: string[];
  attempts: string[];
  /** The seq of each request, retries included. */
  seqs: number[];
  sentAt: number[];
  leaseLost: number;
  mostInFlight: number;
}

/** A stream over a fake upload that takes `delayMs` and throws for the first `failures` requests. */
function streamWith(options: { delayMs?: number; failures?: number; error?: () => Error } = {}): Sink {
  const sink: Sink = { stream: undefined as unknown as LogStream, sent: [], attempts: [], seqs: [], sentAt: [], leaseLost: 0, mostInFlight: 0 };
  let inFlight = 0;
  let failures = options.failures ?? 0;
  const send: LogStreamOptions["send"] = async (text, seq) => {
    sink.attempts.push(text);
    sink.seqs.push(seq);
    inFlight++;
    sink.mostInFlight = Math.max(sink.mostInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 0));
    inFlight--;
    if (failures > 0) {
      failures--;
      throw (options.error ?? (() => new TransientRequestError("502")))();
    }
    sink.sent.push(text);
    sink.sentAt.push(Date.now());
  };
  sink.stream = new LogStream({
    send,
    signal: new AbortController().signal,
    onLeaseLost: () => sink.leaseLost++,
    onUnauthorized: () => {},
    onWarning: () => {},
    backoff: { initialMs: 5, maxMs: 20 },
  });
  return sink;
}

describe("log stream", () => {
  test("delivers everything in write order with one request in flight at a time", async () => {
    const sink = streamWith({ delayMs: 15 });
    const expected: string[] = [];
    for (let i = 0; i < 200; i++) {
      const line = `line ${i}\n`;
      expected.push(line);
      sink.stream.write(line);
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(await sink.stream.drain()).toBe(true);
    expect(sink.sent.join("")).toBe(expected.join(""));
    expect(sink.mostInFlight).toBe(1);
  });

  test("waits 200 ms after the first unsent byte before sending a small chunk", async () => {
    const sink = streamWith();
    const writtenAt = Date.now();
    sink.stream.write("a");
    await new Promise((resolve) => setTimeout(resolve, 100));
    sink.stream.write("b");
    await waitFor(() => sink.sent.length === 1, "the timed flush", 2_000);
    expect(sink.sent).toEqual(["ab"]);
    expect((sink.sentAt[0] ?? 0) - writtenAt).toBeGreaterThanOrEqual(190);
  });

  test("sends at once when 32 KB are buffered", async () => {
    const sink = streamWith();
    const writtenAt = Date.now();
    for (let i = 0; i < 8; i++) sink.stream.write("x".repeat(4 * 1024));
    await waitFor(() => sink.sent.length >= 1, "the size flush", 2_000);
    expect((sink.sentAt[0] ?? 0) - writtenAt).toBeLessThan(150);
    expect(sink.sent[0]?.length).toBe(32 * 1024);
  });

  test("batches a backlog into requests of at most 128 KB", async () => {
    const sink = streamWith({ delayMs: 20 });
    for (let i = 0; i < 100; i++) sink.stream.write("y".repeat(10 * 1024));
    expect(await sink.stream.drain()).toBe(true);
    expect(sink.sent.join("").length).toBe(100 * 10 * 1024);
    for (const chunk of sink.sent) expect(chunk.length).toBeLessThanOrEqual(128 * 1024);
    expect(sink.sent.length).toBeLessThan(20);
  });

  test("retries a chunk that failed transiently, and nothing written later overtakes it", async () => {
    const sink = streamWith({ failures: 3 });
    sink.stream.write("first ");
    await waitFor(() => sink.attempts.length >= 1, "the first attempt", 2_000);
    sink.stream.write("second");
    expect(await sink.stream.drain()).toBe(true);
    expect(sink.attempts.slice(0, 4)).toEqual(["first ", "first ", "first ", "first "]);
    expect(sink.sent.join("")).toBe("first second");
  });

  test("numbers the chunks 0, 1, 2, … and sends a retried chunk with its own number again", async () => {
    const sink = streamWith({ failures: 2 });
    sink.stream.write("first ");
    await waitFor(() => sink.attempts.length >= 1, "the first attempt", 2_000);
    sink.stream.write("second ");
    expect(await sink.stream.drain()).toBe(true);
    sink.stream.write("third");
    expect(await sink.stream.drain()).toBe(true);
    expect(sink.attempts).toEqual(["first ", "first ", "first ", "second ", "third"]);
    expect(sink.seqs).toEqual([0, 0, 0, 1, 2]);
  });

  test("a lost lease drops what is pending, reports it once, and sends nothing more", async () => {
    const sink = streamWith({ failures: 1, error: () => new LeaseLostError("409") });
    sink.stream.write("doomed");
    expect(await sink.stream.drain()).toBe(false);
    sink.stream.write("after");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sink.leaseLost).toBe(1);
    expect(sink.attempts).toEqual(["doomed"]);
    expect(sink.sent).toEqual([]);
  });
});
