import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { MAX_PRINCIPAL_BRANCHES } from '@app/assets';
import { AssetPermission, Errors } from '@app/core';
import { DataSource, EntityManager } from 'typeorm';

/** A buckets row. */
export interface BucketRecord {
  name: string;
  /** Null for the system bucket `default`. */
  ownerId: string | null;
  public: boolean;
  allowedMimeTypes: string[] | null;
  fileSizeLimit: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface BucketGrant {
  principal: string;
  permission: AssetPermission;
}

/** A bucket with its grants (what the access rules need). */
export interface BucketAccessFacts {
  ownerId: string | null;
  public: boolean;
  grants: BucketGrant[];
}

/** A live asset as a bucket listing shows it. */
export interface ObjectRow {
  assetId: string;
  ownerId: string;
  path: string;
  filename: string;
  mimeType: string;
  sizeBytes: string;
  status: string;
  checksumSha256: string | null;
  updatedAt: Date;
}

const BUCKET_COLUMNS = `name, owner_id::text AS "ownerId", public, allowed_mime_types AS "allowedMimeTypes",
  file_size_limit::float8 AS "fileSizeLimit", created_at AS "createdAt", updated_at AS "updatedAt"`;

const LIVE_PATH_INDEX = 'media_assets_live_path_idx';

const isUniqueViolation = (e: unknown, constraint: string) =>
  (e as { code?: string; constraint?: string })?.code === '23505' && (e as { constraint?: string }).constraint === constraint;

/** All SQL of buckets, bucket grants and the user-facing address (container, path) of assets. */
@Injectable()
export class BucketsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  async insert(b: { name: string; ownerId: string; public: boolean; allowedMimeTypes: string[] | null; fileSizeLimit: number | null }) {
    try {
      const [row] = await this.ds.query<BucketRecord[]>(
        `INSERT INTO buckets (name, owner_id, public, allowed_mime_types, file_size_limit) VALUES ($1, $2, $3, $4, $5) RETURNING ${BUCKET_COLUMNS}`,
        [b.name, b.ownerId, b.public, b.allowedMimeTypes, b.fileSizeLimit],
      );
      return row;
    } catch (e) {
      if (isUniqueViolation(e, 'buckets_pkey')) throw Errors.bucketExists(b.name);
      throw e;
    }
  }

  async find(name: string, m: EntityManager = this.ds.manager, lock?: 'update' | 'share'): Promise<BucketRecord | null> {
    const rows = await m.query<BucketRecord[]>(
      `SELECT ${BUCKET_COLUMNS} FROM buckets WHERE name = $1${lock ? ` FOR ${lock.toUpperCase()}` : ''}`,
      [name],
    );
    return rows[0] ?? null;
  }

  /** Buckets owned by `userId` or granted (any permission) to one of `principals` (not `*`), by name. */
  listVisible(userId: string, principals: string[], all: boolean): Promise<BucketRecord[]> {
    if (all) return this.ds.query(`SELECT ${BUCKET_COLUMNS} FROM buckets WHERE owner_id IS NOT NULL ORDER BY name LIMIT 10000`);
    return this.ds.query(
      `SELECT ${BUCKET_COLUMNS} FROM buckets b
        WHERE b.owner_id = $1::bigint
           OR EXISTS (SELECT 1 FROM bucket_acl g WHERE g.bucket_name = b.name AND g.principal = ANY($2::varchar[]))
        ORDER BY name LIMIT 10000`,
      [userId, principals.filter((p) => p !== '*')],
    );
  }

  async update(
    m: EntityManager,
    name: string,
    patch: { public?: boolean; allowedMimeTypes?: string[] | null; fileSizeLimit?: number | null },
  ): Promise<BucketRecord> {
    const [rows] = await m.query<[BucketRecord[], number]>(
      `UPDATE buckets SET
         public = CASE WHEN $2 THEN $3 ELSE public END,
         allowed_mime_types = CASE WHEN $4 THEN $5::text[] ELSE allowed_mime_types END,
         file_size_limit = CASE WHEN $6 THEN $7::bigint ELSE file_size_limit END,
         updated_at = now()
       WHERE name = $1 RETURNING ${BUCKET_COLUMNS}`,
      [
        name,
        patch.public !== undefined,
        patch.public ?? false,
        patch.allowedMimeTypes !== undefined,
        patch.allowedMimeTypes ?? null,
        patch.fileSizeLimit !== undefined,
        patch.fileSizeLimit ?? null,
      ],
    );
    return rows[0];
  }

  async delete(m: EntityManager, name: string): Promise<void> {
    await m.query(`DELETE FROM buckets WHERE name = $1`, [name]);
  }

  async grants(name: string, m: EntityManager = this.ds.manager): Promise<BucketGrant[]> {
    return m.query<BucketGrant[]>(
      `SELECT principal, permission::text AS permission FROM bucket_acl WHERE bucket_name = $1 ORDER BY principal, permission`,
      [name],
    );
  }

