import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface WebhookEndpointRow {
  id: string;
  url: string;
  events: string[];
  secret: string;
  description: string | null;
  active: boolean;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface DeliveryRow {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  payload: unknown;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastAttemptAt: Date | null;
  lastResponseStatus: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  replayOf: string | null;
  createdAt: Date;
}

export interface AttemptRow {
  deliveryId: string;
  attempt: number;
  attemptedAt: Date;
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
}

const ENDPOINT = `webhook_id AS id, url, events, secret, description, active, created_by::text AS "createdBy", created_at AS "createdAt", updated_at AS "updatedAt"`;
const DELIVERY = `delivery_id AS id, webhook_id AS "webhookId", event_id AS "eventId", event_type AS "eventType", payload, status, attempts,
  last_attempt_at AS "lastAttemptAt", last_response_status AS "lastResponseStatus", last_error AS "lastError", delivered_at AS "deliveredAt",
  replay_of AS "replayOf", created_at AS "createdAt"`;

/** All SQL on webhook_endpoints, webhook_deliveries and webhook_delivery_attempts. */
@Injectable()
export class WebhooksRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async insertEndpoint(e: {
    id: string;
    url: string;
    events: string[];
    secret: string;
    description: string | null;
    createdBy: string | null;
  }): Promise<WebhookEndpointRow> {
    const [row] = await this.ds.query<WebhookEndpointRow[]>(
      `INSERT INTO webhook_endpoints (webhook_id, url, events, secret, description, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${ENDPOINT}`,
      [e.id, e.url, e.events, e.secret, e.description, e.createdBy],
    );
    return row;
  }

  listEndpoints(): Promise<WebhookEndpointRow[]> {
    return this.ds.query(`SELECT ${ENDPOINT} FROM webhook_endpoints ORDER BY created_at, webhook_id`);
  }

  async findEndpoint(id: string): Promise<WebhookEndpointRow | null> {
    const [row] = await this.ds.query<WebhookEndpointRow[]>(`SELECT ${ENDPOINT} FROM webhook_endpoints WHERE webhook_id = $1`, [id]);
    return row ?? null;
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    const [, count] = await this.ds.query<[unknown, number]>(`DELETE FROM webhook_endpoints WHERE webhook_id = $1`, [id]);
    return count > 0;
  }

  activeEndpointsFor(eventType: string): Promise<WebhookEndpointRow[]> {
    return this.ds.query(`SELECT ${ENDPOINT} FROM webhook_endpoints WHERE active AND $1 = ANY(events)`, [eventType]);
  }

  /** One original delivery per (endpoint, event): inserting it again is a no-op. */
  async insertDeliveries(
    rows: { id: string; webhookId: string; eventId: string; eventType: string; payload: unknown; replayOf?: string }[],
  ): Promise<void> {
    for (const r of rows) {
      await this.ds.query(
        `INSERT INTO webhook_deliveries (delivery_id, webhook_id, event_id, event_type, payload, replay_of)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (webhook_id, event_id) WHERE replay_of IS NULL DO NOTHING`,
        [r.id, r.webhookId, r.eventId, r.eventType, JSON.stringify(r.payload), r.replayOf ?? null],
      );
    }
  }

  pendingDeliveriesOf(eventId: string): Promise<DeliveryRow[]> {
    return this.ds.query(`SELECT ${DELIVERY} FROM webhook_deliveries WHERE event_id = $1 AND status = 'pending' AND replay_of IS NULL`, [
      eventId,
    ]);
  }

  async findDelivery(id: string): Promise<DeliveryRow | null> {
    const [row] = await this.ds.query<DeliveryRow[]>(`SELECT ${DELIVERY} FROM webhook_deliveries WHERE delivery_id = $1`, [id]);
    return row ?? null;
  }

  listDeliveries(webhookId: string, limit: number): Promise<DeliveryRow[]> {
    return this.ds.query(
      `SELECT ${DELIVERY} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, delivery_id LIMIT $2`,
      [webhookId, limit],
    );
  }

  attemptsOf(deliveryIds: string[]): Promise<AttemptRow[]> {
    if (!deliveryIds.length) return Promise.resolve([]);
    return this.ds.query(
      `SELECT delivery_id AS "deliveryId", attempt, attempted_at AS "attemptedAt", response_status AS "responseStatus", error, duration_ms AS "durationMs"
         FROM webhook_delivery_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt`,
      [deliveryIds],
    );
  }

  /** Records one attempt and its outcome on the delivery, atomically; returns the attempt number. */
  async recordAttempt(
    deliveryId: string,
    r: { responseStatus: number | null; error: string | null; durationMs: number; outcome: 'delivered' | 'failed' | 'pending' },
  ): Promise<number> {
    return this.ds.transaction(async (m) => {
      const [[row]] = await m.query<[{ attempts: number }[], number]>(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(), last_response_status = $2, last_error = $3,
                status = $4::varchar, delivered_at = CASE WHEN $4::varchar = 'delivered' THEN now() ELSE delivered_at END
          WHERE delivery_id = $1 RETURNING attempts`,
        [deliveryId, r.responseStatus, r.error, r.outcome],
      );
      if (!row) return 0;
      await m.query(
        `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, response_status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING`,
        [deliveryId, row.attempts, r.responseStatus, r.error, r.durationMs],
      );
      return row.attempts;
    });
  }

  async markFailed(deliveryId: string, error: string): Promise<void> {
    await this.ds.query(`UPDATE webhook_deliveries SET status = 'failed', last_error = $2 WHERE delivery_id = $1 AND status = 'pending'`, [
      deliveryId,
      error,
    ]);
  }
}
