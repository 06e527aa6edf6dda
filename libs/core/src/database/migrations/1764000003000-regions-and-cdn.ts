import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Multi-region storage and CDN.
 *
 * - `replicated_objects`: every object the storage module keeps in all regions (registered when its asset
 *   becomes ready, or when the service writes it); `object_replicas`: which regions hold a copy. The
 *   catch-up task compares the two with the configured regions. Keyed by the logical (bucket, object_key)
 *   recorded on assets, so the storage module never needs another module's tables.
 * - `media_assets.cdn_url`: the CDN URL recorded when the asset became ready (CDN registration).
 */
export class RegionsAndCdn1764000003000 implements MigrationInterface {
  name = 'RegionsAndCdn1764000003000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE replicated_objects (
        bucket       VARCHAR(128)  NOT NULL,
        object_key   VARCHAR(1024) NOT NULL,
        size_bytes   BIGINT        CHECK (size_bytes >= 0),
        created_at   TIMESTAMPTZ   NOT NULL DEFAULT now(),
        PRIMARY KEY (bucket, object_key)
      )`);
    await q.query(`
      CREATE TABLE object_replicas (
        bucket       VARCHAR(128)  NOT NULL,
        object_key   VARCHAR(1024) NOT NULL,
        region       VARCHAR(32)   NOT NULL,
        etag         VARCHAR(256),
        recorded_at  TIMESTAMPTZ   NOT NULL DEFAULT now(),
        PRIMARY KEY (bucket, object_key, region),
        FOREIGN KEY (bucket, object_key) REFERENCES replicated_objects (bucket, object_key) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX object_replicas_region_idx ON object_replicas (region)`);
    await q.query(`ALTER TABLE media_assets ADD COLUMN cdn_url TEXT`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE media_assets DROP COLUMN cdn_url`);
    await q.query(`DROP TABLE object_replicas`);
    await q.query(`DROP TABLE replicated_objects`);
  }
}
