import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 15: POST /media/upload-url without one owner lock per request held across its commit.
 *
 * create_pending_assets(requests jsonb, defaults) is group commit: the service gathers the upload-url requests that
 * arrive while earlier ones are being written (PendingAssetBatcher) and writes them with ONE statement, so ONE
 * transaction and ONE commit (one WAL flush) per batch. It locks the usage row of every owner in the batch (in
 * owner_id order, so two batches never deadlock each other), reads each owner's usage and override once, then
 * decides the requests in arrival order exactly as create_pending_asset decides one: an accepted request counts
 * against the next ones of the same owner, a refused one does not. The accepted rows, their metadata and their
 * grants are inserted with one statement each. The caller answers each request only after the statement returned,
 * i.e. after the commit: no URL is handed out for a row that is not durable.
 *
 * The per-owner comparison is create_pending_asset's, line for line (which mirrors quota-rules.ts);
 * test/quota-rules.e2e-spec.ts runs both functions and quota-rules.ts on generated cases and expects the same
 * verdicts. create_pending_asset stays for multipart sessions (written in the same transaction as their asset) and
 * as the batcher's fallback when a batch fails as a whole (each request is then tried alone).
 *
 * Also: media_assets_owner_created_idx (owner_id, created_at, asset_id over every status) goes. Every list query
 * filters `status <> 'deleted'` and is served by media_assets_owner_live_created_idx (the same columns, partial), as
 * EXPLAIN of bench/list-at-scale.ts's shapes shows; nothing else reads it, and each insert wrote it.
 */
export class PendingAssetBatches1764000015000 implements MigrationInterface {
  name = 'PendingAssetBatches1764000015000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS media_assets_owner_created_idx`);
    await q.query(`
      CREATE FUNCTION create_pending_assets(p_requests jsonb, p_default_max_bytes bigint, p_default_max_assets bigint)
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
    await q.query(
      `COMMENT ON FUNCTION create_pending_assets IS 'POST /media/upload-url, group commit: one lock per owner per batch, quota decided per request in arrival order (mirrors create_pending_asset), accepted pending assets + metadata + ACL rows'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION create_pending_assets`);
    await q.query(`CREATE INDEX media_assets_owner_created_idx ON media_assets (owner_id, created_at DESC, asset_id DESC)`);
  }
}
