import { DynamicModule, Module } from '@nestjs/common';
import { AssetsModule } from '@app/assets';
import { StorageEventsSqsPoller } from './sqs/storage-events-sqs.poller';
import { StorageEventsController } from './storage-events.controller';
import { StorageEventsWebhookGate } from './storage-events.gate';
import { StorageEventsService } from './storage-events.service';

/**
 * Completion by storage event: the webhook receiver (`POST /events/storage`), the SQS consumer (worker processes
 * only, when STORAGE_EVENTS_SQS_QUEUE_URL is set) and the local driver's uploads that complete themselves
 * (LOCAL_PUT_COMPLETES), all feeding StorageEventsService.
 */
@Module({
  imports: [AssetsModule],
  controllers: [StorageEventsController],
  providers: [StorageEventsService, StorageEventsWebhookGate],
  exports: [StorageEventsService, StorageEventsWebhookGate],
})
export class StorageEventsModule {
  static forRoot(opts: { worker: boolean }): DynamicModule {
    return { module: StorageEventsModule, providers: opts.worker ? [StorageEventsSqsPoller] : [] };
  }
}
