// Bulk actions on instances (DESIGN §2.10): the instances page's filter as the API's bulk filter, and counts in words.
import type { BulkAction, BulkFilter, BulkResult, InstanceSummary } from "./api/types.ts";
import type { ConsoleFilter } from "./instance-filter.ts";
import { isLive } from "./status.ts";

export const BULK_ACTIONS: readonly { action: BulkAction; label: string; help: string }[] = [
  { action: "terminate", label: "Terminate", help: "Stops waiting and running instances; their node processes are killed." },
  { action: "rerun-failed", label: "Rerun failed", help: "New attempts of the failed and terminated nodes of finished instances, and what depends on them." },
  { action: "rerun-all", label: "Rerun all", help: "Every node of finished instances again, with the same version, parameters and trigger message." },
];

/** The console's filter as the bulk API takes it; its time window becomes `createdAfter`. */
export function bulkFilterOf(filter: ConsoleFilter, now: Date = new Date()): BulkFilter {
  const out: BulkFilter = {};
  if (filter.workflowId) out.workflowId = filter.workflowId;
  if (filter.status) out.status = filter.status;
  if (filter.env) out.env = filter.env;
  if (filter.triggerType) out.triggerType = filter.triggerType;
  if (filter.sinceHours) out.createdAfter = new Date(now.getTime() - filter.sinceHours * 3_600_000).toISOString();
  return out;
}

/**
 * Why the filter cannot be acted on in bulk, or null: the server asks for a workflow or a time window,
 * so one click never reaches every instance of the workspace.
 */
export function bulkFilterProblem(filter: ConsoleFilter): string | null {
  return filter.workflowId || filter.sinceHours ? null : "Choose a workflow or a time window first, or select rows.";
}

/** Whether one instance can take the action now: only live ones can be terminated, only finished ones rerun. */
export function canTake(action: BulkAction, instance: Pick<InstanceSummary, "status">): boolean {
  if (action === "terminate") return isLive(instance.status);
  if (action === "rerun-failed") return instance.status === "failed" || instance.status === "terminated";
  return !isLive(instance.status);
}

const instances = (n: number) => `${n} instance${n === 1 ? "" : "s"}`;

const VERBS: Record<BulkAction, { will: string; did: string }> = {
  terminate: { will: "terminate", did: "Terminated" },
  "rerun-failed": { will: "rerun the failed nodes of", did: "Reran the failed nodes of" },
  "rerun-all": { will: "rerun", did: "Reran" },
};

/** The dry run's sentence: "This will terminate 12 instances." */
export function willSentence(action: BulkAction, count: number): string {
  return count === 0 ? "No instance matches: nothing to do." : `This will ${VERBS[action].will} ${instances(count)}.`;
}

/** What an apply did: "Terminated 12 instances; 1 failed; 30 remain (apply again)." */
export function didSentence(action: BulkAction, result: Pick<BulkResult, "affected" | "failed" | "remaining">): string {
  const parts = [`${VERBS[action].did} ${instances(result.affected.length)}`];
  if (result.failed.length) parts.push(`${result.failed.length} failed`);
  if (result.remaining > 0) parts.push(`${result.remaining} remain: apply again to continue`);
  return `${parts.join("; ")}.`;
}
