import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhook endpoints registered by operators, one delivery row per (endpoint, event) (plus replays), and
 * one row per HTTP attempt of a delivery.
 */
export class Webhooks1764000002100 implements MigrationInterface {
  name = 'Webhooks1764000002100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_endpoints (
        webhook_id   UUID          PRIMARY KEY,
        url          TEXT          NOT NULL,
        events       VARCHAR(64)[] NOT NULL CHECK (cardinality(events) > 0),
        secret       TEXT          NOT NULL,
        description  VARCHAR(255),
        active       BOOLEAN       NOT NULL DEFAULT true,
        created_by   BIGINT,
        created_at   TIMESTAMPTZ   NOT NULL DEFAULT now(),
        updated_at   TIMESTAMPTZ   NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX webhook_endpoints_events_idx ON webhook_endpoints USING gin (events) WHERE active`);
    await q.query(`
      CREATE TABLE webhook_deliveries (
        delivery_id           UUID         PRIMARY KEY,
        webhook_id            UUID         NOT NULL REFERENCES webhook_endpoints(webhook_id) ON DELETE CASCADE,
        event_id              UUID         NOT NULL,
        event_type            VARCHAR(64)  NOT NULL,
        payload               JSONB        NOT NULL,
        status                VARCHAR(16)  NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','delivered','failed')),
        attempts              INTEGER      NOT NULL DEFAULT 0,
        last_attempt_at       TIMESTAMPTZ,
        last_response_status  INTEGER,
        last_error            TEXT,
        delivered_at          TIMESTAMPTZ,
        replay_of             UUID         REFERENCES webhook_deliveries(delivery_id) ON DELETE SET NULL,
        created_at            TIMESTAMPTZ  NOT NULL DEFAULT now()
      )`);
    // One original delivery per endpoint and event, however often the event is handed over (at-least-once relay).
    await q.query(`CREATE UNIQUE INDEX webhook_deliveries_once_uq ON webhook_deliveries (webhook_id, event_id) WHERE replay_of IS NULL`);
    await q.query(`CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (webhook_id, created_at DESC, delivery_id)`);
    await q.query(`
      CREATE TABLE webhook_delivery_attempts (
        delivery_id      UUID         NOT NULL REFERENCES webhook_deliveries(delivery_id) ON DELETE CASCADE,
        attempt          INTEGER      NOT NULL,
        attempted_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
        response_status  INTEGER,
        error            TEXT,
        duration_ms      INTEGER      NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_delivery_attempts`);
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhook_endpoints`);
  }
}
