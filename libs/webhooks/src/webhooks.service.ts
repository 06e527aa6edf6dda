import { randomUUID } from 'node:crypto';
import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Errors, Principal, WEBHOOKS_CONFIG, WebhooksConfig, withRequestId } from '@app/core';
import { AssetEvent, AssetEventsService } from '@app/assets';
import type { Queue } from 'bull';
import { newWebhookSecret, signWebhook } from './webhook-signature';
import { WebhookTargetPolicy, WebhookTargetRefused } from './webhook-targets';
import { NO_HTTP_RESPONSE, postWebhook } from './webhook-transport';
import { CreatedWebhookView, CreateWebhookDto, DeliveryView, WebhookView } from './webhooks.dto';
import { DELIVER_WEBHOOK_JOB, DeliverWebhookJobData, deliverJobOptions, WEBHOOK_HEADERS, WEBHOOKS_QUEUE } from './webhooks.constants';
import { AttemptRow, DeliveryRow, WebhookEndpointRow, WebhooksRepository } from './webhooks.repository';

/** The JSON body of every delivery. */
export interface WebhookPayload {
  id: string;
  type: string;
  createdAt: string;
  data: { asset: AssetEvent['asset'] };
}

/**
 * Webhooks: operators register endpoints; every asset event (written to the outbox with its status change) is
 * fanned out to one delivery per subscribed endpoint, and each delivery is a Bull job retried with capped
 * exponential backoff, signed anew (HMAC-SHA256 with a timestamp) on every attempt, and recorded per attempt.
 */
@Injectable()
export class WebhooksService implements OnModuleInit {
  private readonly logger = new Logger('Webhooks');

  constructor(
    private readonly repo: WebhooksRepository,
    private readonly assets: AssetEventsService,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<DeliverWebhookJobData>,
    @Inject(WEBHOOKS_CONFIG) private readonly settings: WebhooksConfig,
    private readonly targets: WebhookTargetPolicy,
  ) {}

  onModuleInit() {
    this.assets.subscribe('webhooks', (event) => this.fanOut(event));
  }

  // ---- endpoints -------------------------------------------------------------------------------------

  /** Registers an endpoint whose URL passes the target policy (400 naming the URL and the reason otherwise). */
  async create(dto: CreateWebhookDto, by: Principal): Promise<CreatedWebhookView> {
    try {
      await this.targets.resolve(dto.url, AbortSignal.timeout(this.settings.WEBHOOK_TIMEOUT_MS));
    } catch (e) {
      if (!(e instanceof WebhookTargetRefused) && (e as Error)?.name !== 'TimeoutError') throw e;
      const reason =
        e instanceof WebhookTargetRefused ? e.reason : `its host did not resolve within ${this.settings.WEBHOOK_TIMEOUT_MS} ms`;
      throw Errors.validation(`Webhook url ${dto.url} is not allowed: ${reason}`, [{ field: 'url', problems: [reason] }]);
    }
    const secret = newWebhookSecret();
    const row = await this.repo.insertEndpoint({
      id: randomUUID(),
      url: dto.url,
      events: dto.events,
      secret,
      description: dto.description ?? null,
      createdBy: by.userId,
    });
    return { ...this.toView(row), secret };
  }

  async list(): Promise<{ items: WebhookView[] }> {
    return { items: (await this.repo.listEndpoints()).map((r) => this.toView(r)) };
  }

  async get(id: string): Promise<WebhookView> {
    return this.toView(await this.endpoint(id));
  }

  async remove(id: string): Promise<void> {
    if (!(await this.repo.deleteEndpoint(id))) throw Errors.notFound(`No webhook has id ${id}`);
  }

  async deliveries(webhookId: string, limit = 50): Promise<{ items: DeliveryView[] }> {
    await this.endpoint(webhookId);
    const rows = await this.repo.listDeliveries(webhookId, limit);
    const attempts = await this.repo.attemptsOf(rows.map((r) => r.id));
    return {
      items: rows.map((r) =>
        this.toDeliveryView(
          r,
          attempts.filter((a) => a.deliveryId === r.id),
        ),
      ),
    };
  }

  /** Sends a delivery's event again, as a new delivery (same event id, fresh signature and attempts). */
  async replay(webhookId: string, deliveryId: string): Promise<DeliveryView> {
    await this.endpoint(webhookId);
    const original = await this.repo.findDelivery(deliveryId);
    if (!original || original.webhookId !== webhookId) throw Errors.notFound(`Webhook ${webhookId} has no delivery ${deliveryId}`);
    const id = randomUUID();
    await this.repo.insertDeliveries([
      {
        id,
        webhookId,
        eventId: original.eventId,
        eventType: original.eventType,
        payload: original.payload,
        replayOf: original.replayOf ?? original.id,
      },
    ]);
    await this.enqueue(id);
    return this.toDeliveryView((await this.repo.findDelivery(id))!, []);
  }

  // ---- fan-out and delivery --------------------------------------------------------------------------

