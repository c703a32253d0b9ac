// Live followers of an instance: a runner's log chunk goes on to the coordinator only while one watches (issue 11).

/** How long a watch holds without renewal: a watch whose coordinator vanished lapses by itself. */
export const WATCH_MS = 5 * 60_000;
/** The coordinator renews a watch once less than this is left, so it never lapses while a socket is open. */
export const RENEW_WITHIN_MS = WATCH_MS / 2;

/** The pool's verdict on a log chunk: whether it goes on to the coordinator, whose sockets then get it. */
export function isWatched(until: number | null, now: number): boolean {
  return until !== null && until > now;
}

/**
 * What a coordinator asks of the pool for an instance, given the watch the pool holds (`held`, as far as
 * the coordinator knows) and the instance's open sockets: a watch until when, an end to it (`until: null`),
 * or nothing (`null`). A watch is set before a new socket's first message, so the socket gets every
 * chunk the pool accepts after it read the log.
 */
export function watchChange(held: number | null, sockets: number, now: number): { until: number | null } | null {
  if (sockets === 0) return held === null ? null : { until: null };
  if (held !== null && held - now > RENEW_WITHIN_MS) return null;
  return { until: now + WATCH_MS };
}

/** When the coordinator must renew the first of the watches it holds (its alarm), or null. */
export function nextRenewalAt(held: readonly number[]): number | null {
  return held.length === 0 ? null : Math.min(...held) - RENEW_WITHIN_MS;
}
