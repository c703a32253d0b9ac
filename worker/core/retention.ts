// How long finished instances, their logs, trigger events and audit rows are kept, and how purging is bounded.

/**
 * History may be kept for as little as a minute (a test installation, a soak). Dedup entries live in the
 * coordinators with their own windows (up to 14 days), so a duplicate is still refused after its first
 * instance's history is gone; it then names an instance that answers 404. Keep 14 days or more to avoid that.
 */
export const MIN_RETENTION_DAYS = 1 / (24 * 60);
export const DEFAULT_RETENTION_DAYS = 30;
/** Who did what outlives the runs it names: a year by default, never less than the run history. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
/**
 * Audit actions (SQL LIKE patterns) of the data path: run requests, queue sends, uploads. A system that
 * starts runs or sends events through the API writes one such row a request: at 10 a second a year of them
 * would outgrow a D1 database (10 GB), so they go with the run history (RETENTION_DAYS), and only changes to
 * what exists (workflows, triggers, keys, grants…) keep the audit's year.
 */
export const DATA_PATH_AUDIT_ACTIONS = [
  "POST /api/v1/workflows/:id/runs",
  "POST /api/v1/queues/:queue/messages",
  "PUT /api/v1/buckets/%",
  "DELETE /api/v1/buckets/%",
] as const;
/**
 * Instances (with their node runs and logs), trigger events or audit rows deleted per D1 batch: a batch of
 * instances costs 4 D1 queries and an R2 delete per 1,000 attempts, so 600 queries a minute remove 300,000
 * instances (5,000/s), above the fastest ingest measured (bench/RESULTS.md, about 2,500 runs/s).
 */
export const PURGE_BATCH = 2000;

/**
 * One purge keeps going while it has time, queries and calls left, so it removes as much as arrives between
 * two runs of the cron (every minute): 20 s of a run's wall time; D1 queries well below what an invocation may
 * make (1,000 on the Workers Paid plan; the log archive sweep in the same run takes up to 300 more); R2 calls
 * (the log objects' deletes) well below its subrequests (10,000).
 */
export const PURGE_TIME_BUDGET_MS = 20_000;
export const PURGE_QUERY_BUDGET = 600;
export const PURGE_R2_CALL_BUDGET = 3_000;

/** What a purge has spent so far. */
export interface PurgeSpent {
  queries: number;
  r2Calls: number;
}

/** RETENTION_DAYS: unset or not a number, the default; fractions allowed ("0.01" is 14.4 minutes); at least a minute. */
export function retentionDays(configured: string | undefined): number {
  const days = Number(configured ?? DEFAULT_RETENTION_DAYS);
  if (configured === undefined || configured.trim() === "" || !Number.isFinite(days)) return DEFAULT_RETENTION_DAYS;
  return Math.max(days, MIN_RETENTION_DAYS);
}

/** AUDIT_RETENTION_DAYS: unset, the default; below the run history's retention, that retention. */
export function auditRetentionDays(configured: string | undefined, historyDays: number): number {
  const days = Number(configured ?? DEFAULT_AUDIT_RETENTION_DAYS);
  return Number.isFinite(days) && configured?.trim() !== "" ? Math.max(days, historyDays) : Math.max(DEFAULT_AUDIT_RETENTION_DAYS, historyDays);
}

export const retentionMs = (days: number) => days * 24 * 3600 * 1000;

/** Whether a purge that began at `startedAt` and has spent `spent` may take another batch. */
export function purgeMayContinue(startedAt: number, now: number, spent: PurgeSpent): boolean {
  return now - startedAt < PURGE_TIME_BUDGET_MS && spent.queries < PURGE_QUERY_BUDGET && spent.r2Calls < PURGE_R2_CALL_BUDGET;
}
