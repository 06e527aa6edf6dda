import type { ProcessingConfig, RepeatSchedule } from '@app/core';
import type { JobOptions } from 'bull';

/** Queue names, job names, job options and outbox topics of the processing module, in one place. */
export const PROCESSING_QUEUE = 'processing';
export const PROCESS_ASSET_JOB = 'process-asset';
/** The reconciliation sweep (a repeatable job on the processing queue; see ReconciliationService). */
export const RECONCILE_JOB = 'reconcile';
export const ASSET_PROCESS_TOPIC = 'asset.process';

export interface ProcessAssetJobData {
  assetId: string;
  /** Declared checksum, or '' when none: with the asset id it is the job's idempotency key. */
  checksum: string;
}

export const processAssetJobId = (d: ProcessAssetJobData) => `${d.assetId}:${d.checksum || 'undeclared'}`;

/** Bull backoff strategy name: exponential from `delay`, capped at `max` (both in job.opts.backoff.options). */
export const CAPPED_EXPONENTIAL = 'capped-exponential';

/**
 * Options of a process-asset job: keyed by asset and checksum (one job per asset and content), retried with capped
 * exponential backoff, bounded in time; a job out of attempts stays in the failed set (the dead letters).
 */
export function processAssetJobOptions(processing: ProcessingConfig, data: ProcessAssetJobData): JobOptions {
  return {
    jobId: processAssetJobId(data),
    attempts: processing.PROCESSING_ATTEMPTS,
    backoff: {
      type: CAPPED_EXPONENTIAL,
      options: { delay: processing.PROCESSING_BACKOFF_MS, max: processing.PROCESSING_BACKOFF_MAX_MS },
    },
    timeout: processing.PROCESSING_TIMEOUT_MS,
    removeOnComplete: true,
    removeOnFail: false,
  };
}

/** When the reconciliation sweep runs: every RECONCILE_INTERVAL_MS; 0 turns it off. */
export function reconcileSchedule(processing: Pick<ProcessingConfig, 'RECONCILE_INTERVAL_MS'>): RepeatSchedule {
  return processing.RECONCILE_INTERVAL_MS > 0 ? { every: processing.RECONCILE_INTERVAL_MS } : null;
}

export function cappedExponentialBackoff(attemptsMade: number, _err: unknown, options: { delay?: number; max?: number } | null): number {
  const delay = options?.delay ?? 1000;
  const max = options?.max ?? 60000;
  return Math.min(max, Math.round(delay * 2 ** Math.max(0, attemptsMade - 1)));
}

/**
 * Derived media of images: longest side in pixels, and libwebp's effort (0–6; CPU against bytes). The thumbnail's
 * effort 1 costs ~30 % less CPU than the default 4 for the same size at 256 px (measured on photos; effort 2 makes
 * larger files there); the preview keeps the default. Which are made by processing before `ready` and which on
 * their first request: DERIVED_MEDIA_EAGER.
 */
export const DERIVATIVES = [
  { kind: 'thumbnail', size: 256, effort: 1 },
  { kind: 'preview', size: 1024, effort: 4 },
] as const;
export type DerivativeKind = (typeof DERIVATIVES)[number]['kind'];
export const DERIVATIVE_KINDS: readonly DerivativeKind[] = DERIVATIVES.map((d) => d.kind);
