// How long finished instances, their logs and trigger events are kept, and how purging is bounded.

/** Dedup windows reach 14 days; history must outlive them so a duplicate can still name its instance. */
export const MIN_RETENTION_DAYS = 14;
export const DEFAULT_RETENTION_DAYS = 30;
/** Rows purged per batch and batches per run: purging never holds the database for long. */
export const PURGE_BATCH = 200;
export const PURGE_BATCHES_PER_RUN = 25;

export function retentionDays(configured: string | undefined): number {
  const days = Number(configured ?? DEFAULT_RETENTION_DAYS);
  return Number.isFinite(days) && days >= MIN_RETENTION_DAYS ? Math.floor(days) : configured === undefined ? DEFAULT_RETENTION_DAYS : MIN_RETENTION_DAYS;
}

export const retentionMs = (days: number) => days * 24 * 3600 * 1000;
