import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Renditions made by `GET /media/{id}/render`: the bytes are an object in storage (`renditions/…`), this row is the
 * cache entry that finds it. Keyed per owner and source SHA-256 (plus the normalised parameters), so that one owner's
 * duplicates share renditions while another owner's first render always costs a render. `last_read_at` drives the
 * lifecycle purge.
 */
export class Renditions1764000016000 implements MigrationInterface {
  name = 'Renditions1764000016000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE renditions (
        cache_key      CHAR(64)      PRIMARY KEY,
        owner_id       BIGINT        NOT NULL,
        source_sha256  CHAR(64)      NOT NULL,
        params         VARCHAR(256)  NOT NULL,
        bucket         VARCHAR(128)  NOT NULL,
        object_key     VARCHAR(1024) NOT NULL,
        mime_type      VARCHAR(64)   NOT NULL,
        width          INTEGER       NOT NULL CHECK (width > 0),
        height         INTEGER       NOT NULL CHECK (height > 0),
        size_bytes     BIGINT        NOT NULL CHECK (size_bytes >= 0),
        content_sha256 CHAR(64)      NOT NULL,
        created_at     TIMESTAMPTZ   NOT NULL DEFAULT now(),
        last_read_at   TIMESTAMPTZ   NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX renditions_source_idx ON renditions (owner_id, source_sha256)`);
    await q.query(`CREATE INDEX renditions_last_read_idx ON renditions (last_read_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE renditions`);
  }
}
