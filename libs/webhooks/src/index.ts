export * from './webhooks.module';
export { WebhooksService } from './webhooks.service';
export type { WebhookPayload } from './webhooks.service';
export { signWebhook, verifyWebhook } from './webhook-signature';
export { WEBHOOK_HEADERS } from './webhooks.constants';
