import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 15: owner usage counted once per INSERT statement, not once per inserted row.
 *
 * media_assets_usage counted every inserted row with its own upsert of owner_usage (a plpgsql call, an index lookup
 * and a new version of the owner's row each): a group-commit batch of POST /media/upload-url (create_pending_assets,
 * migration 1764000015000) of one owner updated that owner's row once per request, under the lock the batch holds.
 * Inserts are now counted by a statement-level trigger over the statement's transition table (REFERENCING NEW TABLE):
 * one upsert per owner per statement, in owner_id order (the order create_pending_assets locks in, so no deadlock),
 * at the same moment as before (AFTER triggers run at the end of the statement either way). The row-level trigger
 * keeps counting UPDATE and DELETE, unchanged (PostgreSQL allows a transition table only on a single-event trigger).
 * The figures are the same: processing/ready rows count in bytes/assets, pending rows in pending_bytes/
 * pending_assets, other statuses in neither.
 */
export class UsagePerStatement1764000017200 implements MigrationInterface {
  name = 'UsagePerStatement1764000017200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION media_assets_usage_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO owner_usage AS u (owner_id, bytes, assets, pending_bytes, pending_assets)
        SELECT n.owner_id,
               coalesce(sum(n.size_bytes) FILTER (WHERE n.status IN ('processing', 'ready')), 0),
               count(*) FILTER (WHERE n.status IN ('processing', 'ready')),
               coalesce(sum(n.size_bytes) FILTER (WHERE n.status = 'pending'), 0),
               count(*) FILTER (WHERE n.status = 'pending')
          FROM inserted_assets n
         WHERE n.status IN ('processing', 'ready', 'pending')
         GROUP BY n.owner_id
         ORDER BY n.owner_id
        ON CONFLICT (owner_id) DO UPDATE SET
          bytes = u.bytes + EXCLUDED.bytes, assets = u.assets + EXCLUDED.assets,
          pending_bytes = u.pending_bytes + EXCLUDED.pending_bytes, pending_assets = u.pending_assets + EXCLUDED.pending_assets,
          updated_at = now();
        RETURN NULL;
      END $$`);
    // Replaced in one transaction (this migration runs in one transaction): no insert goes uncounted or counted twice in between.
    await q.query(`DROP TRIGGER media_assets_usage ON media_assets`);
    await q.query(`
      CREATE TRIGGER media_assets_usage AFTER DELETE OR UPDATE OF status, owner_id, size_bytes ON media_assets
        FOR EACH ROW EXECUTE FUNCTION media_assets_usage()`);
    await q.query(`
      CREATE TRIGGER media_assets_usage_inserted AFTER INSERT ON media_assets REFERENCING NEW TABLE AS inserted_assets
        FOR EACH STATEMENT EXECUTE FUNCTION media_assets_usage_inserted()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER media_assets_usage_inserted ON media_assets`);
    await q.query(`DROP TRIGGER media_assets_usage ON media_assets`);
    await q.query(`
      CREATE TRIGGER media_assets_usage AFTER INSERT OR DELETE OR UPDATE OF status, owner_id, size_bytes ON media_assets
        FOR EACH ROW EXECUTE FUNCTION media_assets_usage()`);
    await q.query(`DROP FUNCTION media_assets_usage_inserted()`);
  }
}
