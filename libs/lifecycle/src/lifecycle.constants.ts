import type { JobOptions } from 'bull';
import type { AppConfig } from '@app/core';

/** Queue, job names, schedules and job options of the lifecycle module, in one place. */
export const LIFECYCLE_QUEUE = 'lifecycle';

export const LIFECYCLE_JOB_NAMES = ['expire-pending', 'reconcile', 'integrity-scan', 'tiering'] as const;
export type LifecycleJobName = (typeof LIFECYCLE_JOB_NAMES)[number];

export function isLifecycleJobName(name: string): name is LifecycleJobName {
  return (LIFECYCLE_JOB_NAMES as readonly string[]).includes(name);
}

/** The config field holding each job's cron schedule (`off` = not scheduled). */
export const LIFECYCLE_SCHEDULE_SETTING = {
  'expire-pending': 'LIFECYCLE_EXPIRE_PENDING_SCHEDULE',
  reconcile: 'LIFECYCLE_RECONCILE_SCHEDULE',
  'integrity-scan': 'LIFECYCLE_INTEGRITY_SCAN_SCHEDULE',
  tiering: 'LIFECYCLE_TIERING_SCHEDULE',
} as const satisfies Record<LifecycleJobName, keyof AppConfig>;

export function scheduleOf(config: AppConfig, name: LifecycleJobName): string | null {
  const cron = String(config[LIFECYCLE_SCHEDULE_SETTING[name]]);
  return cron === 'off' ? null : cron;
}

/**
 * Options of a scheduled tick. The repeatable job's id is the job name, so every replica that registers the
 * same schedule adds the same repeatable key (one tick per schedule across replicas); ticks are not retried
 * (the next tick is the retry) and leave nothing behind in Redis.
 */
export function scheduledJobOptions(name: LifecycleJobName, cron: string): JobOptions {
  return { repeat: { cron, tz: 'UTC' }, jobId: name, attempts: 1, removeOnComplete: true, removeOnFail: true };
}

/** Prefix (after REDIS_KEY_PREFIX) of the per-job lock that keeps a manual run and a scheduled tick from overlapping. */
export const LIFECYCLE_LOCK_PREFIX = 'lifecycle:lock';
/** The lock expires this long after its holder stops renewing it (a crashed process frees it). */
export const LIFECYCLE_LOCK_TTL_MS = 60_000;
/** Bound on Redis/Bull calls made to schedule or lock. */
export const LIFECYCLE_REDIS_TIMEOUT_MS = 5000;
/** Items a report lists in full (counts are always exact). */
export const REPORT_LIST_LIMIT = 1000;
