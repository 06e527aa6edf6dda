import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 17: user-facing buckets and paths.
 *
 * `media_assets.bucket` / `object_key` keep naming where the bytes are in storage. The user-facing address is new:
 * `container` (the name of a row of `buckets`, shown as `bucket` in the API) and `path` (the asset's name inside it,
 * NFC, at most 1024 bytes). Assets created without one land in the `default` bucket under their id: a BEFORE INSERT
 * trigger fills `path` from `asset_id`, so every existing insert (create_pending_asset, benchmarks, fixtures) keeps
 * working unchanged.
 *
 * A live asset's (container, path) is unique: media_assets_live_path_idx (byte order, "C"), which also serves
 * listing by prefix in path order. Name search: pg_trgm over search_fold(filename || ' ' || path)
 * (lower-cased, accents removed).
 */
export class Buckets1764000009500 implements MigrationInterface {
  name = 'Buckets1764000009500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    await q.query(`CREATE EXTENSION IF NOT EXISTS unaccent`);
    // unaccent() is STABLE (it reads a dictionary); with the dictionary named it can back an index.
    await q.query(`
      CREATE FUNCTION search_fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
      AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$`);
    await q.query(`
      CREATE TABLE buckets (
        name              VARCHAR(63)  PRIMARY KEY,
        owner_id          BIGINT       NULL,
        public            BOOLEAN      NOT NULL DEFAULT false,
        allowed_mime_types TEXT[]      NULL,
        file_size_limit   BIGINT       NULL,
        created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
        updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
        CONSTRAINT buckets_name_format CHECK (name ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$')
      )`);
    await q.query(`COMMENT ON TABLE buckets IS 'User-facing buckets (not storage buckets); owner_id NULL = the system bucket "default"'`);
    await q.query(`CREATE INDEX buckets_owner_idx ON buckets (owner_id, name)`);
    await q.query(`INSERT INTO buckets (name, owner_id) VALUES ('default', NULL)`);
    await q.query(`
      CREATE TABLE bucket_acl (
        bucket_name VARCHAR(63)      NOT NULL REFERENCES buckets(name) ON DELETE CASCADE ON UPDATE CASCADE,
        principal   VARCHAR(256)     NOT NULL,
        permission  asset_permission NOT NULL,
        PRIMARY KEY (bucket_name, principal, permission)
      )`);
    await q.query(`CREATE INDEX bucket_acl_principal_idx ON bucket_acl (principal, permission)`);

    await q.query(`ALTER TABLE media_assets ADD COLUMN container VARCHAR(63) NOT NULL DEFAULT 'default', ADD COLUMN path VARCHAR(1024)`);
    await q.query(`UPDATE media_assets SET path = asset_id::text WHERE path IS NULL`);
    await q.query(`
      CREATE FUNCTION media_assets_default_path() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.path IS NULL THEN NEW.path := NEW.asset_id::text; END IF;
        RETURN NEW;
      END $$`);
    await q.query(
      `CREATE TRIGGER media_assets_default_path BEFORE INSERT ON media_assets FOR EACH ROW EXECUTE FUNCTION media_assets_default_path()`,
    );
    await q.query(`ALTER TABLE media_assets ALTER COLUMN path SET NOT NULL`);
    await q.query(`CREATE UNIQUE INDEX media_assets_live_path_idx ON media_assets (container, path COLLATE "C") WHERE status <> 'deleted'`);
    await q.query(
      `CREATE INDEX media_assets_name_trgm_idx ON media_assets USING gin (search_fold(filename || ' ' || path) gin_trgm_ops) WHERE status <> 'deleted'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX media_assets_name_trgm_idx`);
    await q.query(`DROP INDEX media_assets_live_path_idx`);
    await q.query(`DROP TRIGGER media_assets_default_path ON media_assets`);
    await q.query(`DROP FUNCTION media_assets_default_path()`);
    await q.query(`ALTER TABLE media_assets DROP COLUMN path, DROP COLUMN container`);
    await q.query(`DROP TABLE bucket_acl`);
    await q.query(`DROP TABLE buckets`);
    await q.query(`DROP FUNCTION search_fold(text)`);
  }
}
