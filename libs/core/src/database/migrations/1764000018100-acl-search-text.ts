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

/** Heap pages of asset_acl per backfill batch (one short transaction each). */
const BACKFILL_PAGES = 2000;

/**
 * Issue 17, name search over 10⁶ assets for callers who read other users' assets through grants. The "shared with
 * me" branch of a ranked search used to walk the trigram matches of the whole table nearest first and keep those
 * with a grant to one of the caller's principals: for a broad term most matches are unreadable (a stranger who sees
 * only `*` grants walked ~25k matches for 50 rows). Now the grant rows carry the asset's search_text, so each
 * principal's readable matches come nearest first straight from an index over its own grants:
 *
 * - `asset_acl.search_text` = the asset's media_assets.search_text, copied by a BEFORE INSERT / UPDATE OF asset_id
 *   trigger on asset_acl (reading the asset FOR SHARE, so a rename committing meanwhile is waited for and seen),
 *   and rewritten by an AFTER UPDATE trigger on media_assets whenever its search_text changes (rename, move).
 * - `asset_acl_search_idx`: GiST (principal, search_text gist_trgm_ops) over `read` grants — KNN on
 *   `search_text <-> q` per principal, the contains-filter as an index condition.
 *
 * Re-runnable (backfill in batches, indexes built CONCURRENTLY), like 1764000017400-search-text.
 */
export class AclSearchText1764000018100 implements MigrationInterface {
  name = 'AclSearchText1764000018100';

  async up(q: QueryRunner): Promise<void> {
    const long = await longQueries(q);
    await q.query(`ALTER TABLE asset_acl ADD COLUMN IF NOT EXISTS search_text TEXT`);
    await q.query(`
      CREATE OR REPLACE FUNCTION asset_acl_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- FOR SHARE: waits for a rename of the asset in flight, then reads its committed search_text (whose own
        -- trigger, below, could not yet see this grant row).
        SELECT a.search_text INTO NEW.search_text FROM media_assets a WHERE a.asset_id = NEW.asset_id FOR SHARE;
        RETURN NEW;
      END $$`);
    await q.query(`DROP TRIGGER IF EXISTS asset_acl_search_text ON asset_acl`);
    await q.query(
      `CREATE TRIGGER asset_acl_search_text BEFORE INSERT OR UPDATE OF asset_id ON asset_acl FOR EACH ROW EXECUTE FUNCTION asset_acl_search_text()`,
    );
    await q.query(`
      CREATE OR REPLACE FUNCTION media_assets_acl_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE asset_acl SET search_text = NEW.search_text
         WHERE asset_id = NEW.asset_id AND search_text IS DISTINCT FROM NEW.search_text;
        RETURN NULL;
      END $$`);
    // UPDATE OF lists the columns an UPDATE may set: search_text itself is set by the BEFORE trigger when filename or
    // path change (a column set by a trigger does not fire an OF-column trigger), so those are listed too.
    await q.query(`DROP TRIGGER IF EXISTS media_assets_acl_search_text ON media_assets`);
    await q.query(
      `CREATE TRIGGER media_assets_acl_search_text AFTER UPDATE OF filename, path, search_text ON media_assets FOR EACH ROW
         WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text) EXECUTE FUNCTION media_assets_acl_search_text()`,
    );
    await q.commitTransaction(); // the triggers cover every grant written from here on

    const [{ pages }] = (await q.query(`SELECT (pg_relation_size('asset_acl') / current_setting('block_size')::int)::bigint AS pages`)) as {
      pages: string;
    }[];
    const backfill = `UPDATE asset_acl g SET search_text = a.search_text FROM media_assets a
                       WHERE a.asset_id = g.asset_id AND g.search_text IS DISTINCT FROM a.search_text`;
    for (let from = 0; from <= Number(pages); from += BACKFILL_PAGES) {
      await q.startTransaction();
      await q.query(`SET LOCAL statement_timeout = 0`);
      await long(`${backfill} AND g.ctid >= format('(%s,0)', $1::bigint)::tid AND g.ctid < format('(%s,0)', $2::bigint)::tid`, [
        from,
        from + BACKFILL_PAGES,
      ]);
      await q.commitTransaction();
    }
    // Rows moved past the scanned range meanwhile.
    await q.startTransaction();
    await q.query(`SET LOCAL statement_timeout = 0`);
    await long(`${backfill} AND g.search_text IS NULL`);
    await q.commitTransaction();

    await q.query(`SET statement_timeout = 0`);
    try {
      const name = 'asset_acl_search_idx';
      const [state] = (await q.query(`SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`, [name])) as {
        valid: boolean;
      }[];
      if (!state?.valid) {
        if (state) await long(`DROP INDEX CONCURRENTLY ${name}`);
        await long(
          `CREATE INDEX CONCURRENTLY ${name} ON asset_acl USING gist (principal, search_text gist_trgm_ops(siglen = 64)) WHERE permission = 'read'`,
        );
      }
    } finally {
      await q.query(`RESET statement_timeout`);
    }
    await long(`ANALYZE asset_acl`);
    await q.startTransaction(); // the migration runner records the migration in it and commits
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS asset_acl_search_idx`);
    await q.query(`DROP TRIGGER IF EXISTS media_assets_acl_search_text ON media_assets`);
    await q.query(`DROP FUNCTION IF EXISTS media_assets_acl_search_text()`);
    await q.query(`DROP TRIGGER IF EXISTS asset_acl_search_text ON asset_acl`);
    await q.query(`DROP FUNCTION IF EXISTS asset_acl_search_text()`);
    await q.query(`ALTER TABLE asset_acl DROP COLUMN IF EXISTS search_text`);
  }
}
