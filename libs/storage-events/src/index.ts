export * from './storage-events.module';
export { StorageEventsService, STORAGE_EVENT_TOPIC } from './storage-events.service';
export type { StorageEventOutcome, StorageEventSource, IgnoredReason } from './storage-events.service';
export { installStorageEventsGate, StorageEventsWebhookGate, STORAGE_EVENTS_WEBHOOK_PATH } from './storage-events.gate';
export { STORAGE_EVENTS_TOKEN_SCHEME } from './storage-events.controller';
export * from './storage-event.parsers';
