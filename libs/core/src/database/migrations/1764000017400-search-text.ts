import type { ClientBase } from 'pg';
import { MigrationInterface, QueryRunner } from 'typeorm';

/** Client-side limit of the long statements here (the pool's query_timeout is sized for requests, not this). */
const LONG_QUERY_TIMEOUT_MS = 6 * 3600 * 1000;

/** Runs statements on the migration's connection without the pool's client-side query_timeout. */
async function longQueries(q: QueryRunner): Promise<(text: string, values?: unknown[]) => Promise<unknown>> {
  const client = (await q.connect()) as ClientBase;
  const run = client.query.bind(client) as unknown as (config: {
    text: string;
    values?: unknown[];
    query_timeout: number;
  }) => Promise<unknown>;
  return (text, values) => run({ text, values, query_timeout: LONG_QUERY_TIMEOUT_MS });
}

/** Heap pages per backfill batch (one short transaction each, so a deploy never holds rows locked for long). */
const BACKFILL_PAGES = 2000;

/**
 * Issue 17, name search over 10⁶ assets. Ranking by similarity used to re-run search_fold (unaccent) on every
 * match; now the folded text is stored and indexed:
 *
 * - `media_assets.search_text` = search_fold(filename || ' ' || path), kept by a BEFORE INSERT/UPDATE OF
 *   filename, path trigger (not a generated column: adding one rewrites the whole table under an exclusive lock;
 *   this way existing rows are backfilled in short batches, each its own transaction, while the service runs).
 * - `media_assets_search_owner_idx`: GiST (owner_id, search_text gist_trgm_ops) — the caller's own matches,
 *   nearest first (KNN on `search_text <-> q`), the contains-filter as an index condition.
 * - `media_assets_search_container_idx`: the same per user-facing bucket, outside the default bucket (assets
 *   readable through a bucket's grants or a public bucket).
 * - `media_assets_search_trgm_idx`: GIN over search_text (replaces the expression index over search_fold(…)):
 *   selective terms and bucket listings filtered by `q`.
 * - `media_assets_container_created_idx`: assets of a user-facing bucket newest first (GET /media's bucket branch).
 *
 * Not atomic (the backfill commits as it goes), so every step can run again: a deploy interrupted half-way
 * resumes. The indexes are built CONCURRENTLY (writes go on meanwhile).
 */
export class SearchText1764000017400 implements MigrationInterface {
  name = 'SearchText1764000017400';

  async up(q: QueryRunner): Promise<void> {
    // The backfill batches and the index builds over a large table outlast DATABASE_STATEMENT_TIMEOUT_MS (server
    // side: lifted per transaction / session below) and the pool's client-side query_timeout (lifted per query).
    const long = await longQueries(q);
    await q.query(`CREATE EXTENSION IF NOT EXISTS btree_gist`);
    await q.query(`ALTER TABLE media_assets ADD COLUMN IF NOT EXISTS search_text TEXT`);
    await q.query(`
      CREATE OR REPLACE FUNCTION media_assets_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.search_text := search_fold(NEW.filename || ' ' || NEW.path);
        RETURN NEW;
      END $$`);
    // Fires after media_assets_default_path (triggers of one event run in name order), so `path` is set.
    await q.query(`DROP TRIGGER IF EXISTS media_assets_search_text ON media_assets`);
    await q.query(
      `CREATE TRIGGER media_assets_search_text BEFORE INSERT OR UPDATE OF filename, path ON media_assets FOR EACH ROW EXECUTE FUNCTION media_assets_search_text()`,
    );
    await q.commitTransaction(); // the trigger covers every row written from here on

    // Backfill by ranges of heap pages (TID range scans: each batch reads only its pages).
    const [{ pages }] = (await q.query(
      `SELECT (pg_relation_size('media_assets') / current_setting('block_size')::int)::bigint AS pages`,
    )) as { pages: string }[];
    for (let from = 0; from <= Number(pages); from += BACKFILL_PAGES) {
      await q.startTransaction();
      await q.query(`SET LOCAL statement_timeout = 0`);
      await long(
        `UPDATE media_assets SET search_text = search_fold(filename || ' ' || path)
          WHERE ctid >= format('(%s,0)', $1::bigint)::tid AND ctid < format('(%s,0)', $2::bigint)::tid
            AND search_text IS DISTINCT FROM search_fold(filename || ' ' || path)`,
        [from, from + BACKFILL_PAGES],
      );
      await q.commitTransaction();
    }
    // Rows moved past the scanned range meanwhile (an update writes a new row version, possibly further on).
    await q.startTransaction();
    await q.query(`SET LOCAL statement_timeout = 0`);
    await long(`UPDATE media_assets SET search_text = search_fold(filename || ' ' || path) WHERE search_text IS NULL`);
    await q.commitTransaction();

    // CONCURRENTLY cannot run in a transaction; a failed earlier attempt leaves an invalid index: dropped and built again.
    await q.query(`SET statement_timeout = 0`);
    try {
      const indexes: [string, string][] = [
        ['media_assets_search_owner_idx', `USING gist (owner_id, search_text gist_trgm_ops(siglen = 64)) WHERE status <> 'deleted'`],
        [
          'media_assets_search_container_idx',
          `USING gist (container, search_text gist_trgm_ops(siglen = 64)) WHERE status <> 'deleted' AND container <> 'default'`,
        ],
        ['media_assets_search_trgm_idx', `USING gin (search_text gin_trgm_ops) WHERE status <> 'deleted'`],
        [
          'media_assets_container_created_idx',
          `(container, created_at DESC, asset_id DESC) WHERE status <> 'deleted' AND container <> 'default'`,
        ],
      ];
      for (const [name, definition] of indexes) {
        const [state] = (await q.query(`SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`, [name])) as {
          valid: boolean;
        }[];
        if (state?.valid) continue; // built by an earlier, interrupted run
        if (state) await long(`DROP INDEX CONCURRENTLY ${name}`);
        await long(`CREATE INDEX CONCURRENTLY ${name} ON media_assets ${definition}`);
      }
      await long(`DROP INDEX CONCURRENTLY IF EXISTS media_assets_name_trgm_idx`);
    } finally {
      await q.query(`RESET statement_timeout`);
    }
    await long(`ANALYZE media_assets`);
    await q.startTransaction(); // the migration runner records the migration in it and commits
  }

  async down(q: QueryRunner): Promise<void> {
    const long = await longQueries(q);
    await q.query(`SET LOCAL statement_timeout = 0`);
    await long(
      `CREATE INDEX IF NOT EXISTS media_assets_name_trgm_idx ON media_assets USING gin (search_fold(filename || ' ' || path) gin_trgm_ops) WHERE status <> 'deleted'`,
    );
    await q.query(`DROP INDEX IF EXISTS media_assets_container_created_idx`);
    await q.query(`DROP INDEX IF EXISTS media_assets_search_trgm_idx`);
    await q.query(`DROP INDEX IF EXISTS media_assets_search_container_idx`);
    await q.query(`DROP INDEX IF EXISTS media_assets_search_owner_idx`);
    await q.query(`DROP TRIGGER IF EXISTS media_assets_search_text ON media_assets`);
    await q.query(`DROP FUNCTION IF EXISTS media_assets_search_text()`);
    await q.query(`ALTER TABLE media_assets DROP COLUMN IF EXISTS search_text`);
    // btree_gist stays: other objects may use it, and it holds no data.
  }
}
