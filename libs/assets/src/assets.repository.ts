import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { ListQuery } from './asset-list.query';
import { MediaAsset } from './media-asset.entity';
import { StoredObject } from './stored-object.entity';

/**
 * SQL on media_assets and stored_objects (the quota's is in quota/quota.repository.ts, the lifecycle jobs' in
 * asset-lifecycle.repository.ts).
 */
@Injectable()
export class AssetsRepository {
  constructor(@InjectDataSource() readonly ds: DataSource) {}

  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  /** Stored objects and their bytes (deduplicated: what the store holds, not what owners uploaded). */
  async storedTotals(): Promise<{ objects: number; bytes: number }> {
    const [r]: { objects: string; bytes: string }[] = await this.ds.query(
      `SELECT count(*)::text AS objects, coalesce(sum(size_bytes), 0)::text AS bytes FROM stored_objects`,
    );
    return { objects: Number(r.objects), bytes: Number(r.bytes) };
  }

  /** By id, in plain SQL (the hot path of every asset route on a cache miss: no query building per call). */
  async find(assetId: string, m: EntityManager = this.ds.manager): Promise<MediaAsset | null> {
    const rows: Record<string, unknown>[] = await m.query(`SELECT ${this.recordColumns()} FROM media_assets WHERE asset_id = $1`, [
      assetId,
    ]);
    return rows.length ? Object.assign(new MediaAsset(), rows[0]) : null;
  }

  private readonly columns = new Map<string, string>();

  /** Every column of the MediaAsset entity (of table alias `alias`), named as its property (made once per alias). */
  private recordColumns(alias = ''): string {
    let list = this.columns.get(alias);
    if (!list) {
      const prefix = alias ? `${alias}.` : '';
      list = this.ds
        .getMetadata(MediaAsset)
        .columns.map((c) => `${prefix}${c.databaseName} AS "${c.propertyName}"`)
        .join(', ');
      this.columns.set(alias, list);
    }
    return list;
  }

  /** Storage class of each of these stored objects. */
  async storageClasses(shas: string[]): Promise<Map<string, string>> {
    if (!shas.length) return new Map();
    const rows: { sha: string; cls: string }[] = await this.ds.query(
      `SELECT checksum_sha256 AS sha, storage_class AS cls FROM stored_objects WHERE checksum_sha256 = ANY($1::char(64)[])`,
      [shas],
    );
    return new Map(rows.map((r) => [r.sha, r.cls]));
  }

  /** The asset with the storage class of its stored object (null when it has none), as the API view shows it. */
  async findForView(assetId: string): Promise<MediaAsset | null> {
    const rows: Record<string, unknown>[] = await this.ds.query(
      `SELECT ${this.recordColumns('a')}, s.storage_class AS "storageClass"
         FROM media_assets a LEFT JOIN stored_objects s ON s.checksum_sha256 = a.stored_object_sha256
        WHERE a.asset_id = $1`,
      [assetId],
    );
    return rows.length ? Object.assign(new MediaAsset(), rows[0]) : null;
  }

  /** Locks the asset row for the rest of the transaction. */
  lock(m: EntityManager, assetId: string): Promise<MediaAsset | null> {
    return m.createQueryBuilder(MediaAsset, 'a').setLock('pessimistic_write').where('a.asset_id = :assetId', { assetId }).getOne();
  }

  async update(m: EntityManager, assetId: string, patch: Partial<MediaAsset>): Promise<void> {
    await m.update(MediaAsset, { assetId }, { ...patch, updatedAt: () => 'now()' });
  }

  /**
   * Adds one reference to the stored object with this checksum, creating it (pointing at `location`) when
   * it is new. Atomic under concurrency: the primary key on the checksum serialises identical uploads.
   */
  async reference(
    m: EntityManager,
    sha256: string,
    location: { bucket: string; objectKey: string; sizeBytes: string },
  ): Promise<{ bucket: string; objectKey: string; created: boolean }> {
    const [row] = await m.query<{ bucket: string; object_key: string; created: boolean }[]>(
      `INSERT INTO stored_objects (checksum_sha256, bucket, object_key, size_bytes, ref_count, last_verified_at)
       VALUES ($1, $2, $3, $4, 1, now())
       ON CONFLICT (checksum_sha256) DO UPDATE SET ref_count = stored_objects.ref_count + 1, updated_at = now()
       RETURNING bucket, object_key, (xmax = 0) AS created`,
      [sha256, location.bucket, location.objectKey, location.sizeBytes],
    );
    return { bucket: row.bucket, objectKey: row.object_key, created: row.created };
  }

