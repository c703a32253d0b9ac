// The endpoint http nodes call in the fault suite: a fetch stand-in that answers, fails or hangs, and records every call.
import { keyedDraw } from "./rng.ts";
import { SHORT_TIMEOUT_SECONDS, TARGET_HOST } from "./world.ts";

/** One request an http node made: when it was open, from Sluice's side (until the answer or the abort). */
export interface HttpCall {
  tag: string;
  from: number;
  to: number | null;
  outcome: "ok" | "fail" | "hang";
}

/** A hanging call answers after this long unless its caller aborts first (the node times out after 1 s). */
const HANG_MS = 2_500;

/**
 * Replaces the isolate's fetch while installed: the Worker and its Durable Objects run in the test's
 * isolate, so a coordinator's http node reaches this target; every other URL goes to the real fetch.
 */
export class HttpTarget {
  readonly calls: HttpCall[] = [];
  readonly stats = { calls: 0, failedOnPurpose: 0, hung: 0 };
  private readonly seed: number;
  private readonly perTag = new Map<string, number>();
  private real: typeof fetch | null = null;

  constructor(seed: number) {
    this.seed = seed;
  }

  install(): void {
    const real = (this.real = globalThis.fetch);
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input as RequestInfo, init);
      return new URL(request.url).host === TARGET_HOST ? this.answer(request, init?.signal ?? request.signal) : real(input as RequestInfo, init);
    }) as typeof fetch;
  }

  uninstall(): void {
    if (this.real) globalThis.fetch = this.real;
    this.real = null;
  }

  /** A call whose caller died with its Durable Object never sees an answer or an abort: it ended when its timeout would have. */
  endOf(call: HttpCall): number {
    return call.to ?? call.from + SHORT_TIMEOUT_SECONDS * 1000;
  }

  private answer(request: Request, signal: AbortSignal | null | undefined): Promise<Response> {
    const tag = decodeURIComponent(new URL(request.url).pathname.slice(1));
    const n = (this.perTag.get(tag) ?? 0) + 1;
    this.perTag.set(tag, n);
    const x = keyedDraw(this.seed, `http|${tag}|${n}`);
    const outcome: HttpCall["outcome"] = x < 0.12 ? "fail" : x < 0.22 ? "hang" : "ok";
    const call: HttpCall = { tag, from: Date.now(), to: null, outcome };
    this.calls.push(call);
    this.stats.calls++;
    if (outcome === "fail") this.stats.failedOnPurpose++;
    if (outcome === "hang") this.stats.hung++;
    const delay = outcome === "hang" ? HANG_MS : Math.floor(x * 100) % 30;
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        call.to = Date.now();
        resolve(new Response(outcome === "fail" ? "failing on purpose" : `ok ${tag}`, { status: outcome === "fail" ? 500 : 200 }));
      }, delay);
      signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        call.to ??= Date.now();
        reject(signal.reason);
      });
    });
  }
}
