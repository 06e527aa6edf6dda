import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lifecycle jobs (libs/lifecycle).
 *
 * - `job_runs`: one row per run of a lifecycle job (scheduled tick or manual run), with its report.
 * - `stored_objects.integrity`: `ok`, `missing` (reconcile found no region holding it) or `corrupt` (the integrity
 *   scan read other bytes than its SHA-256 and no region held a healthy copy), with a note and when it was set.
 *   Rows are never deleted for this: operators see it in GET /admin/objects/{sha256}.
 * - Indexes for the scan order (least recently verified first) and the tiering candidates.
 */
export class Lifecycle1764000005000 implements MigrationInterface {
  name = 'Lifecycle1764000005000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE job_runs (
        id           UUID         PRIMARY KEY,
        name         VARCHAR(64)  NOT NULL,
        trigger      VARCHAR(16)  NOT NULL CHECK (trigger IN ('schedule', 'manual')),
        dry_run      BOOLEAN      NOT NULL DEFAULT false,
        started_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
        finished_at  TIMESTAMPTZ,
        status       VARCHAR(16)  NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
        summary      JSONB,
        error        TEXT
      )`);
    await q.query(`CREATE INDEX job_runs_name_started_idx ON job_runs (name, started_at DESC)`);
    await q.query(`CREATE INDEX job_runs_started_idx ON job_runs (started_at DESC)`);
    await q.query(`
      ALTER TABLE stored_objects
        ADD COLUMN integrity VARCHAR(16) NOT NULL DEFAULT 'ok' CHECK (integrity IN ('ok', 'missing', 'corrupt')),
        ADD COLUMN integrity_note TEXT,
        ADD COLUMN integrity_changed_at TIMESTAMPTZ`);
    await q.query(`CREATE INDEX stored_objects_verify_order_idx ON stored_objects (last_verified_at NULLS FIRST, checksum_sha256)`);
    await q.query(`CREATE INDEX stored_objects_tiering_idx ON stored_objects (storage_class, (coalesce(last_accessed_at, created_at)))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX stored_objects_tiering_idx`);
    await q.query(`DROP INDEX stored_objects_verify_order_idx`);
    await q.query(`ALTER TABLE stored_objects DROP COLUMN integrity_changed_at, DROP COLUMN integrity_note, DROP COLUMN integrity`);
    await q.query(`DROP TABLE job_runs`);
  }
}