  /** Drops one reference; returns the object when that was the last one (its row is then gone). */
  async dereference(m: EntityManager, sha256: string): Promise<StoredObject | null> {
    const obj = await m
      .createQueryBuilder(StoredObject, 'o')
      .setLock('pessimistic_write')
      .where('o.checksum_sha256 = :sha256', { sha256 })
      .getOne();
    if (!obj) return null;
    if (obj.refCount > 1) {
      await m.query(`UPDATE stored_objects SET ref_count = ref_count - 1, updated_at = now() WHERE checksum_sha256 = $1`, [sha256]);
      return null;
    }
    await m.query(`DELETE FROM stored_objects WHERE checksum_sha256 = $1`, [sha256]);
    return obj;
  }

  /** Adds one reference to an existing stored object; null when there is none (it was released meanwhile). */
  async referenceExisting(m: EntityManager, sha256: string): Promise<{ bucket: string; objectKey: string } | null> {
    const [rows] = await m.query<[{ bucket: string; object_key: string }[], number]>(
      `UPDATE stored_objects SET ref_count = ref_count + 1, updated_at = now() WHERE checksum_sha256 = $1 RETURNING bucket, object_key`,
      [sha256],
    );
    const row = rows?.[0];
    return row ? { bucket: row.bucket, objectKey: row.object_key } : null;
  }

  /** Pending assets at least `olderThanMs` old whose upload URL expired less than an hour ago (or not yet). */
  findPendingOlderThan(olderThanMs: number, limit: number): Promise<MediaAsset[]> {
    return this.ds.manager
      .createQueryBuilder(MediaAsset, 'a')
      .where(`a.status = 'pending'`)
      .andWhere(`a.created_at <= now() - make_interval(secs => :s)`, { s: olderThanMs / 1000 })
      .andWhere(`a.upload_expires_at >= now() - interval '1 hour'`)
      .orderBy('a.created_at', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** Processing assets not updated for `olderThanMs`. */
  findProcessingOlderThan(olderThanMs: number, limit: number): Promise<MediaAsset[]> {
    return this.ds.manager
      .createQueryBuilder(MediaAsset, 'a')
      .where(`a.status = 'processing'`)
      .andWhere(`a.updated_at <= now() - make_interval(secs => :s)`, { s: olderThanMs / 1000 })
      .orderBy('a.updated_at', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** Does the owner have a ready asset with these bytes? (renditions of them are kept while it does) */
  async ownerHoldsReady(ownerId: string, sha256: string): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(
      `SELECT 1 FROM media_assets WHERE stored_object_sha256 = $2 AND owner_id = $1 AND status = 'ready' LIMIT 1`,
      [ownerId, sha256],
    );
    return rows.length > 0;
  }

  async isStoredObjectKey(bucket: string, objectKey: string): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(`SELECT 1 FROM stored_objects WHERE bucket = $1 AND object_key = $2 LIMIT 1`, [
      bucket,
      objectKey,
    ]);
    return rows.length > 0;
  }

  findStoredObject(sha256: string): Promise<StoredObject | null> {
    return this.ds.manager.findOneBy(StoredObject, { checksumSha256: sha256 });
  }

  /** The object key of the asset when it is ready, else null; read in `m` (the caller's transaction). */
  async readyObjectKey(m: EntityManager, assetId: string): Promise<string | null> {
    const rows: { object_key: string }[] = await m.query(`SELECT object_key FROM media_assets WHERE asset_id = $1 AND status = 'ready'`, [
      assetId,
    ]);
    return rows[0]?.object_key ?? null;
  }

  /** Runs a page query built by buildListQuery: rows shaped as MediaAsset plus `cursorUs`. */
  list(q: ListQuery): Promise<(MediaAsset & { cursorUs: string })[]> {
    return this.ds.query(q.text, q.values);
  }
}
