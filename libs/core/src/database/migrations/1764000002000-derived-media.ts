import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Media derived from an asset (thumbnail and preview WebP), one stored object per kind, linked to the asset.
 * The rows go with the asset (ON DELETE CASCADE); the objects are removed when the asset is deleted.
 */
export class DerivedMedia1764000002000 implements MigrationInterface {
  name = 'DerivedMedia1764000002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE asset_derivatives (
        asset_id    UUID          NOT NULL REFERENCES media_assets(asset_id) ON DELETE CASCADE,
        kind        VARCHAR(32)   NOT NULL,
        bucket      VARCHAR(128)  NOT NULL,
        object_key  VARCHAR(1024) NOT NULL,
        mime_type   VARCHAR(128)  NOT NULL,
        width       INTEGER       NOT NULL CHECK (width > 0),
        height      INTEGER       NOT NULL CHECK (height > 0),
        size_bytes  BIGINT        NOT NULL CHECK (size_bytes >= 0),
        created_at  TIMESTAMPTZ   NOT NULL DEFAULT now(),
        PRIMARY KEY (asset_id, kind)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE asset_derivatives`);
  }
}
