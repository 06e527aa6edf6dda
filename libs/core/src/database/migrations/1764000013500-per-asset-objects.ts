import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Dedup without an existence oracle (issue 13): every ready asset has its own object key (a hard link to the shared
 * bytes on the local driver, a server-side copy on S3), and its own storage class and last read, so nothing an owner
 * sees depends on another owner's copy of the same bytes.
 *
 * - `media_assets.storage_class` / `last_accessed_at`: tiering decides per asset, by the asset's own age and reads
 *   (existing assets take their stored object's values).
 * - `stored_objects.healed_at`: when a new upload of the same bytes last replaced a stored object found missing.
 */
export class PerAssetObjects1764000013500 implements MigrationInterface {
  name = 'PerAssetObjects1764000013500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE media_assets
        ADD COLUMN storage_class VARCHAR(32) NOT NULL DEFAULT 'STANDARD',
        ADD COLUMN last_accessed_at TIMESTAMPTZ`);
    await q.query(`
      UPDATE media_assets a SET storage_class = s.storage_class, last_accessed_at = s.last_accessed_at
        FROM stored_objects s WHERE s.checksum_sha256 = a.stored_object_sha256`);
    await q.query(`
      CREATE INDEX media_assets_tiering_idx ON media_assets (storage_class, (coalesce(last_accessed_at, ready_at)))
        WHERE status = 'ready'`);
    await q.query(`ALTER TABLE stored_objects ADD COLUMN healed_at TIMESTAMPTZ`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE stored_objects DROP COLUMN healed_at`);
    await q.query(`DROP INDEX media_assets_tiering_idx`);
    await q.query(`ALTER TABLE media_assets DROP COLUMN last_accessed_at, DROP COLUMN storage_class`);
  }
}
