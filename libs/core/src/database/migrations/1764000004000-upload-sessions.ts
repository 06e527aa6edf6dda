import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Multipart upload sessions: one per asset uploaded in parts. The row is written before the client gets part URLs,
 * and its state is written down before each storage step (completing, aborted), so a crash between the two is
 * finished by a retry of the same request (or, for aborts the store refused, by the lifecycle job that aborts
 * uploads no session owns any more).
 */
export class UploadSessions1764000004000 implements MigrationInterface {
  name = 'UploadSessions1764000004000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE upload_sessions (
        asset_id        UUID          PRIMARY KEY REFERENCES media_assets (asset_id) ON DELETE CASCADE,
        upload_id       VARCHAR(1024) NOT NULL,
        object_key      VARCHAR(1024) NOT NULL,
        region          VARCHAR(32),
        part_size       BIGINT        NOT NULL CHECK (part_size > 0),
        part_count      INTEGER       NOT NULL CHECK (part_count BETWEEN 1 AND 10000),
        declared_size   BIGINT        NOT NULL CHECK (declared_size >= 0),
        content_type    VARCHAR(255)  NOT NULL,
        expires_at      TIMESTAMPTZ   NOT NULL,
        state           VARCHAR(16)   NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'completing', 'completed', 'aborted')),
        storage_released BOOLEAN      NOT NULL DEFAULT false,
        created_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
        updated_at      TIMESTAMPTZ   NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX upload_sessions_open_idx ON upload_sessions (expires_at) WHERE state IN ('active', 'completing')`);
    await q.query(
      `CREATE INDEX upload_sessions_unreleased_idx ON upload_sessions (updated_at) WHERE state = 'aborted' AND NOT storage_released`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE upload_sessions`);
  }
}
