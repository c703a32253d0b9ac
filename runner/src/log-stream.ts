// Batches an attempt's output into ordered, numbered log requests: one in flight at a time, never reordered.
import { Backoff, type BackoffOptions, sleep } from "./backoff.ts";
import { LeaseLostError, RequestRejectedError, RunnerUnauthorizedError } from "./errors.ts";

export interface LogStreamOptions {
  /**
   * Uploads one chunk; throws the classified errors of SluiceClient. `seq` numbers the chunk within the attempt
   * (0, 1, …) and stays the same on every retry of it, so the server keeps a chunk whose answer was lost once.
   */
  send: (text: string, seq: number, signal: AbortSignal) => Promise<void>;
  /** Aborted when the attempt is given up: pending text is dropped. */
  signal: AbortSignal;
  onLeaseLost: (error: LeaseLostError) => void;
  onUnauthorized: (error: RunnerUnauthorizedError) => void;
  onWarning: (message: string) => void;
  /** Pause the producer: the server is slower than the script, so let the pipe fill instead of memory. */
  onHighWater?: () => void;
  onLowWater?: () => void;
  flushAfterMs?: number;
  flushAtBytes?: number;
  /** Largest request when behind: bigger batches catch up faster (the Worker accepts up to 256 KB). */
  maxChunkBytes?: number;
  highWaterBytes?: number;
  backoff?: BackoffOptions;
  now?: () => number;
}

interface Piece {
  text: string;
  bytes: number;
  writtenAt: number;
}

export class LogStream {
  private readonly options: LogStreamOptions;
  private readonly flushAfterMs: number;
  private readonly flushAtBytes: number;
  private readonly maxChunkBytes: number;
  private readonly highWaterBytes: number;
  private readonly now: () => number;
  /** Text not yet delivered, oldest first; the head chunk stays here until the server accepted it. */
  private pieces: Piece[] = [];
  private pendingBytes = 0;
  /** The number of the next chunk to upload. */
  private nextSeq = 0;
  private sending = false;
  private draining = false;
  private closed = false;
  private producerPaused = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private drainWaiters: Array<(delivered: boolean) => void> = [];

  constructor(options: LogStreamOptions) {
    this.options = options;
    this.flushAfterMs = options.flushAfterMs ?? 200;
    this.flushAtBytes = options.flushAtBytes ?? 32 * 1024;
    this.maxChunkBytes = options.maxChunkBytes ?? 128 * 1024;
    this.highWaterBytes = options.highWaterBytes ?? 1024 * 1024;
    this.now = options.now ?? Date.now;
    if (options.signal.aborted) this.close();
    else options.signal.addEventListener("abort", () => this.close(), { once: true });
  }

  /** Queues text that is already whole characters (the caller decodes with a StringDecoder). */
  write(text: string): void {
    if (this.closed || text === "") return;
    const bytes = Buffer.byteLength(text);
    this.pieces.push({ text, bytes, writtenAt: this.now() });
    this.pendingBytes += bytes;
    if (!this.producerPaused && this.pendingBytes >= this.highWaterBytes) {
      this.producerPaused = true;
      this.options.onHighWater?.();
    }
    this.schedule();
  }

  /** Sends everything written so far; true once the server has it all, false if the stream was closed. */
  drain(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.draining = true;
    const drained = new Promise<boolean>((resolve) => this.drainWaiters.push(resolve));
    this.schedule();
    return drained;
  }

  /** Drops pending text and stops sending (the attempt was given up). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    this.pieces = [];
    this.pendingBytes = 0;
    this.resumeProducer();
    this.settleDrain(false);
  }

  private schedule(): void {
    if (this.sending || this.closed) return;
    const head = this.pieces[0];
    if (!head) {
      this.settleDrain(true);
      return;
    }
    const waitMs = this.isDue() ? 0 : head.writtenAt + this.flushAfterMs - this.now();
    if (waitMs <= 0) {
      this.clearTimer();
      void this.pump();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, waitMs);
    }
  }

  private isDue(): boolean {
    const head = this.pieces[0];
    if (!head) return false;
    return (
      this.draining ||
      this.pendingBytes >= this.flushAtBytes ||
      this.now() - head.writtenAt >= this.flushAfterMs
    );
  }

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (!this.closed && this.isDue()) {
        const count = this.headChunkLength();
        const text = this.pieces
          .slice(0, count)
          .map((piece) => piece.text)
          .join("");
        await this.deliver(text, this.nextSeq);
        this.nextSeq++;
        if (this.closed) break;
        const sent = this.pieces.splice(0, count);
        for (const piece of sent) this.pendingBytes -= piece.bytes;
        if (this.producerPaused && this.pendingBytes < this.highWaterBytes / 2) this.resumeProducer();
      }
    } finally {
      this.sending = false;
    }
    this.schedule();
  }

  /** Pieces in the next request: up to maxChunkBytes, but at least one so a big read still goes out whole. */
  private headChunkLength(): number {
    let bytes = 0;
    let count = 0;
    for (const piece of this.pieces) {
      if (count > 0 && bytes + piece.bytes > this.maxChunkBytes) break;
      bytes += piece.bytes;
      count++;
    }
    return count;
  }

  /** Retries transient failures of one chunk until it is accepted; later chunks wait behind it. */
  private async deliver(text: string, seq: number): Promise<void> {
    const backoff = new Backoff(this.options.backoff);
    let failing = false;
    const { signal } = this.options;
    while (!signal.aborted) {
      try {
        await this.options.send(text, seq, signal);
        if (failing) this.options.onWarning("log upload recovered");
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof LeaseLostError) {
          this.close();
          this.options.onLeaseLost(error);
          return;
        }
        if (error instanceof RunnerUnauthorizedError) {
          this.close();
          this.options.onUnauthorized(error);
          return;
        }
        if (error instanceof RequestRejectedError) {
          this.options.onWarning(`log chunk of ${Buffer.byteLength(text)} bytes dropped: ${error.message}`);
          return;
        }
        if (!failing) this.options.onWarning(`log upload failing, will retry: ${String(error)}`);
        failing = true;
        await sleep(backoff.nextDelayMs(), signal);
      }
    }
  }

  private resumeProducer(): void {
    if (!this.producerPaused) return;
    this.producerPaused = false;
    this.options.onLowWater?.();
  }

  private settleDrain(delivered: boolean): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve(delivered);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
