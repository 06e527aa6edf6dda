import type { ProcessingConfig } from '@app/core';
import { CAPPED_EXPONENTIAL } from '@app/processing';
import type { JobOptions } from 'bull';

/** The queue that assembles multipart uploads in the background (POST /media/{id}/complete answers before). */
export const MULTIPART_QUEUE = 'multipart-assembly';
export const ASSEMBLE_JOB = 'assemble';
/** The sweep of `completing` sessions whose job was lost (a repeatable job on the same queue). */
export const SWEEP_COMPLETING_JOB = 'sweep-completing';
/** Outbox topic written with the session's `completing` state; its handler adds the job. */
export const MULTIPART_ASSEMBLE_TOPIC = 'multipart.assemble';
/** A job runs at most this long: longer than the S3 driver's own CompleteMultipartUpload timeout (15 min). */
export const ASSEMBLE_TIMEOUT_MS = 20 * 60_000;

export interface AssembleJobData {
  assetId: string;
  /** Which complete request (UploadSession.completionRound) this assembles. */
  round: number;
}

export const assembleJobId = (d: AssembleJobData) => `${d.assetId}:${d.round}`;

/** Retried like processing (PROCESSING_ATTEMPTS, capped exponential backoff from PROCESSING_BACKOFF_MS). */
export function assembleJobOptions(processing: ProcessingConfig, data: AssembleJobData): JobOptions {
  return {
    jobId: assembleJobId(data),
    attempts: processing.PROCESSING_ATTEMPTS,
    backoff: { type: CAPPED_EXPONENTIAL, options: { delay: processing.PROCESSING_BACKOFF_MS, max: processing.PROCESSING_BACKOFF_MAX_MS } },
    timeout: ASSEMBLE_TIMEOUT_MS,
    removeOnComplete: true,
    removeOnFail: true,
  };
}
