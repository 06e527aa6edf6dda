import type { JobOptions } from 'bull';

/** Queue, job names, job options and outbox topic of storage replication, in one place. */
export const REPLICATION_QUEUE = 'storage-replication';
export const REPLICATE_OBJECT_JOB = 'replicate-object';
export const REPLICATION_CATCH_UP_JOB = 'replication-catch-up';
/** Written in the transaction that makes an asset ready; the relay turns it into a replicate job. */
export const OBJECT_REPLICATE_TOPIC = 'object.replicate';

export interface ReplicateObjectJobData {
  /** Logical bucket (as recorded on assets). */
  bucket: string;
  key: string;
}

/** One job per object at a time: a repeated request while one waits is the same job. */
export const replicateJobId = (d: ReplicateObjectJobData) => `replicate:${d.bucket}:${d.key}`;

/** Objects the catch-up task enqueues per tick (the next tick takes the rest). */
export const CATCH_UP_BATCH = 500;

/** Options of every replicate-object job; attempts and backoff come from REPLICATION_ATTEMPTS / REPLICATION_BACKOFF_MS. */
export function replicateJobOptions(settings: { attempts: number; backoffMs: number }): JobOptions {
  return {
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: settings.backoffMs },
    removeOnComplete: true,
    // A job that ran out of attempts stays in the failed set (for operators), up to this many.
    removeOnFail: 1000,
  };
}

/** Options of a catch-up run (the repeatable tick and a one-off run after a region recovered). */
export const CATCH_UP_JOB_OPTIONS: JobOptions = { removeOnComplete: true, removeOnFail: true };

/** Catch-up workers per process: one run at a time is enough (each run enqueues, the replicate workers copy). */
export const CATCH_UP_CONCURRENCY = 1;
