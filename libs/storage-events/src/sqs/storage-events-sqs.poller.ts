import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { DeleteMessageCommand, Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { STORAGE_CONFIG, STORAGE_EVENTS_CONFIG, StorageConfig, StorageEventsConfig, withTimeout } from '@app/core';
import { parseQueueMessage, StorageEventFormatError } from '../storage-event.parsers';
import { StorageEventsService } from '../storage-events.service';

/** Pause after a failed receive (queue unreachable, credentials refused) before polling again. */
const RECEIVE_RETRY_MS = 2000;

export type SqsSettings = Pick<
  StorageEventsConfig,
  | 'STORAGE_EVENTS_SQS_QUEUE_URL'
  | 'STORAGE_EVENTS_SQS_REGION'
  | 'STORAGE_EVENTS_SQS_ENDPOINT'
  | 'STORAGE_EVENTS_SQS_ACCESS_KEY_ID'
  | 'STORAGE_EVENTS_SQS_SECRET_ACCESS_KEY'
  | 'STORAGE_EVENTS_SQS_WAIT_SECONDS'
  | 'STORAGE_EVENTS_SQS_TIMEOUT_MS'
>;

/** The SQS client: region and static credentials default to the S3 ones; every call is bounded. */
export function createSqsClient(
  settings: SqsSettings,
  storage: Pick<StorageConfig, 'S3_REGION' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY'>,
) {
  const accessKeyId = settings.STORAGE_EVENTS_SQS_ACCESS_KEY_ID ?? storage.S3_ACCESS_KEY_ID;
  const secretAccessKey = settings.STORAGE_EVENTS_SQS_ACCESS_KEY_ID
    ? settings.STORAGE_EVENTS_SQS_SECRET_ACCESS_KEY
    : storage.S3_SECRET_ACCESS_KEY;
  return new SQSClient({
    region: settings.STORAGE_EVENTS_SQS_REGION ?? storage.S3_REGION,
    ...(settings.STORAGE_EVENTS_SQS_ENDPOINT ? { endpoint: settings.STORAGE_EVENTS_SQS_ENDPOINT } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: settings.STORAGE_EVENTS_SQS_TIMEOUT_MS,
      // A long poll holds the response for up to the wait time.
      requestTimeout: settings.STORAGE_EVENTS_SQS_WAIT_SECONDS * 1000 + settings.STORAGE_EVENTS_SQS_TIMEOUT_MS,
    }),
  });
}

/**
 * Long-polls STORAGE_EVENTS_SQS_QUEUE_URL (worker processes only) and applies each message's object-created records
 * (StorageEventsService.applyAll). At least once: a message is deleted only after the completion it causes is
 * committed; a message whose handling fails (database down, a body that is not a storage event) is not deleted, so
 * it comes back after its visibility timeout, and the queue's redrive policy moves it to a dead-letter queue after
 * maxReceiveCount receives. At most STORAGE_EVENTS_SQS_CONCURRENCY messages are handled at once. On shutdown it
 * stops polling (the open long poll is aborted) and waits for the messages in hand.
 */
@Injectable()
export class StorageEventsSqsPoller implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('StorageEvents');
  private client?: SQSClient;
  private loop?: Promise<void>;
  private stopping = false;
  private receiving?: AbortController;
  private wake?: () => void;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly events: StorageEventsService,
    @Inject(STORAGE_EVENTS_CONFIG) private readonly settings: StorageEventsConfig,
    @Inject(STORAGE_CONFIG) private readonly storage: StorageConfig,
  ) {}

  onApplicationBootstrap(): void {
    const queueUrl = this.settings.STORAGE_EVENTS_SQS_QUEUE_URL;
    if (!queueUrl) return;
    this.client = createSqsClient(this.settings, this.storage);
    this.logger.log(`Consuming storage events from SQS queue ${queueUrl}`);
    this.loop = this.poll(queueUrl);
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.receiving?.abort();
    this.wake?.();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    this.client?.destroy();
    this.loop = undefined;
  }

  private async poll(queueUrl: string): Promise<void> {
    const concurrency = this.settings.STORAGE_EVENTS_SQS_CONCURRENCY;
    while (!this.stopping) {
      if (this.inFlight.size >= concurrency) {
        await Promise.race(this.inFlight);
        continue;
      }
      let messages: Message[];
      try {
        messages = await this.receive(queueUrl, Math.min(10, concurrency - this.inFlight.size));
      } catch (e) {
        if (this.stopping) break;
        this.logger.warn(`SQS receive failed: ${e instanceof Error ? e.message : String(e)}; retrying in ${RECEIVE_RETRY_MS} ms`);
        await this.pause(RECEIVE_RETRY_MS);
        continue;
      }
      this.logger.debug({ messages: messages.length, inFlight: this.inFlight.size }, 'SQS receive returned');
      for (const message of messages) {
        const handling: Promise<void> = this.handle(queueUrl, message).finally(() => this.inFlight.delete(handling));
        this.inFlight.add(handling);
      }
    }
  }

  private async receive(queueUrl: string, max: number): Promise<Message[]> {
    this.receiving = new AbortController();
    try {
      const out = await this.client!.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: this.settings.STORAGE_EVENTS_SQS_WAIT_SECONDS,
          VisibilityTimeout: this.settings.STORAGE_EVENTS_SQS_VISIBILITY_TIMEOUT_SECONDS,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        { abortSignal: this.receiving.signal },
      );
      return out.Messages ?? [];
    } finally {
      this.receiving = undefined;
    }
  }

  /** One message: apply its records (bounded), then delete it. Any failure leaves it to be received again. */
  private async handle(queueUrl: string, message: Message): Promise<void> {
    const timeoutMs = this.settings.STORAGE_EVENTS_SQS_TIMEOUT_MS;
    const receiveCount = message.Attributes?.ApproximateReceiveCount;
    try {
      const parsed = parseQueueMessage(message.Body ?? '');
      const outcomes = await withTimeout(this.events.applyAll(parsed, 'sqs'), timeoutMs, 'applying a storage event');
      this.logger.debug({ messageId: message.MessageId, receiveCount, outcomes }, 'SQS message applied');
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const poison = e instanceof StorageEventFormatError;
      this.logger.warn(
        { messageId: message.MessageId, receiveCount },
        `SQS message ${message.MessageId} ${poison ? 'is not a storage event' : 'could not be applied'}: ${why}; left on the queue (redelivered after its visibility timeout; the redrive policy dead-letters it)`,
      );
      return;
    }
    try {
      await this.client!.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }), {
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      // Applied but not deleted: it comes back, and applying it again changes nothing.
      this.logger.warn(`SQS delete of ${message.MessageId} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
