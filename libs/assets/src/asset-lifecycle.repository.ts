import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { MediaAsset } from './media-asset.entity';

export interface StoredObjectRef {
  sha256: string;
  bucket: string;
  objectKey: string;
  sizeBytes: number;
  refCount: number;
  integrity: 'ok' | 'missing' | 'corrupt';
  storageClass: string;
}

/** A ready asset whose own object tiering may move. */
export interface TieringCandidate {
  assetId: string;
  sha256: string;
  bucket: string;
  objectKey: string;
  storageClass: string;
  lastUsedAt: Date;
}

const REF_COLUMNS = `checksum_sha256 AS sha256, bucket, object_key AS "objectKey", size_bytes::float8 AS "sizeBytes", ref_count AS "refCount", integrity, storage_class AS "storageClass"`;

/** SQL on media_assets and stored_objects that the lifecycle jobs need (every age is compared with the caller's clock). */
@Injectable()
export class AssetLifecycleRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** `pending` assets created before `createdBefore` whose upload URL expired before `now`, oldest first. */
  findExpiredPending(now: Date, createdBefore: Date, limit: number): Promise<MediaAsset[]> {
    return this.ds.manager
      .createQueryBuilder(MediaAsset, 'a')
      .where(`a.status = 'pending'`)
      .andWhere(`a.created_at < :createdBefore`, { createdBefore })
      .andWhere(`a.upload_expires_at < :now`, { now })
      .orderBy('a.created_at', 'ASC')
      .addOrderBy('a.asset_id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** Of `keys` (in `bucket`), those a row still uses: a stored object, a live asset, or a live asset's derived media. */
  async keysInUse(bucket: string, keys: string[]): Promise<Set<string>> {
    if (!keys.length) return new Set();
    const derivedOwners = [...new Set(keys.map((k) => /^derived\/([0-9a-f-]{36})\//.exec(k)?.[1]).filter((x): x is string => !!x))];
    const rows: { key: string }[] = await this.ds.query(
      `SELECT object_key AS key FROM stored_objects WHERE bucket = $1 AND object_key = ANY($2::varchar[])
       UNION
       SELECT object_key FROM media_assets WHERE bucket = $1 AND object_key = ANY($2::varchar[]) AND status <> 'deleted'
       UNION
       SELECT 'derived/' || asset_id || '/' FROM media_assets WHERE asset_id = ANY($3::uuid[]) AND status <> 'deleted'`,
      [bucket, keys, derivedOwners],
    );
    const used = new Set(rows.map((r) => r.key));
    return new Set(keys.filter((k) => used.has(k) || [...used].some((u) => u.endsWith('/') && k.startsWith(u))));
  }

  /** Stored objects in checksum order after `afterSha` (a page of the missing-object check). */
  storedObjectsAfter(afterSha: string, limit: number): Promise<StoredObjectRef[]> {
    return this.ds.query(`SELECT ${REF_COLUMNS} FROM stored_objects WHERE checksum_sha256 > $1 ORDER BY checksum_sha256 LIMIT $2`, [
      afterSha,
      limit,
    ]);
  }

  /**
   * The `limit` least recently verified stored objects (never verified first). Objects known to be missing come
   * last: they cannot be verified, and would otherwise take the front of every batch for good.
   */
  objectsToVerify(limit: number): Promise<StoredObjectRef[]> {
    return this.ds.query(
      `SELECT ${REF_COLUMNS} FROM stored_objects ORDER BY (integrity = 'missing'), last_verified_at NULLS FIRST, checksum_sha256 LIMIT $1`,
      [limit],
    );
  }

  async setIntegrity(sha256: string, integrity: 'ok' | 'missing' | 'corrupt', note: string | null, now: Date): Promise<boolean> {
    const [rows] = await this.ds.query<[unknown[], number]>(
      `UPDATE stored_objects SET integrity = $2, integrity_note = $3, integrity_changed_at = $4, updated_at = now()
        WHERE checksum_sha256 = $1 AND (integrity <> $2 OR integrity_note IS DISTINCT FROM $3) RETURNING 1`,
      [sha256, integrity, note, now],
    );
    return rows.length > 0; // UPDATE … RETURNING answers [rows, count]
  }

  async recordVerified(sha256: string, now: Date): Promise<void> {
    await this.ds.query(`UPDATE stored_objects SET last_verified_at = $2 WHERE checksum_sha256 = $1`, [sha256, now]);
  }

  /**
   * Ready assets of class `fromClass` not read since `unreadSince` (never read: since they became ready), oldest
   * first. Per asset: every asset has its own object, so one owner's reads never keep another owner's copy warm (nor
   * tell them about it). Assets whose stored object is known missing or corrupt wait for it to be whole again (as
   * before). An object key that several live assets share (assets made before per-asset objects) is left
   * alone: moving it would change what the others show.
   */
  tieringCandidates(fromClass: string, unreadSince: Date, limit: number): Promise<TieringCandidate[]> {
    return this.ds.query(
      `SELECT a.asset_id AS "assetId", a.stored_object_sha256 AS sha256, a.bucket, a.object_key AS "objectKey",
              a.storage_class AS "storageClass", coalesce(a.last_accessed_at, a.ready_at) AS "lastUsedAt"
         FROM media_assets a
        WHERE a.status = 'ready' AND a.storage_class = $1 AND coalesce(a.last_accessed_at, a.ready_at) < $2
          AND NOT EXISTS (SELECT 1 FROM stored_objects s WHERE s.checksum_sha256 = a.stored_object_sha256 AND s.integrity <> 'ok')
          AND NOT EXISTS (SELECT 1 FROM media_assets b
                           WHERE b.bucket = a.bucket AND b.object_key = a.object_key AND b.asset_id <> a.asset_id AND b.status <> 'deleted')
        ORDER BY coalesce(a.last_accessed_at, a.ready_at), a.asset_id LIMIT $3`,
      [fromClass, unreadSince, limit],
    );
  }

  /** Records the asset's new class (and the stored object's, when the asset's key is the stored object's). */
  async setStorageClass(assetId: string, storageClass: string): Promise<void> {
    await this.ds.query(
      `WITH a AS (UPDATE media_assets SET storage_class = $2, updated_at = now() WHERE asset_id = $1 RETURNING bucket, object_key)
       UPDATE stored_objects o SET storage_class = $2, updated_at = now() FROM a WHERE o.bucket = a.bucket AND o.object_key = a.object_key`,
      [assetId, storageClass],
    );
  }
}
