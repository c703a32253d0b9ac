// A fake http target for http-node tests: the Worker's Durable Objects run in the test's isolate, so a stubbed fetch stands in for the network.
import { afterEach, beforeEach } from "vitest";

/**
 * Routes every request to `host` to `answer` (with the request and its 1-based number) for each test
 * of the calling file; other hosts go to the real fetch. The returned object counts the requests.
 */
export function fakeHttpTarget(host: string, answer: (request: Request, n: number) => Promise<Response>): { calls: number } {
  const seen = { calls: 0 };
  let realFetch: typeof fetch;
  beforeEach(() => {
    seen.calls = 0;
    realFetch = globalThis.fetch;
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input as RequestInfo, init);
      if (new URL(request.url).host !== host) return realFetch(input as RequestInfo, init);
      return answer(request, ++seen.calls);
    }) as typeof fetch;
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
  });
  return seen;
}
