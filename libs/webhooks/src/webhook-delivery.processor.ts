import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { registerWorker } from '@app/core';
import type { Job, Queue } from 'bull';
import { NO_HTTP_RESPONSE } from './webhook-transport';
import { DELIVER_WEBHOOK_JOB, DeliverWebhookJobData, WEBHOOK_CONCURRENCY, WEBHOOKS_QUEUE } from './webhooks.constants';
import { WebhooksService } from './webhooks.service';

/** Runs delivery attempts (worker processes only). */
@Injectable()
export class WebhookDeliveryProcessor implements OnModuleInit {
  private readonly logger = new Logger('WebhookDelivery');

  constructor(
    private readonly webhooks: WebhooksService,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<DeliverWebhookJobData>,
  ) {}

  onModuleInit() {
    registerWorker<DeliverWebhookJobData>(this.queue, {
      job: DELIVER_WEBHOOK_JOB,
      concurrency: WEBHOOK_CONCURRENCY,
      handler: async (job) => {
        const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        return { outcome: await this.webhooks.attempt(job.data.deliveryId, last) };
      },
    });
    this.queue.on('failed', (job: Job<DeliverWebhookJobData>, err: Error) => {
      // The endpoint's own failures are recorded on the delivery; anything else is ours and worth a warning.
      const endpointFault = err.message.startsWith('endpoint answered') || err.message === NO_HTTP_RESPONSE;
      const log = { deliveryId: job.data.deliveryId, attempt: job.attemptsMade };
      if (endpointFault) this.logger.debug(log, `webhook attempt failed: ${err.message}`);
      else this.logger.warn(log, `webhook attempt failed: ${err.message}`);
    });
  }
}
