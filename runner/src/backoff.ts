// Exponential backoff with jitter, and an abortable sleep, for retrying requests to the Worker.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

/** Delays 200 ms, 400 ms, … up to maxMs, each jittered ±20% so a fleet of runners does not retry in step. */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private failures = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 200;
    this.maxMs = options.maxMs ?? 5_000;
  }

  nextDelayMs(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 30);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.failures = 0;
  }
}

/** Resolves after ms, or early (without throwing) when the signal aborts; callers check the signal. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
