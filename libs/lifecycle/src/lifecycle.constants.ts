import type { JobOptions } from 'bull';
import type { LifecycleConfig } from '@app/core';

/** Queue, job names, schedules and job options of the lifecycle module, in one place. */
export const LIFECYCLE_QUEUE = 'lifecycle';

export const LIFECYCLE_JOB_NAMES = ['expire-pending', 'reconcile', 'integrity-scan', 'tiering'] as const;
export type LifecycleJobName = (typeof LIFECYCLE_JOB_NAMES)[number];

export function isLifecycleJobName(name: string): name is LifecycleJobName {
  return (LIFECYCLE_JOB_NAMES as readonly string[]).includes(name);
}

/** The config field holding each job's cron schedule (`off` = not scheduled). */
export const LIFECYCLE_SCHEDULE_SETTING: Record<LifecycleJobName, keyof LifecycleConfig> = {
  'expire-pending': 'LIFECYCLE_EXPIRE_PENDING_SCHEDULE',
  reconcile: 'LIFECYCLE_RECONCILE_SCHEDULE',
  'integrity-scan': 'LIFECYCLE_INTEGRITY_SCAN_SCHEDULE',
  tiering: 'LIFECYCLE_TIERING_SCHEDULE',
};

/** The job's cron schedule (UTC), or null when it is `off`. */
export function scheduleOf(lifecycle: LifecycleConfig, name: LifecycleJobName): string | null {
  const cron = String(lifecycle[LIFECYCLE_SCHEDULE_SETTING[name]]);
  return cron === 'off' ? null : cron;
}

/**
 * Options of a scheduled tick, on top of what ensureRepeatableJob gives every repeatable (job id = job name, so
 * one repeatable key across replicas; cron in UTC; nothing left behind in Redis): not retried, the next tick is
 * the retry.
 */
export const SCHEDULED_TICK_OPTIONS: JobOptions = { attempts: 1 };

/** Prefix (after REDIS_KEY_PREFIX) of the per-job lock that keeps a manual run and a scheduled tick from overlapping. */
export const LIFECYCLE_LOCK_PREFIX = 'lifecycle:lock';
/** The lock expires this long after its holder stops renewing it (a crashed process frees it). */
export const LIFECYCLE_LOCK_TTL_MS = 60_000;
/** Items a report lists in full (counts are always exact). */
export const REPORT_LIST_LIMIT = 1000;
