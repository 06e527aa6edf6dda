import { randomUUID } from 'node:crypto';
import type { CdnConfig } from '@app/core';
import type { JobOptions } from 'bull';

/** Queue, job names, job options, outbox topic and Redis keys of the CDN module, in one place. */
export const CDN_QUEUE = 'cdn';
export const CDN_INVALIDATE_JOB = 'invalidate';

/**
 * Options of one window's flush job: it runs when the batch window closes, with its own id (each window is one
 * job), retried with exponential backoff; a job out of attempts stays in the failed set for operators.
 */
export function invalidateJobOptions(cdn: CdnConfig): JobOptions {
  return {
    jobId: `cdn-invalidate:${Date.now()}:${randomUUID().slice(0, 8)}`,
    delay: cdn.CDN_INVALIDATION_BATCH_MS,
    attempts: cdn.CDN_INVALIDATION_ATTEMPTS,
    backoff: { type: 'exponential', delay: cdn.CDN_INVALIDATION_BACKOFF_MS },
    removeOnComplete: true,
    removeOnFail: false,
  };
}
/** Written in the transaction that deletes an asset, replaces its content or withdraws public read. */
export const CDN_INVALIDATE_TOPIC = 'cdn.invalidate';

/** CloudFront accepts at most 3000 paths per invalidation. */
export const MAX_PATHS_PER_INVALIDATION = 3000;

export interface CdnInvalidateMessage {
  /** Object keys whose CDN copies must go. */
  keys: string[];
}

/** Redis set collecting paths until the next flush. */
export const pendingPathsKey = (redisPrefix: string) => `${redisPrefix}:cdn:invalidation:pending`;
/** The paths one flush job took (kept until CloudFront accepted them, so a retry resends the same batch). */
export const batchPathsKey = (redisPrefix: string, jobId: string | number) => `${redisPrefix}:cdn:invalidation:batch:${jobId}`;
/** Exists while a batch window is open (its flush job is queued). */
export const invalidationWindowKey = (redisPrefix: string) => `${redisPrefix}:cdn:invalidation:window`;