  /** Asset-event subscriber: idempotent (one delivery per endpoint and event, jobs keyed by delivery). */
  async fanOut(event: AssetEvent): Promise<void> {
    const endpoints = await this.repo.activeEndpointsFor(event.type);
    if (!endpoints.length) return;
    const payload: WebhookPayload = { id: event.id, type: event.type, createdAt: event.occurredAt, data: { asset: event.asset } };
    await this.repo.insertDeliveries(
      endpoints.map((e) => ({ id: randomUUID(), webhookId: e.id, eventId: event.id, eventType: event.type, payload })),
    );
    for (const d of await this.repo.pendingDeliveriesOf(event.id)) await this.enqueue(d.id);
  }

  private async enqueue(deliveryId: string): Promise<void> {
    await this.queue.add(DELIVER_WEBHOOK_JOB, withRequestId({ deliveryId }), deliverJobOptions(this.settings, deliveryId));
  }

  /**
   * One attempt (the Bull job). 2xx → delivered. Anything else throws so Bull retries, except on the last
   * attempt, where the delivery is marked failed (replayable). A delivered or failed delivery is left alone.
   * An HTTP answer is recorded with its status; every attempt without one (target refused by the policy, DNS,
   * refused, reset, timeout) is recorded with the same error, so the records tell nothing about what lies behind
   * the URL; the real cause goes to the operator's log.
   */
  async attempt(deliveryId: string, lastAttempt: boolean): Promise<string> {
    const d = await this.repo.findDelivery(deliveryId);
    if (!d || d.status !== 'pending') return `skipped (${d?.status ?? 'missing'})`;
    const endpoint = await this.repo.findEndpoint(d.webhookId);
    if (!endpoint || !endpoint.active) {
      await this.repo.markFailed(deliveryId, 'the endpoint was removed or disabled');
      return 'skipped (endpoint gone)';
    }
    const body = JSON.stringify(d.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    const started = Date.now();
    let responseStatus: number | null = null;
    let error: string | null = null;
    try {
      responseStatus = await postWebhook(this.targets, endpoint.url, {
        timeoutMs: this.settings.WEBHOOK_TIMEOUT_MS,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'media-storage-webhooks/1',
          [WEBHOOK_HEADERS.id]: d.eventId,
          [WEBHOOK_HEADERS.delivery]: d.id,
          [WEBHOOK_HEADERS.event]: d.eventType,
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: signWebhook(endpoint.secret, timestamp, body),
        },
        body,
      });
      if (responseStatus < 200 || responseStatus > 299) error = `endpoint answered HTTP ${responseStatus}`;
    } catch (e) {
      error = NO_HTTP_RESPONSE;
      const err = e as Error & { code?: string };
      this.logger.warn(
        { deliveryId, webhookId: d.webhookId, host: hostForLog(endpoint.url) },
        `webhook attempt got no HTTP response: ${err instanceof WebhookTargetRefused ? `target refused: ${err.reason}` : (err.code ?? err.message)}`,
      );
    }
    const outcome = error ? (lastAttempt ? 'failed' : 'pending') : 'delivered';
    await this.repo.recordAttempt(deliveryId, { responseStatus, error, durationMs: Date.now() - started, outcome });
    if (error && !lastAttempt) throw new Error(error);
    if (error) this.logger.warn({ deliveryId, webhookId: d.webhookId }, `webhook delivery failed for good: ${error}`);
    return outcome;
  }

  private async endpoint(id: string): Promise<WebhookEndpointRow> {
    if (!/^[0-9a-f-]{36}$/i.test(id))
      throw Errors.validation('Path parameter "id" must be a UUID', [{ field: 'id', problems: ['must be a UUID'] }]);
    const e = await this.repo.findEndpoint(id);
    if (!e) throw Errors.notFound(`No webhook has id ${id}`);
    return e;
  }

  private toView(r: WebhookEndpointRow): WebhookView {
    return {
      id: r.id,
      url: r.url,
      events: r.events,
      description: r.description,
      active: r.active,
      createdAt: new Date(r.createdAt).toISOString(),
    };
  }

  private toDeliveryView(r: DeliveryRow, attempts: AttemptRow[]): DeliveryView {
    const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
    return {
      id: r.id,
      webhookId: r.webhookId,
      eventId: r.eventId,
      eventType: r.eventType,
      status: r.status,
      attempts: r.attempts,
      lastAttemptAt: iso(r.lastAttemptAt),
      lastResponseStatus: r.lastResponseStatus,
      lastError: r.lastError,
      deliveredAt: iso(r.deliveredAt),
      replayOf: r.replayOf,
      createdAt: new Date(r.createdAt).toISOString(),
      attemptLog: attempts.map((a) => ({
        attempt: a.attempt,
        at: new Date(a.attemptedAt).toISOString(),
        responseStatus: a.responseStatus,
        error: a.error,
        durationMs: a.durationMs,
      })),
      payload: r.payload,
    };
  }
}

/** host:port of a webhook URL (its path and query may carry a receiver's token: not for logs). */
function hostForLog(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}
