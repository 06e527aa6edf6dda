/** Queue, job names, outbox topic and Redis keys of the CDN module, in one place. */
export const CDN_QUEUE = 'cdn';
export const CDN_INVALIDATE_JOB = 'invalidate';
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
