import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { AssetsModule } from '@app/assets';
import { WEBHOOKS_CONFIG, WebhooksConfig } from '@app/core';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhookTargetPolicy } from './webhook-targets';
import { WebhooksController } from './webhooks.controller';
import { CAPPED_EXPONENTIAL, cappedExponentialBackoff, WEBHOOKS_QUEUE } from './webhooks.constants';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

const queue = BullModule.registerQueue({
  name: WEBHOOKS_QUEUE,
  settings: { backoffStrategies: { [CAPPED_EXPONENTIAL]: cappedExponentialBackoff } },
});

/** Outgoing webhooks for asset events. Deliveries are attempted in this process when `worker` is true. */
@Module({
  imports: [queue, AssetsModule],
  controllers: [WebhooksController],
  providers: [
    WebhooksRepository,
    WebhooksService,
    {
      provide: WebhookTargetPolicy,
      useFactory: (settings: WebhooksConfig) => new WebhookTargetPolicy(settings),
      inject: [WEBHOOKS_CONFIG],
    },
  ],
  exports: [WebhooksService],
})
export class WebhooksModule {
  static forRoot(opts: { worker: boolean }): DynamicModule {
    return { module: WebhooksModule, providers: opts.worker ? [WebhookDeliveryProcessor] : [] };
  }
}
