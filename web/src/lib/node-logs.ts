// Which node logs the instance page shows open, and which of them to (re)fetch.
import type { NodeRun } from "./api.ts";
import { hasStarted } from "./status.ts";

/** Up to this many nodes, every started node's log is open at first; past it only the interesting ones. */
export const OPEN_ALL_LOGS_UP_TO = 10;

/** A log is stale once its node moves on: another attempt, or another status. */
export function logVersion(node: Pick<NodeRun, "attempt" | "status">): string {
  return `${node.attempt}:${node.status}`;
}

/** Open unless the person chose otherwise: running and failed nodes, or every started node of a small instance. */
export function isOpenByDefault(node: NodeRun, nodeCount: number): boolean {
  if (!hasStarted(node)) return false;
  return node.status === "running" || node.status === "failed" || nodeCount <= OPEN_ALL_LOGS_UP_TO;
}

/**
 * The nodes whose log to fetch now: open, started, and either still running (the log grows)
 * or changed since their log was last fetched.
 */
export function logsDue(
  nodes: readonly NodeRun[],
  isOpen: (name: string) => boolean,
  fetchedVersion: (name: string) => string | undefined,
): string[] {
  return nodes
    .filter((node) => hasStarted(node) && isOpen(node.name))
    .filter((node) => node.status === "running" || fetchedVersion(node.name) !== logVersion(node))
    .map((node) => node.name);
}