  async replaceGrants(m: EntityManager, name: string, grants: BucketGrant[]): Promise<void> {
    await m.query(`DELETE FROM bucket_acl WHERE bucket_name = $1`, [name]);
    if (!grants.length) return;
    await m.query(
      `INSERT INTO bucket_acl (bucket_name, principal, permission)
       SELECT $1, p, perm::asset_permission FROM unnest($2::varchar[], $3::text[]) AS t(p, perm) ON CONFLICT DO NOTHING`,
      [name, grants.map((g) => g.principal), grants.map((g) => g.permission)],
    );
  }

  /** Owner, public flag and grants of a bucket in one round trip; null when there is no such bucket. */
  async accessFacts(name: string): Promise<BucketAccessFacts | null> {
    const rows = await this.ds.query<{ ownerId: string | null; public: boolean; grants: BucketGrant[] }[]>(
      `SELECT b.owner_id::text AS "ownerId", b.public,
              coalesce((SELECT json_agg(json_build_object('principal', g.principal, 'permission', g.permission))
                          FROM bucket_acl g WHERE g.bucket_name = b.name), '[]'::json) AS grants
         FROM buckets b WHERE b.name = $1`,
      [name],
    );
    return rows[0] ?? null;
  }

  /** Live assets in the bucket (how many, up to `cap`). */
  async countLive(m: EntityManager, name: string, cap = 1): Promise<number> {
    const [r] = await m.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM media_assets WHERE container = $1 AND status <> 'deleted' LIMIT $2) x`,
      [name, cap],
    );
    return r.n;
  }

  /** Ids of live assets in the bucket (a chunk, for a forced delete). */
  liveIds(name: string, limit: number): Promise<{ assetId: string; ownerId: string }[]> {
    return this.ds.query(
      `SELECT asset_id AS "assetId", owner_id::text AS "ownerId" FROM media_assets WHERE container = $1 AND status <> 'deleted' LIMIT $2`,
      [name, limit],
    );
  }

  /** Object keys of the bucket's ready assets (what a CDN may hold), in pages. */
  readyObjectKeys(m: EntityManager, name: string): Promise<{ object_key: string }[]> {
    return m.query(`SELECT DISTINCT object_key FROM media_assets WHERE container = $1 AND status = 'ready'`, [name]);
  }

  /** The live asset at (bucket, path), if any. */
  async findLiveByPath(container: string, path: string): Promise<{ assetId: string } | null> {
    const rows = await this.ds.query<{ assetId: string }[]>(
      `SELECT asset_id AS "assetId" FROM media_assets WHERE container = $1 AND path COLLATE "C" = $2 AND status <> 'deleted'`,
      [container, path],
    );
    return rows[0] ?? null;
  }

  /**
   * Gives the asset its user-facing address in the caller's transaction; 409 PathTaken when a live asset has it
   * already (the unique index decides, so of concurrent requests for one path exactly one wins). The bucket row is
   * share-locked so that a concurrent bucket delete waits (or this waits for it and answers 404).
   */
  async assignAddress(m: EntityManager, assetId: string, container: string, path: string | null): Promise<void> {
    if (!(await this.find(container, m, 'share'))) throw Errors.bucketNotFound(container);
    try {
      await m.query(`UPDATE media_assets SET container = $2, path = coalesce($3, asset_id::text), updated_at = now() WHERE asset_id = $1`, [
        assetId,
        container,
        path,
      ]);
    } catch (e) {
      if (isUniqueViolation(e, LIVE_PATH_INDEX)) throw Errors.pathTaken(container, path ?? assetId);
      throw e;
    }
  }

  /** Locks the asset row; its status, owner, storage key and stored object, or null when there is none. */
  async lockAsset(
    m: EntityManager,
    assetId: string,
  ): Promise<{ status: string; objectKey: string; storedObjectSha256: string | null; mimeType: string; sizeBytes: string } | null> {
    const rows = await m.query<
      { status: string; objectKey: string; storedObjectSha256: string | null; mimeType: string; sizeBytes: string }[]
    >(
      `SELECT status::text AS status, object_key AS "objectKey", stored_object_sha256 AS "storedObjectSha256",
              coalesce(detected_mime_type, mime_type) AS "mimeType", size_bytes::text AS "sizeBytes"
         FROM media_assets WHERE asset_id = $1 FOR UPDATE`,
      [assetId],
    );
    return rows[0] ?? null;
  }

  /**
   * A new ready asset `newId` owned by `ownerId` at (container, path) sharing the source's stored object (one more
   * reference, no bytes copied) with its user and extracted metadata; its ACL is not copied. 409 PathTaken when the
   * address is taken; false when the stored object is gone.
   */
  async copyReady(
    m: EntityManager,
    p: { sourceId: string; sha256: string; newId: string; ownerId: string; container: string; path: string | null },
  ): Promise<boolean> {
    const [refs] = await m.query<[unknown[], number]>(
      `UPDATE stored_objects SET ref_count = ref_count + 1, updated_at = now() WHERE checksum_sha256 = $1 RETURNING 1`,
      [p.sha256],
    );
    if (!refs.length) return false;
    try {
      await m.query(
        `INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, checksum_sha256, status, filename,
                                   declared_checksum_sha256, detected_mime_type, stored_object_sha256, upload_expires_at,
                                   processing_started_at, ready_at, cdn_url, container, path)
         SELECT $2, $3::bigint, bucket, object_key, mime_type, size_bytes, checksum_sha256, 'ready', filename,
                declared_checksum_sha256, detected_mime_type, stored_object_sha256, now(), now(), now(), cdn_url, $4, $5
           FROM media_assets WHERE asset_id = $1`,
        [p.sourceId, p.newId, p.ownerId, p.container, p.path ?? p.newId],
      );
    } catch (e) {
      if (isUniqueViolation(e, LIVE_PATH_INDEX)) throw Errors.pathTaken(p.container, p.path ?? p.newId);
      throw e;
    }
    await m.query(`INSERT INTO asset_metadata (asset_id, key, value) SELECT $2, key, value FROM asset_metadata WHERE asset_id = $1`, [
      p.sourceId,
      p.newId,
    ]);
    return true;
  }

  /**
   * One page of live assets in the bucket, in byte order of path, from `from` (inclusive) or after `after`, under
   * `prefix`, matching `q` (search_fold) and, unless `everything`, visible to the viewer (owned or granted read).
   */
  listObjects(p: {
    container: string;
    prefix: string;
    from?: string;
    after?: string;
    q?: string;
    limit: number;
    viewer: { userId: string | null; principals: string[]; everything: boolean };
  }): Promise<ObjectRow[]> {
    const values: unknown[] = [];
    const v = (x: unknown) => {
      values.push(x);
      return `$${values.length}`;
    };
    const where = [`a.container = ${v(p.container)}`, `a.status <> 'deleted'`];
    if (p.prefix) where.push(`a.path COLLATE "C" LIKE ${v(`${p.prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
    if (p.from !== undefined) where.push(`a.path COLLATE "C" >= ${v(p.from)}`);
    if (p.after !== undefined) where.push(`a.path COLLATE "C" > ${v(p.after)}`);
    const pattern = p.q ? `'%' || search_fold(${v(escapeLike(p.q))}) || '%'` : null;
    if (pattern) where.push(`a.search_text LIKE ${pattern}`);
    const columns = `a.asset_id AS "assetId", a.owner_id::text AS "ownerId", a.path, a.filename, a.mime_type AS "mimeType",
              a.size_bytes::text AS "sizeBytes", a.status::text AS status, a.checksum_sha256 AS "checksumSha256", a.updated_at AS "updatedAt"`;
    const principals = [...new Set(p.viewer.principals)];
    if (!p.viewer.everything && pattern && principals.length <= MAX_PRINCIPAL_BRANCHES) {
      // Name search where each asset's own grants decide (the default bucket): one branch for the caller's assets and
      // one per principal over its `read` grants, each in path order and limited, merged. The planner picks per branch
      // between walking the path index and reading the principal's matching grants (asset_acl_search_idx) first — so
      // a caller who may read few of the bucket's matches no longer walks the bucket to find them.
      const limit = v(p.limit);
      const me = p.viewer.userId === null ? null : v(p.viewer.userId);
      const branches: string[] = [];
      if (me) {
        branches.push(
          `(SELECT ${columns} FROM media_assets a WHERE ${where.join(' AND ')} AND a.owner_id = ${me}::bigint ORDER BY a.path COLLATE "C" LIMIT ${limit})`,
        );
      }
      for (const principal of principals) {
        branches.push(
          `(SELECT ${columns} FROM asset_acl g JOIN media_assets a ON a.asset_id = g.asset_id WHERE g.principal = ${v(principal)}` +
            ` AND g.permission = 'read' AND g.search_text LIKE ${pattern} AND ${where.join(' AND ')}${me ? ` AND a.owner_id <> ${me}::bigint` : ''}` +
            ` ORDER BY a.path COLLATE "C" LIMIT ${limit})`,
        );
      }
      if (!branches.length) return Promise.resolve([]);
      // An asset granted to several of the caller's principals comes once per principal: kept once.
      return this.ds.query(
        `SELECT * FROM (SELECT DISTINCT ON (u."assetId") * FROM (${branches.join(' UNION ALL ')}) u) v ORDER BY v.path COLLATE "C" LIMIT ${limit}`,
        values,
      );
    }
    if (!p.viewer.everything) {
      const me = p.viewer.userId === null ? 'false' : `a.owner_id = ${v(p.viewer.userId)}::bigint`;
      where.push(
        `(${me} OR EXISTS (SELECT 1 FROM asset_acl g WHERE g.asset_id = a.asset_id AND g.permission = 'read' AND g.principal = ANY(${v(principals)}::varchar[])))`,
      );
    }
    return this.ds.query(
      `SELECT ${columns} FROM media_assets a WHERE ${where.join(' AND ')} ORDER BY a.path COLLATE "C" LIMIT ${v(p.limit)}`,
      values,
    );
  }
}

export const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
