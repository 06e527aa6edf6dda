import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 15: create_pending_assets (migration 1764000015000) reads the owners' EXPIRED pending uploads (they no longer
 * count against the quota) with one index probe per owner, planned on every call for the table as it is then.
 *
 * PL/pgSQL plans each static statement once per connection and keeps the plan. A service that starts on a new or
 * small media_assets, or on one whose statistics say it is empty (a fresh deploy: migration 1764000017400 analyses
 * it; every bench run), until the next ANALYZE and a reconnect, planned that read while the table was tiny, where
 * every index looks alike: it was seen as a scan of media_assets_search_owner_idx (every asset of the owner,
 * filtered afterwards) or a bitmap scan of media_assets_open_status_idx (every pending upload of every owner), and
 * the connection kept that plan as the table grew. PostgreSQL's CPU per row of a batch grew with the table: 0.12 ms at 5,000 rows, 0.42–0.9 ms at 30,000
 * (one connection, batches of 20 rows of 20 owners), against a flat ~0.1 ms on a connection opened at that size.
 * Now the read is one probe per owner of the batch (LATERAL, owner_id = o AND upload_expires_at <= now(): only
 * media_assets_pending_owner_idx has both columns, and it INCLUDEs size_bytes, so an index-only scan), planned on
 * every call (EXECUTE, a few hundredths of a ms per batch) for the table as it is then. Measured the same way: flat
 * at 0.09–0.10 ms per row from 5,000 to 30,000 rows. The rest of the function is unchanged.
 *
 * create_pending_asset (one asset: multipart sessions, and the batcher's fallback) read the same range with the same
 * kind of cached plan; its read is planned per call too (owner_id = $1 AND upload_expires_at <= now()).
 */
export class PendingBatchExpiredPlan1764000018400 implements MigrationInterface {
  name = 'PendingBatchExpiredPlan1764000018400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION create_pending_assets(p_requests jsonb, p_default_max_bytes bigint, p_default_max_assets bigint)
      RETURNS TABLE (req_ord integer, req_created boolean, req_committed_bytes bigint, req_committed_assets bigint,
                     req_pending_bytes bigint, req_pending_assets bigint, req_override_max_bytes bigint,
                     req_override_max_assets bigint, req_has_override boolean)
      LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        owners bigint[];
        c_bytes bigint[];
        c_assets bigint[];
        p_bytes bigint[];
        p_assets bigint[];
        o_bytes bigint[];
        o_assets bigint[];
        o_has boolean[];
        accepted integer[] := '{}';
        r record;
        i integer;
        mb bigint;
        ma bigint;
      BEGIN
        SELECT array_agg(DISTINCT (e->>'o')::bigint ORDER BY (e->>'o')::bigint) INTO owners FROM jsonb_array_elements(p_requests) e;
        -- Lock every owner's usage row (created on first use), in owner order, until the statement's transaction ends.
        WITH locked AS (
          INSERT INTO owner_usage AS u (owner_id) SELECT o FROM unnest(owners) o ORDER BY o
            ON CONFLICT (owner_id) DO UPDATE SET owner_id = EXCLUDED.owner_id
            RETURNING u.owner_id, u.bytes, u.assets, u.pending_bytes, u.pending_assets)
        SELECT array_agg(l.bytes ORDER BY l.owner_id), array_agg(l.assets ORDER BY l.owner_id),
               array_agg(l.pending_bytes ORDER BY l.owner_id), array_agg(l.pending_assets ORDER BY l.owner_id)
          INTO c_bytes, c_assets, p_bytes, p_assets FROM locked l;
        o_bytes := array_fill(NULL::bigint, ARRAY[cardinality(owners)]);
        o_assets := array_fill(NULL::bigint, ARRAY[cardinality(owners)]);
        o_has := array_fill(false, ARRAY[cardinality(owners)]);
        -- New snapshot, taken after the locks: expired pending uploads do not count.
        -- One index probe per owner, planned on every call (EXECUTE) for the table as it is now: see the migration.
        FOR r IN EXECUTE 'SELECT o AS owner_id, x.b, x.n FROM unnest($1::bigint[]) o,
                            LATERAL (SELECT sum(a.size_bytes) AS b, count(*) AS n FROM media_assets a
                                      WHERE a.owner_id = o AND a.status = ''pending'' AND a.upload_expires_at <= now()) x
                           WHERE x.n > 0' USING owners LOOP
          i := array_position(owners, r.owner_id);
          p_bytes[i] := p_bytes[i] - r.b;
          p_assets[i] := p_assets[i] - r.n;
        END LOOP;
        FOR r IN SELECT oq.owner_id, oq.max_bytes, oq.max_assets FROM owner_quotas oq WHERE oq.owner_id = ANY (owners) LOOP
          i := array_position(owners, r.owner_id);
          o_bytes[i] := r.max_bytes;
          o_assets[i] := r.max_assets;
          o_has[i] := true;
        END LOOP;
        -- Arrival order; mirrors create_pending_asset (effectiveLimits + checkQuota in quota-rules.ts).
        FOR r IN SELECT t.n::integer AS n, (t.e->>'o')::bigint AS o, (t.e->>'s')::bigint AS s
                   FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS t(e, n) ORDER BY t.n LOOP
          i := array_position(owners, r.o);
          mb := coalesce(o_bytes[i], p_default_max_bytes);
          ma := coalesce(o_assets[i], p_default_max_assets);
          req_ord := r.n;
          req_committed_bytes := c_bytes[i];
          req_committed_assets := c_assets[i];
          req_pending_bytes := p_bytes[i];
          req_pending_assets := p_assets[i];
          req_override_max_bytes := o_bytes[i];
          req_override_max_assets := o_assets[i];
          req_has_override := o_has[i];
          IF (mb > 0 AND c_bytes[i] + p_bytes[i] + r.s > mb) OR (ma > 0 AND c_assets[i] + p_assets[i] + 1 > ma) THEN
            req_created := false;
          ELSE
            req_created := true;
            p_bytes[i] := p_bytes[i] + r.s;
            p_assets[i] := p_assets[i] + 1;
            accepted := accepted || r.n;
          END IF;
          RETURN NEXT;
        END LOOP;
        IF cardinality(accepted) = 0 THEN
          RETURN;
        END IF;
        INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, status, filename,
                                  declared_checksum_sha256, upload_expires_at)
          SELECT (t.e->>'a')::uuid, (t.e->>'o')::bigint, t.e->>'b', t.e->>'k', t.e->>'m', (t.e->>'s')::bigint, 'pending',
                 t.e->>'f', t.e->>'c', (t.e->>'x')::timestamptz
            FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS t(e, n) WHERE t.n = ANY (accepted) ORDER BY t.n;
        INSERT INTO asset_metadata (asset_id, key, value)
          SELECT (t.e->>'a')::uuid, kv.key, kv.value
            FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS t(e, n), jsonb_each_text(t.e->'md') kv
           WHERE t.n = ANY (accepted) AND jsonb_typeof(t.e->'md') = 'object';
        INSERT INTO asset_acl (asset_id, principal, permission)
          SELECT (t.e->>'a')::uuid, g->>0, (g->>1)::asset_permission
            FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS t(e, n), jsonb_array_elements(t.e->'g') g
           WHERE t.n = ANY (accepted) AND jsonb_typeof(t.e->'g') = 'array'
          ON CONFLICT DO NOTHING;
      END $$`);
    await q.query(`
      CREATE OR REPLACE FUNCTION create_pending_asset(
        p_owner_id bigint, p_size_bytes bigint, p_default_max_bytes bigint, p_default_max_assets bigint,
        p_asset_id uuid, p_bucket varchar, p_object_key varchar, p_mime_type varchar, p_filename varchar,
        p_declared_checksum_sha256 char(64), p_upload_expires_at timestamptz,
        p_metadata_keys varchar[], p_metadata_values text[], p_acl_principals varchar[], p_acl_permissions text[],
        OUT created boolean, OUT committed_bytes bigint, OUT committed_assets bigint,
        OUT pending_bytes bigint, OUT pending_assets bigint, OUT override_max_bytes bigint, OUT override_max_assets bigint,
        OUT has_override boolean
      ) LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        max_bytes bigint;
        max_assets bigint;
        expired_bytes bigint;
        expired_assets bigint;
      BEGIN
        -- Lock the owner's usage row (created on first use) until the caller's transaction ends.
        INSERT INTO owner_usage AS u (owner_id) VALUES (p_owner_id)
          ON CONFLICT (owner_id) DO UPDATE SET owner_id = EXCLUDED.owner_id
          RETURNING u.bytes, u.assets, u.pending_bytes, u.pending_assets
          INTO committed_bytes, committed_assets, pending_bytes, pending_assets;
        -- New snapshot, taken after the lock: sees every pending upload counted above. Expired ones do not count.
        EXECUTE 'SELECT coalesce(sum(a.size_bytes), 0), count(*) FROM media_assets a
                  WHERE a.owner_id = $1 AND a.status = ''pending'' AND a.upload_expires_at <= now()'
          INTO expired_bytes, expired_assets USING p_owner_id;
        pending_bytes := pending_bytes - expired_bytes;
        pending_assets := pending_assets - expired_assets;
        SELECT o.max_bytes, o.max_assets, true INTO override_max_bytes, override_max_assets, has_override
          FROM owner_quotas o WHERE o.owner_id = p_owner_id;
        has_override := coalesce(has_override, false);
        -- Mirrors effectiveLimits + checkQuota (quota-rules.ts).
        max_bytes := coalesce(override_max_bytes, p_default_max_bytes);
        max_assets := coalesce(override_max_assets, p_default_max_assets);
        IF (max_bytes > 0 AND committed_bytes + pending_bytes + p_size_bytes > max_bytes)
           OR (max_assets > 0 AND committed_assets + pending_assets + 1 > max_assets) THEN
          created := false;
          RETURN;
        END IF;
        INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, status, filename,
                                  declared_checksum_sha256, upload_expires_at)
          VALUES (p_asset_id, p_owner_id, p_bucket, p_object_key, p_mime_type, p_size_bytes, 'pending', p_filename,
                  p_declared_checksum_sha256, p_upload_expires_at);
        IF cardinality(p_metadata_keys) > 0 THEN
          INSERT INTO asset_metadata (asset_id, key, value)
            SELECT p_asset_id, k, v FROM unnest(p_metadata_keys, p_metadata_values) AS t(k, v);
        END IF;
        IF cardinality(p_acl_principals) > 0 THEN
          INSERT INTO asset_acl (asset_id, principal, permission)
            SELECT p_asset_id, p, perm::asset_permission FROM unnest(p_acl_principals, p_acl_permissions) AS t(p, perm)
            ON CONFLICT DO NOTHING;
        END IF;
        created := true;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION create_pending_assets(p_requests jsonb, p_default_max_bytes bigint, p_default_max_assets bigint)
      RETURNS TABLE (req_ord integer, req_created boolean, req_committed_bytes bigint, req_committed_assets bigint,
                     req_pending_bytes bigint, req_pending_assets bigint, req_override_max_bytes bigint,
                     req_override_max_assets bigint, req_has_override boolean)
      LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        owners bigint[];
        c_bytes bigint[];
        c_assets bigint[];
        p_bytes bigint[];
        p_assets bigint[];
        o_bytes bigint[];
        o_assets bigint[];
        o_has boolean[];
        accepted integer[] := '{}';
        r record;
        i integer;
        mb bigint;
        ma bigint;
      BEGIN
        SELECT array_agg(DISTINCT (e->>'o')::bigint ORDER BY (e->>'o')::bigint) INTO owners FROM jsonb_array_elements(p_requests) e;
        -- Lock every owner's usage row (created on first use), in owner order, until the statement's transaction ends.
        WITH locked AS (
          INSERT INTO owner_usage AS u (owner_id) SELECT o FROM unnest(owners) o ORDER BY o
            ON CONFLICT (owner_id) DO UPDATE SET owner_id = EXCLUDED.owner_id
            RETURNING u.owner_id, u.bytes, u.assets, u.pending_bytes, u.pending_assets)
        SELECT array_agg(l.bytes ORDER BY l.owner_id), array_agg(l.assets ORDER BY l.owner_id),
               array_agg(l.pending_bytes ORDER BY l.owner_id), array_agg(l.pending_assets ORDER BY l.owner_id)
          INTO c_bytes, c_assets, p_bytes, p_assets FROM locked l;
        o_bytes := array_fill(NULL::bigint, ARRAY[cardinality(owners)]);
        o_assets := array_fill(NULL::bigint, ARRAY[cardinality(owners)]);
        o_has := array_fill(false, ARRAY[cardinality(owners)]);
        -- New snapshot, taken after the locks: expired pending uploads do not count.
        FOR r IN SELECT a.owner_id, sum(a.size_bytes) AS b, count(*) AS n FROM media_assets a
                  WHERE a.owner_id = ANY (owners) AND a.status = 'pending' AND a.upload_expires_at <= now()
                  GROUP BY a.owner_id LOOP
          i := array_position(owners, r.owner_id);
          p_bytes[i] := p_bytes[i] - r.b;
          p_assets[i] := p_assets[i] - r.n;
        END LOOP;
        FOR r IN SELECT oq.owner_id, oq.max_bytes, oq.max_assets FROM owner_quotas oq WHERE oq.owner_id = ANY (owners) LOOP
          i := array_position(owners, r.owner_id);
          o_bytes[i] := r.max_bytes;
          o_assets[i] := r.max_assets;
          o_has[i] := true;
        END LOOP;
        -- Arrival order; mirrors create_pending_asset (effectiveLimits + checkQuota in quota-rules.ts).
        FOR r IN SELECT t.n::integer AS n, (t.e->>'o')::bigint AS o, (t.e->>'s')::bigint AS s
                   FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS t(e, n) ORDER BY t.n LOOP
          i := array_position(owners, r.o);
          mb := coalesce(o_bytes[i], p_default_max_bytes);
          ma := coalesce(o_assets[i], p_default_max_assets);
          req_ord := r.n;
          req_committed_bytes := c_bytes[i];
          req_committed_assets := c_assets[i];
          req_pending_bytes := p_bytes[i];
          req_pending_assets := p_assets[i];
          req_override_max_bytes := o_bytes[i];
          req_override_max_assets := o_assets[i];
          req_has_override := o_has[i];
          IF (mb > 0 AND c_bytes[i] + p_bytes[i] + r.s > mb) OR (ma > 0 AND c_assets[i] + p_assets[i] + 1 > ma) THEN
            req_created := false;
          ELSE
            req_created := true;
            p_bytes[i] := p_bytes[i] + r.s;
            p_assets[i] := p_assets[i] + 1;
            accepted := accepted || r.n;
          END IF;
          RETURN NEXT;
        END LOOP;
        IF cardinality(accepted) = 0 THEN
          RETURN;
        END IF;
        INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, status, filename,
                                  declared_checksum_sha256, upload_expires_at)
          SELECT (t.e->>'a')::uuid, (t.e->>'o')::bigint, t.e->>'b', t.e->>'k', t.e->>'m', (t.e->>'s')::bigint, 'pending',
                 t.e->>'f', t.e->>'c', (t.e->>'x')::timestamptz
            FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS t(e, n) WHERE t.n = ANY (accepted) ORDER BY t.n;
        INSERT INTO asset_metadata (asset_id, key, value)
          SELECT (t.e->>'a')::uuid, kv.key, kv.value
            FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS t(e, n), jsonb_each_text(t.e->'md') kv
           WHERE t.n = ANY (accepted) AND jsonb_typeof(t.e->'md') = 'object';
        INSERT INTO asset_acl (asset_id, principal, permission)
          SELECT (t.e->>'a')::uuid, g->>0, (g->>1)::asset_permission
            FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS t(e, n), jsonb_array_elements(t.e->'g') g
           WHERE t.n = ANY (accepted) AND jsonb_typeof(t.e->'g') = 'array'
          ON CONFLICT DO NOTHING;
      END $$`);
    await q.query(`
      CREATE OR REPLACE FUNCTION create_pending_asset(
        p_owner_id bigint, p_size_bytes bigint, p_default_max_bytes bigint, p_default_max_assets bigint,
        p_asset_id uuid, p_bucket varchar, p_object_key varchar, p_mime_type varchar, p_filename varchar,
        p_declared_checksum_sha256 char(64), p_upload_expires_at timestamptz,
        p_metadata_keys varchar[], p_metadata_values text[], p_acl_principals varchar[], p_acl_permissions text[],
        OUT created boolean, OUT committed_bytes bigint, OUT committed_assets bigint,
        OUT pending_bytes bigint, OUT pending_assets bigint, OUT override_max_bytes bigint, OUT override_max_assets bigint,
        OUT has_override boolean
      ) LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        max_bytes bigint;
        max_assets bigint;
        expired_bytes bigint;
        expired_assets bigint;
      BEGIN
        -- Lock the owner's usage row (created on first use) until the caller's transaction ends.
        INSERT INTO owner_usage AS u (owner_id) VALUES (p_owner_id)
          ON CONFLICT (owner_id) DO UPDATE SET owner_id = EXCLUDED.owner_id
          RETURNING u.bytes, u.assets, u.pending_bytes, u.pending_assets
          INTO committed_bytes, committed_assets, pending_bytes, pending_assets;
        -- New snapshot, taken after the lock: sees every pending upload counted above. Expired ones do not count.
        SELECT coalesce(sum(a.size_bytes), 0), count(*) INTO expired_bytes, expired_assets
          FROM media_assets a WHERE a.owner_id = p_owner_id AND a.status = 'pending' AND a.upload_expires_at <= now();
        pending_bytes := pending_bytes - expired_bytes;
        pending_assets := pending_assets - expired_assets;
        SELECT o.max_bytes, o.max_assets, true INTO override_max_bytes, override_max_assets, has_override
          FROM owner_quotas o WHERE o.owner_id = p_owner_id;
        has_override := coalesce(has_override, false);
        -- Mirrors effectiveLimits + checkQuota (quota-rules.ts).
        max_bytes := coalesce(override_max_bytes, p_default_max_bytes);
        max_assets := coalesce(override_max_assets, p_default_max_assets);
        IF (max_bytes > 0 AND committed_bytes + pending_bytes + p_size_bytes > max_bytes)
           OR (max_assets > 0 AND committed_assets + pending_assets + 1 > max_assets) THEN
          created := false;
          RETURN;
        END IF;
        INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, status, filename,
                                  declared_checksum_sha256, upload_expires_at)
          VALUES (p_asset_id, p_owner_id, p_bucket, p_object_key, p_mime_type, p_size_bytes, 'pending', p_filename,
                  p_declared_checksum_sha256, p_upload_expires_at);
        IF cardinality(p_metadata_keys) > 0 THEN
          INSERT INTO asset_metadata (asset_id, key, value)
            SELECT p_asset_id, k, v FROM unnest(p_metadata_keys, p_metadata_values) AS t(k, v);
        END IF;
        IF cardinality(p_acl_principals) > 0 THEN
          INSERT INTO asset_acl (asset_id, principal, permission)
            SELECT p_asset_id, p, perm::asset_permission FROM unnest(p_acl_principals, p_acl_permissions) AS t(p, perm)
            ON CONFLICT DO NOTHING;
        END IF;
        created := true;
      END $$`);
  }
}
