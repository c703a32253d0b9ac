// When a runner that cannot renew a lease kills the attempt itself, so its process is gone before the server gives the node to another.

/** The kill of an attempt whose lease was last renewed at `renewedAt`: SIGTERM at `termAt`, SIGKILL `graceMs` later. */
export interface KillPlan {
  termAt: number;
  graceMs: number;
}

/**
 * The process must be dead before the lease runs out on the server (DESIGN §2.6). The runner measures
 * from the moment it sent the heartbeat that renewed the lease (or received the task), which is no later
 * than the server's renewal; a tenth of the lease is kept in hand for the answer's travel time and for
 * the SIGKILL to land. SIGTERM comes the kill grace before that, but never in the first half of the
 * lease: a short lease shortens the grace instead.
 */
export function killPlan(renewedAt: number, leaseMs: number, killGraceMs: number): KillPlan {
  const deadBy = renewedAt + leaseMs - leaseMs / 10;
  const termAt = Math.max(deadBy - killGraceMs, renewedAt + leaseMs / 2);
  return { termAt, graceMs: Math.max(0, deadBy - termAt) };
}
