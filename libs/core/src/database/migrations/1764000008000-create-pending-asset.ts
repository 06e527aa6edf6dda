import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue "Fast and unbreakable": POST /media/upload-url in ONE database round trip.
 *
 * create_pending_asset(...) does, in one call and one transaction (the statement's): lock the owner's usage row,
 * read committed usage + unexpired pending uploads + the owner's override, and, when one more asset of that size
 * fits, insert the pending asset with its user metadata and ACL rows. Before, the same work took 7 round trips
 * (BEGIN, usage upsert, pending sum, override, insert, re-select, COMMIT) while holding the owner's lock, so one
 * owner's requests were serialised on network and event-loop latency.
 *
 * Every statement of a VOLATILE PL/pgSQL function takes a fresh snapshot under READ COMMITTED, so the pending sum
 * read after the lock sees every pending asset a concurrent request committed before releasing the lock: the
 * check is as exact as the multi-statement transaction was.
 *
 * Pending uploads are counted by the same trigger that counts processing/ready assets (owner_usage.pending_bytes and
 * pending_assets: every row in status `pending`, expired or not); the check subtracts the owner's pending rows whose
 * upload URL has expired, read live from media_assets_pending_owner_idx. That range holds only uploads the
 * lifecycle sweep has not expired yet (few), so the check costs the same for an owner with 10 or 100,000 pending
 * uploads, where summing every pending row made each check of a busy owner slower than the last.
 *
 * The quota rule's source of truth stays libs/assets/src/quota/quota-rules.ts (effectiveLimits + checkQuota):
 * the comparison below mirrors it line for line (0 = unlimited; bytes: used + size <= max; assets: used + 1 <= max)
 * and, on refusal, returns the figures it decided on; QuotaService then runs checkQuota on them for the error
 * (413/429 with its message) and fails loudly if the two ever disagree. Change both together (test/quota-rules.e2e-spec.ts
 * runs both on generated cases and expects the same verdict).
 */
export class CreatePendingAsset1764000008000 implements MigrationInterface {
  name = 'CreatePendingAsset1764000008000';

  async up(q: QueryRunner): Promise<void> {
    // No asset changes between the backfill and the new trigger (this migration runs in one transaction).
    await q.query(`LOCK TABLE media_assets IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(
      `ALTER TABLE owner_usage ADD COLUMN pending_bytes BIGINT NOT NULL DEFAULT 0, ADD COLUMN pending_assets BIGINT NOT NULL DEFAULT 0`,
    );
    await q.query(
      `COMMENT ON TABLE owner_usage IS 'Per owner: bytes and number of processing/ready assets, and of pending assets (expired or not); maintained by trigger media_assets_usage'`,
    );
    await q.query(`
      INSERT INTO owner_usage AS u (owner_id, pending_bytes, pending_assets)
      SELECT owner_id, sum(size_bytes), count(*) FROM media_assets WHERE status = 'pending' GROUP BY owner_id
      ON CONFLICT (owner_id) DO UPDATE SET pending_bytes = EXCLUDED.pending_bytes, pending_assets = EXCLUDED.pending_assets`);
    await q.query(`
      CREATE OR REPLACE FUNCTION media_assets_usage() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        old_counts boolean := false;
        new_counts boolean := false;
        old_pending boolean := false;
        new_pending boolean := false;
      BEGIN
        IF TG_OP <> 'INSERT' THEN
          old_counts := OLD.status IN ('processing', 'ready');
          old_pending := OLD.status = 'pending';
        END IF;
        IF TG_OP <> 'DELETE' THEN
          new_counts := NEW.status IN ('processing', 'ready');
          new_pending := NEW.status = 'pending';
        END IF;
        IF TG_OP = 'UPDATE' AND old_counts = new_counts AND old_pending = new_pending
           AND OLD.owner_id = NEW.owner_id AND OLD.size_bytes = NEW.size_bytes THEN
          RETURN NULL;
        END IF;
        IF old_counts OR old_pending THEN
          UPDATE owner_usage SET
            bytes = bytes - CASE WHEN old_counts THEN OLD.size_bytes ELSE 0 END,
            assets = assets - CASE WHEN old_counts THEN 1 ELSE 0 END,
            pending_bytes = pending_bytes - CASE WHEN old_pending THEN OLD.size_bytes ELSE 0 END,
            pending_assets = pending_assets - CASE WHEN old_pending THEN 1 ELSE 0 END,
            updated_at = now()
          WHERE owner_id = OLD.owner_id;
        END IF;
        IF new_counts OR new_pending THEN
          INSERT INTO owner_usage AS u (owner_id, bytes, assets, pending_bytes, pending_assets)
          VALUES (NEW.owner_id,
                  CASE WHEN new_counts THEN NEW.size_bytes ELSE 0 END, CASE WHEN new_counts THEN 1 ELSE 0 END,
                  CASE WHEN new_pending THEN NEW.size_bytes ELSE 0 END, CASE WHEN new_pending THEN 1 ELSE 0 END)
          ON CONFLICT (owner_id) DO UPDATE SET
            bytes = u.bytes + EXCLUDED.bytes, assets = u.assets + EXCLUDED.assets,
            pending_bytes = u.pending_bytes + EXCLUDED.pending_bytes, pending_assets = u.pending_assets + EXCLUDED.pending_assets,
            updated_at = now();
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION create_pending_asset(
        p_owner_id bigint, p_size_bytes bigint, p_default_max_bytes bigint, p_default_max_assets bigint,
        p_asset_id uuid, p_bucket varchar, p_object_key varchar, p_mime_type varchar, p_filename varchar,
        p_declared_checksum_sha256 char(64), p_upload_expires_at timestamptz,
        p_metadata_keys varchar[], p_metadata_values text[], p_acl_principals varchar[], p_acl_permissions text[],
        OUT created boolean, OUT committed_bytes bigint, OUT committed_assets bigint,
        OUT pending_bytes bigint, OUT pending_assets bigint, OUT override_max_bytes bigint, OUT override_max_assets bigint,
        OUT has_override boolean
      ) LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        max_bytes bigint;
        max_assets bigint;
        expired_bytes bigint;
        expired_assets bigint;
      BEGIN
        -- Lock the owner's usage row (created on first use) until the caller's transaction ends.
        INSERT INTO owner_usage AS u (owner_id) VALUES (p_owner_id)
          ON CONFLICT (owner_id) DO UPDATE SET owner_id = EXCLUDED.owner_id
          RETURNING u.bytes, u.assets, u.pending_bytes, u.pending_assets
          INTO committed_bytes, committed_assets, pending_bytes, pending_assets;
        -- New snapshot, taken after the lock: sees every pending upload counted above. Expired ones do not count.
        SELECT coalesce(sum(a.size_bytes), 0), count(*) INTO expired_bytes, expired_assets
          FROM media_assets a WHERE a.owner_id = p_owner_id AND a.status = 'pending' AND a.upload_expires_at <= now();
        pending_bytes := pending_bytes - expired_bytes;
        pending_assets := pending_assets - expired_assets;
        SELECT o.max_bytes, o.max_assets, true INTO override_max_bytes, override_max_assets, has_override
          FROM owner_quotas o WHERE o.owner_id = p_owner_id;
        has_override := coalesce(has_override, false);
        -- Mirrors effectiveLimits + checkQuota (quota-rules.ts).
        max_bytes := coalesce(override_max_bytes, p_default_max_bytes);
        max_assets := coalesce(override_max_assets, p_default_max_assets);
        IF (max_bytes > 0 AND committed_bytes + pending_bytes + p_size_bytes > max_bytes)
           OR (max_assets > 0 AND committed_assets + pending_assets + 1 > max_assets) THEN
          created := false;
          RETURN;
        END IF;
        INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, status, filename,
                                  declared_checksum_sha256, upload_expires_at)
          VALUES (p_asset_id, p_owner_id, p_bucket, p_object_key, p_mime_type, p_size_bytes, 'pending', p_filename,
                  p_declared_checksum_sha256, p_upload_expires_at);
        IF cardinality(p_metadata_keys) > 0 THEN
          INSERT INTO asset_metadata (asset_id, key, value)
            SELECT p_asset_id, k, v FROM unnest(p_metadata_keys, p_metadata_values) AS t(k, v);
        END IF;
        IF cardinality(p_acl_principals) > 0 THEN
          INSERT INTO asset_acl (asset_id, principal, permission)
            SELECT p_asset_id, p, perm::asset_permission FROM unnest(p_acl_principals, p_acl_permissions) AS t(p, perm)
            ON CONFLICT DO NOTHING;
        END IF;
        created := true;
      END $$`);
    await q.query(
      `COMMENT ON FUNCTION create_pending_asset IS 'POST /media/upload-url in one round trip: owner lock, quota check (mirrors quota-rules.ts), pending asset + metadata + ACL rows'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION create_pending_asset`);
    await q.query(`
      CREATE OR REPLACE FUNCTION media_assets_usage() RETURNS trigger LANGUAGE plpgsql AS $$
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
    await q.query(`ALTER TABLE owner_usage DROP COLUMN pending_bytes, DROP COLUMN pending_assets`);
  }
}
