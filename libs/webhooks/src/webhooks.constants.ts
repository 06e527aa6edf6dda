import type { WebhooksConfig } from '@app/core';
import type { JobOptions } from 'bull';

/** Queue, job names, job options and header names of the webhooks module, in one place. */
export const WEBHOOKS_QUEUE = 'webhooks';
export const DELIVER_WEBHOOK_JOB = 'deliver';
export const WEBHOOK_CONCURRENCY = 8;
/** Longest wait between two attempts of one delivery. */
export const WEBHOOK_BACKOFF_MAX_MS = 60 * 60 * 1000;

export interface DeliverWebhookJobData {
  deliveryId: string;
}

export const deliverJobId = (deliveryId: string) => `delivery:${deliveryId}`;

/** Headers of every delivery. The signature is HMAC-SHA256(secret, `${timestamp}.${body}`) in hex. */
export const WEBHOOK_HEADERS = {
  /** The event id: the same for every attempt and replay of one event (deduplicate on it). */
  id: 'x-webhook-id',
  /** This delivery (a replay has its own). */
  delivery: 'x-webhook-delivery',
  event: 'x-webhook-event',
  /** Unix seconds when this attempt was signed; reject old ones (replay protection). */
  timestamp: 'x-webhook-timestamp',
  /** `v1=<hex>`. */
  signature: 'x-webhook-signature',
} as const;

export const CAPPED_EXPONENTIAL = 'capped-exponential';

export function cappedExponentialBackoff(attemptsMade: number, _err: unknown, options: { delay?: number; max?: number } | null): number {
  const delay = options?.delay ?? 1000;
  const max = options?.max ?? WEBHOOK_BACKOFF_MAX_MS;
  return Math.min(max, Math.round(delay * 2 ** Math.max(0, attemptsMade - 1)));
}

/**
 * Options of one delivery's job: keyed by delivery (one job each), retried with capped exponential backoff. The
 * outcome of every attempt is recorded on the delivery, so the job leaves nothing behind in Redis.
 */
export function deliverJobOptions(webhooks: WebhooksConfig, deliveryId: string): JobOptions {
  return {
    jobId: deliverJobId(deliveryId),
    attempts: webhooks.WEBHOOK_ATTEMPTS,
    backoff: { type: CAPPED_EXPONENTIAL, options: { delay: webhooks.WEBHOOK_BACKOFF_MS, max: WEBHOOK_BACKOFF_MAX_MS } },
    removeOnComplete: true,
    removeOnFail: true,
  };
}
