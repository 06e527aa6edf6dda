import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The three core tables of the source design (media_assets, asset_metadata, asset_acl) with their exact columns,
 * plus what that design implies: stored objects keyed by SHA-256 with reference counts, and a transactional outbox.
 *
 * One deliberate difference: media_assets.checksum_sha256 is NULL until processing has verified it (a pending
 * upload whose client declared no checksum has none yet); a CHECK keeps it NOT NULL for every `ready` asset.
 */
export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TYPE media_asset_status AS ENUM ('pending','processing','ready','failed','quarantined','deleted')`);
    await q.query(`CREATE TYPE asset_permission AS ENUM ('read','write','delete')`);
    await q.query(`
      CREATE TABLE stored_objects (
        checksum_sha256   CHAR(64)      PRIMARY KEY,
        bucket            VARCHAR(128)  NOT NULL,
        object_key        VARCHAR(1024) NOT NULL,
        size_bytes        BIGINT        NOT NULL CHECK (size_bytes >= 0),
        ref_count         INTEGER       NOT NULL CHECK (ref_count >= 0),
        storage_class     VARCHAR(32)   NOT NULL DEFAULT 'STANDARD',
        created_at        TIMESTAMPTZ   NOT NULL DEFAULT now(),
        updated_at        TIMESTAMPTZ   NOT NULL DEFAULT now(),
        last_verified_at  TIMESTAMPTZ,
        last_accessed_at  TIMESTAMPTZ,
        CONSTRAINT stored_objects_location_uq UNIQUE (bucket, object_key)
      )`);
    await q.query(`
      CREATE TABLE media_assets (
        asset_id                  UUID               PRIMARY KEY,
        owner_id                  BIGINT             NOT NULL,
        bucket                    VARCHAR(128)       NOT NULL,
        object_key                VARCHAR(1024)      NOT NULL,
        mime_type                 VARCHAR(128)       NOT NULL,
        size_bytes                BIGINT             NOT NULL CHECK (size_bytes >= 0),
        checksum_sha256           CHAR(64),
        status                    media_asset_status NOT NULL DEFAULT 'pending',
        created_at                TIMESTAMPTZ        NOT NULL DEFAULT now(),
        updated_at                TIMESTAMPTZ        NOT NULL DEFAULT now(),
        filename                  VARCHAR(255)       NOT NULL,
        declared_checksum_sha256  CHAR(64),
        detected_mime_type        VARCHAR(128),
        failure_reason            TEXT,
        stored_object_sha256      CHAR(64)           REFERENCES stored_objects(checksum_sha256),
        upload_expires_at         TIMESTAMPTZ        NOT NULL,
        processing_started_at     TIMESTAMPTZ,
        ready_at                  TIMESTAMPTZ,
        deleted_at                TIMESTAMPTZ,
        CONSTRAINT media_assets_ready_has_checksum CHECK (status <> 'ready' OR checksum_sha256 IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX media_assets_owner_created_idx ON media_assets (owner_id, created_at DESC, asset_id DESC)`);
    await q.query(
      `CREATE INDEX media_assets_open_status_idx ON media_assets (status, updated_at) WHERE status IN ('pending','processing')`,
    );
    await q.query(
      `CREATE INDEX media_assets_stored_object_idx ON media_assets (stored_object_sha256) WHERE stored_object_sha256 IS NOT NULL`,
    );
    await q.query(`
      CREATE TABLE asset_metadata (
        asset_id  UUID        NOT NULL REFERENCES media_assets(asset_id) ON DELETE CASCADE,
        key       VARCHAR(64) NOT NULL,
        value     TEXT        NOT NULL,
        PRIMARY KEY (asset_id, key)
      )`);
    await q.query(`CREATE INDEX asset_metadata_key_value_idx ON asset_metadata (key, md5(value))`);
    await q.query(`
      CREATE TABLE asset_acl (
        asset_id    UUID             NOT NULL REFERENCES media_assets(asset_id) ON DELETE CASCADE,
        principal   VARCHAR(256)     NOT NULL,
        permission  asset_permission NOT NULL,
        PRIMARY KEY (asset_id, principal, permission)
      )`);
    await q.query(`CREATE INDEX asset_acl_principal_idx ON asset_acl (principal, permission)`);
    await q.query(`
      CREATE TABLE outbox (
        id            BIGSERIAL    PRIMARY KEY,
        topic         VARCHAR(64)  NOT NULL,
        payload       JSONB        NOT NULL,
        created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
        available_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
        attempts      INTEGER      NOT NULL DEFAULT 0,
        last_error    TEXT,
        processed_at  TIMESTAMPTZ
      )`);
    await q.query(`CREATE INDEX outbox_due_idx ON outbox (available_at, id) WHERE processed_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE outbox`);
    await q.query(`DROP TABLE asset_acl`);
    await q.query(`DROP TABLE asset_metadata`);
    await q.query(`DROP TABLE media_assets`);
    await q.query(`DROP TABLE stored_objects`);
    await q.query(`DROP TYPE asset_permission`);
    await q.query(`DROP TYPE media_asset_status`);
  }
}
