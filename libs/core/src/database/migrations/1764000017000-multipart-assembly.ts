import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Background assembly of multipart uploads: `POST /media/{id}/complete` writes the client's part list down here
 * (state `completing`) with the assembly request in the same transaction, answers 202, and a job assembles the
 * object. `completion_round` names each complete request that started an assembly (the job's idempotency key);
 * `assembly_attempts` / `assembly_error` are what the client sees of it (GET /media/{id}, GET /media/{id}/parts).
 */
export class MultipartAssembly1764000017000 implements MigrationInterface {
  name = 'MultipartAssembly1764000017000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE upload_sessions
        ADD COLUMN completion_parts  JSONB       NULL,
        ADD COLUMN completion_round  INT         NOT NULL DEFAULT 0,
        ADD COLUMN assembly_attempts INT         NOT NULL DEFAULT 0,
        ADD COLUMN assembly_error    TEXT        NULL
    `);
    await q.query(`CREATE INDEX upload_sessions_completing_idx ON upload_sessions (updated_at) WHERE state = 'completing'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX upload_sessions_completing_idx`);
    await q.query(`
      ALTER TABLE upload_sessions
        DROP COLUMN completion_parts, DROP COLUMN completion_round, DROP COLUMN assembly_attempts, DROP COLUMN assembly_error
    `);
  }
}
