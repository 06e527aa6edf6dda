import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for GET /media (lists over millions of assets stay index-ordered keyset scans), per-owner
 * quota overrides, and the per-owner usage counter behind quota checks.
 *
 * owner_usage counts the owner's `processing` and `ready` assets (bytes and number). A trigger on media_assets
 * keeps it in the same transaction as every insert, status/size/owner change and delete, so it is right under
 * concurrency whatever code path changes an asset. Pending uploads are counted live (until they expire) by
 * the quota check, which locks the owner's usage row first.
 */
export class AccessSearchQuotas1764000001000 implements MigrationInterface {
  name = 'AccessSearchQuotas1764000001000';

  async up(q: QueryRunner): Promise<void> {
    // Listing: newest first, keyset on (created_at, asset_id); deleted assets are never listed.
    await q.query(`CREATE INDEX media_assets_live_created_idx ON media_assets (created_at DESC, asset_id DESC) WHERE status <> 'deleted'`);
    await q.query(
      `CREATE INDEX media_assets_owner_live_created_idx ON media_assets (owner_id, created_at DESC, asset_id DESC) WHERE status <> 'deleted'`,
    );
    await q.query(
      `CREATE INDEX media_assets_owner_status_created_idx ON media_assets (owner_id, status, created_at DESC, asset_id DESC) WHERE status <> 'deleted'`,
    );
    await q.query(
      `CREATE INDEX media_assets_owner_major_type_created_idx ON media_assets (owner_id, (split_part(mime_type, '/', 1)), created_at DESC, asset_id DESC) WHERE status <> 'deleted'`,
    );
    // Tag filters: asset ids of key = value from the index alone (no heap visit per tagged row). Values up to
    // 512 bytes (almost every tag); longer ones use the initial (key, md5(value)) index.
    await q.query(`CREATE INDEX asset_metadata_short_value_idx ON asset_metadata (key, value, asset_id) WHERE octet_length(value) <= 512`);
    // "Shared with me" uses the initial asset_acl (principal, permission) index and the primary key.
    // Quota: an owner's unexpired pending uploads, summed from the index alone.
    await q.query(
      `CREATE INDEX media_assets_pending_owner_idx ON media_assets (owner_id, upload_expires_at) INCLUDE (size_bytes) WHERE status = 'pending'`,
    );

    await q.query(`
      CREATE TABLE owner_quotas (
        owner_id    BIGINT       PRIMARY KEY,
        max_bytes   BIGINT       CHECK (max_bytes >= 0),
        max_assets  BIGINT       CHECK (max_assets >= 0),
        created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
        updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
      )`);
    await q.query(
      `COMMENT ON TABLE owner_quotas IS 'Per-owner overrides of QUOTA_MAX_BYTES_PER_OWNER / QUOTA_MAX_ASSETS_PER_OWNER; NULL = the default, 0 = unlimited'`,
    );

    await q.query(`
      CREATE TABLE owner_usage (
        owner_id    BIGINT       PRIMARY KEY,
        bytes       BIGINT       NOT NULL DEFAULT 0,
        assets      BIGINT       NOT NULL DEFAULT 0,
        updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
      )`);
    await q.query(
      `COMMENT ON TABLE owner_usage IS 'Bytes and number of processing/ready assets per owner; maintained by trigger media_assets_usage'`,
    );
    await q.query(`
      CREATE FUNCTION media_assets_usage() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        old_counts boolean := false;
        new_counts boolean := false;
      BEGIN
        IF TG_OP <> 'INSERT' THEN old_counts := OLD.status IN ('processing', 'ready'); END IF;
        IF TG_OP <> 'DELETE' THEN new_counts := NEW.status IN ('processing', 'ready'); END IF;
        IF old_counts AND new_counts AND OLD.owner_id = NEW.owner_id AND OLD.size_bytes = NEW.size_bytes THEN
          RETURN NULL;
        END IF;
        IF old_counts THEN
          UPDATE owner_usage SET bytes = bytes - OLD.size_bytes, assets = assets - 1, updated_at = now() WHERE owner_id = OLD.owner_id;
        END IF;
        IF new_counts THEN
          INSERT INTO owner_usage AS u (owner_id, bytes, assets) VALUES (NEW.owner_id, NEW.size_bytes, 1)
          ON CONFLICT (owner_id) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes, assets = u.assets + 1, updated_at = now();
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER media_assets_usage AFTER INSERT OR DELETE OR UPDATE OF status, owner_id, size_bytes ON media_assets
      FOR EACH ROW EXECUTE FUNCTION media_assets_usage()`);
    await q.query(`
      INSERT INTO owner_usage (owner_id, bytes, assets)
      SELECT owner_id, sum(size_bytes), count(*) FROM media_assets WHERE status IN ('processing', 'ready') GROUP BY owner_id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER media_assets_usage ON media_assets`);
    await q.query(`DROP FUNCTION media_assets_usage()`);
    await q.query(`DROP TABLE owner_usage`);
    await q.query(`DROP TABLE owner_quotas`);
    await q.query(`DROP INDEX media_assets_pending_owner_idx`);
    await q.query(`DROP INDEX asset_metadata_short_value_idx`);
    await q.query(`DROP INDEX media_assets_owner_major_type_created_idx`);
    await q.query(`DROP INDEX media_assets_owner_status_created_idx`);
    await q.query(`DROP INDEX media_assets_owner_live_created_idx`);
    await q.query(`DROP INDEX media_assets_live_created_idx`);
  }
}
