import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys for back ends: only the SHA-256 of each key is stored (the key is shown once, at creation), with a short
 * non-secret prefix to recognise it in lists. A key acts as its creator: the creator's id, groups and roles are kept as
 * they were at creation.
 */
export class ApiKeys1764000009100 implements MigrationInterface {
  name = 'ApiKeys1764000009100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        key_id          UUID          PRIMARY KEY,
        key_hash        CHAR(64)      NOT NULL,
        prefix          VARCHAR(16)   NOT NULL,
        name            VARCHAR(100)  NOT NULL,
        scopes          VARCHAR(16)[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read','write','admin']::varchar[]),
        creator_id      BIGINT        NOT NULL,
        creator_groups  VARCHAR(255)[] NOT NULL DEFAULT '{}',
        creator_roles   VARCHAR(255)[] NOT NULL DEFAULT '{}',
        created_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
        expires_at      TIMESTAMPTZ,
        last_used_at    TIMESTAMPTZ,
        revoked_at      TIMESTAMPTZ
      )`);
    await q.query(`CREATE UNIQUE INDEX api_keys_hash_idx ON api_keys (key_hash)`);
    await q.query(`CREATE INDEX api_keys_creator_idx ON api_keys (creator_id, created_at)`);
    await q.query(`COMMENT ON COLUMN api_keys.key_hash IS 'SHA-256 (hex) of the whole key; the key itself is never stored'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE api_keys`);
  }
}
