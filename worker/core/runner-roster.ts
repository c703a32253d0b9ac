// Which registered runners a pool still remembers: every runner restart registers anew, so the gone ones are forgotten.

/** Gone runners stay listed (as disconnected) at least this long, so the Runners page shows what just left. */
export const RUNNER_MEMORY_MS = 3600_000;

/**
 * Runners last seen before this are forgotten: an hour, or ten lease periods if leases are that long. One
 * that comes back is told it is not registered and registers again (the runner protocol's answer).
 */
export function forgetRunnersSeenBefore(now: number, leaseMs: number): number {
  return now - Math.max(RUNNER_MEMORY_MS, 10 * leaseMs);
}
