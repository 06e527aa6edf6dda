import { BullModule } from '@nestjs/bull';
import { PROCESSING_CONFIG, ProcessingConfig } from '@app/core';
import { CAPPED_EXPONENTIAL, cappedExponentialBackoff } from './processing.constants';

/**
 * A Bull queue of asset jobs under the processing settings: a worker that dies mid-job loses its lock after
 * PROCESSING_LOCK_DURATION_MS and the job runs again (at most twice that way), retries back off exponentially up
 * to a cap. Used by the processing queue and the multipart assembly queue.
 */
export function registerAssetJobQueue(name: string) {
  return BullModule.registerQueueAsync({
    name,
    inject: [PROCESSING_CONFIG],
    useFactory: (processing: ProcessingConfig) => ({
      settings: {
        lockDuration: processing.PROCESSING_LOCK_DURATION_MS,
        stalledInterval: processing.PROCESSING_LOCK_DURATION_MS,
        maxStalledCount: 2,
        backoffStrategies: { [CAPPED_EXPONENTIAL]: cappedExponentialBackoff },
      },
    }),
  });
}
