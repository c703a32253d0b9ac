// How long finished instances, their logs, trigger events and audit rows are kept, and how purging is bounded.

/** Dedup windows reach 14 days; history must outlive them so a duplicate can still name its instance. */
export const MIN_RETENTION_DAYS = 14;
export const DEFAULT_RETENTION_DAYS = 30;
/** Who did what outlives the runs it names: a year by default, never less than the run history. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;
/** Instances (with their node runs and logs), trigger events or audit rows deleted per D1 batch. */
export const PURGE_BATCH = 500;

/**
 * One purge keeps going while it has time and queries left, so it removes as much as arrives between two
 * runs of the cron (every minute): 20 s of a run's wall time, and far fewer D1 queries than an invocation
 * may make (1,000 on the Workers Paid plan).
 */
export const PURGE_TIME_BUDGET_MS = 20_000;
export const PURGE_QUERY_BUDGET = 600;

export function retentionDays(configured: string | undefined): number {
  const days = Number(configured ?? DEFAULT_RETENTION_DAYS);
  return Number.isFinite(days) && days >= MIN_RETENTION_DAYS ? Math.floor(days) : configured === undefined ? DEFAULT_RETENTION_DAYS : MIN_RETENTION_DAYS;
}

/** AUDIT_RETENTION_DAYS: unset, the default; below the run history's retention, that retention. */
export function auditRetentionDays(configured: string | undefined, historyDays: number): number {
  const days = Number(configured ?? DEFAULT_AUDIT_RETENTION_DAYS);
  return Number.isFinite(days) ? Math.max(Math.floor(days), historyDays) : Math.max(DEFAULT_AUDIT_RETENTION_DAYS, historyDays);
}

export const retentionMs = (days: number) => days * 24 * 3600 * 1000;

/** Whether a purge that began at `startedAt` and has made `queries` D1 queries may take another batch. */
export function purgeMayContinue(startedAt: number, now: number, queries: number): boolean {
  return now - startedAt < PURGE_TIME_BUDGET_MS && queries < PURGE_QUERY_BUDGET;
}
