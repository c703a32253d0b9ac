// Bulk actions over instances (DESIGN §2.10): which instances a filter may match for an action, and how the work is cut into batches.
import { badRequest, type ErrorDetail } from "./errors.ts";
import { FINISHED_INSTANCE, type InstanceStatus } from "./progress.ts";
import type { TriggerType } from "./runs.ts";

export const BULK_ACTIONS = ["terminate", "rerun-failed", "rerun-all"] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

export const BULK_TRIGGER_TYPES = ["manual", "api", "r2", "queue", "webhook"] as const satisfies readonly TriggerType[];

/** The filter as the API takes it: times are epoch milliseconds here (the route parses ISO 8601). */
export interface BulkFilter {
  workflowId?: string;
  status?: InstanceStatus;
  env?: "dev" | "prod";
  triggerType?: TriggerType;
  createdAfter?: number;
  createdBefore?: number;
}

/** What the D1 query matches: the filter with the statuses the action can act on. */
export interface BulkMatch extends Omit<BulkFilter, "status"> {
  statuses: InstanceStatus[];
}

/**
 * The statuses each action can act on: terminate stops what has not finished; rerun-failed gives new attempts
 * to the failed and terminated nodes of an instance that ended failed or terminated; rerun-all runs again any
 * finished instance (a skipped one, which never ran, included). `matched` counts only these: an instance the
 * action could only refuse is never matched.
 */
export const ACTION_STATUSES: Record<BulkAction, readonly InstanceStatus[]> = {
  terminate: ["waiting", "running"],
  "rerun-failed": ["failed", "terminated"],
  "rerun-all": [...FINISHED_INSTANCE],
};

/** At most this many instances are acted on per request; `remaining` tells the caller to call again. */
export const MAX_PER_REQUEST = 1_000;
/** Coordinator calls in flight at once: a bulk action must not flood the workflows' coordinators. */
export const CALLS_AT_ONCE = 50;

/**
 * Checks a filter against an action and answers what to match. Refused with a 400 naming the field: a filter
 * that names neither a workflow nor a created time range (a bulk action over a whole workspace is too easy to
 * send by mistake; name the range, however wide), an empty or inverted time range, and a status the action
 * can never act on.
 */
export function bulkMatch(action: BulkAction, filter: BulkFilter): BulkMatch {
  const problems: ErrorDetail[] = [];
  const { status, ...rest } = filter;
  if (filter.workflowId === undefined && filter.createdAfter === undefined && filter.createdBefore === undefined) {
    problems.push({
      path: "filter",
      message: "name a workflow (filter.workflowId) or a created time range (filter.createdAfter, filter.createdBefore): a bulk action over a whole workspace is refused",
    });
  }
  if (filter.createdAfter !== undefined && filter.createdBefore !== undefined && filter.createdAfter >= filter.createdBefore) {
    problems.push({ path: "filter.createdBefore", message: "filter.createdBefore must be later than filter.createdAfter" });
  }
  const actionable = ACTION_STATUSES[action];
  if (status !== undefined && !actionable.includes(status)) {
    problems.push({ path: "filter.status", message: `${action} acts only on instances that are ${actionable.join(", ")}; filter.status '${status}' would match none` });
  }
  if (problems.length > 0) throw badRequest(problems.length === 1 ? problems[0]!.message : `${problems.length} problems in the filter: ${problems[0]!.message} …`, problems);
  return { ...rest, statuses: status === undefined ? [...actionable] : [status] };
}

/**
 * The environments a filter can reach, each needing its own right to run (DESIGN roles: dev for developers,
 * prod for operators): without filter.env, both.
 */
export const environmentsOf = (filter: BulkFilter): ("dev" | "prod")[] => (filter.env === undefined ? ["dev", "prod"] : [filter.env]);

/** The ids one request acts on, in rounds of at most CALLS_AT_ONCE. */
export function batches<T>(items: readonly T[], size = CALLS_AT_ONCE): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface BulkOutcome {
  id: string;
  /** null: done; else why the instance's coordinator refused or could not be reached. */
  error: string | null;
}

export interface BulkReport {
  dryRun: boolean;
  matched: number;
  affected: string[];
  failed: { id: string; error: string }[];
  /** Matched but not acted on in this request (the per-request cap): call again. */
  remaining: number;
}

/**
 * The answer: a dry run lists what an apply now would act on (the first MAX_PER_REQUEST, oldest first) and
 * leaves the rest as `remaining`; an apply reports each instance acted on, done or failed.
 */
export function bulkReport(dryRun: boolean, matched: number, outcomes: readonly BulkOutcome[]): BulkReport {
  const affected = outcomes.filter((o) => o.error === null).map((o) => o.id);
  const failed = outcomes.flatMap((o) => (o.error === null ? [] : [{ id: o.id, error: o.error }]));
  return { dryRun, matched, affected, failed, remaining: Math.max(0, matched - outcomes.length) };
}

/** Runs `act` over the ids in rounds of CALLS_AT_ONCE; a failure is the instance's outcome, never the request's. */
export async function applyInBatches(ids: readonly string[], act: (id: string) => Promise<string | null>): Promise<BulkOutcome[]> {
  const outcomes: BulkOutcome[] = [];
  for (const round of batches(ids)) {
    outcomes.push(
      ...(await Promise.all(
        round.map(async (id) => {
          try {
            return { id, error: await act(id) };
          } catch (err) {
            return { id, error: err instanceof Error ? err.message : String(err) };
          }
        }),
      )),
    );
  }
  return outcomes;
}
