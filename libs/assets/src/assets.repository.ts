import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { pgPool } from '@app/core';
import type { ListQuery } from './asset-list.query';
import { MediaAsset } from './media-asset.entity';
import { StoredObject } from './stored-object.entity';

/** One grant, as the acl lib's AclEntry. */
export interface AssetGrant {
  principal: string;
  permission: string;
}

/** Everything the hot cache keeps about an asset (AssetCachePart), read together. */
export interface AssetParts {
  record: MediaAsset;
  metadata: Record<string, string>;
  acl: AssetGrant[];
}

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

  /** The asset as the API view shows it (its own storage class is a column of the record). */
  findForView(assetId: string): Promise<MediaAsset | null> {
    return this.find(assetId);
  }

  /**
   * The record (as findForView) with the asset's user-visible metadata map and its grants, in ONE query and as a
   * prepared statement (parsed and planned once per connection): the cold read of GET /media/{id}, where the access
   * check needs record + grants and the view record + metadata. Shapes: metadata as MetadataRepository.getMap (keys
   * in order), grants as AclRepository.list (by principal, then permission in enum order).
   */
  async findWithParts(assetId: string): Promise<AssetParts | null> {
    const { rows } = await pgPool(this.ds).query<MediaAsset & { partMetadata: Record<string, string>; partAcl: AssetGrant[] }>({
      name: 'media_asset_with_parts',
      text: `SELECT ${this.recordColumns('a')},
                    coalesce((SELECT json_object_agg(m.key, m.value ORDER BY m.key) FROM asset_metadata m WHERE m.asset_id = a.asset_id),
                             '{}'::json) AS "partMetadata",
                    coalesce((SELECT json_agg(json_build_object('principal', g.principal, 'permission', g.permission::text)
                                              ORDER BY g.principal, g.permission)
                                FROM asset_acl g WHERE g.asset_id = a.asset_id), '[]'::json) AS "partAcl"
               FROM media_assets a
              WHERE a.asset_id = $1`,
      values: [assetId],
    });
    if (!rows.length) return null;
    const { partMetadata, partAcl, ...record } = rows[0];
    return { record: Object.assign(new MediaAsset(), record), metadata: partMetadata, acl: partAcl };
  }

  /**
   * Whether a live asset other than `exceptAssetId` reads the object at `objectKey` (of the stored object `sha256`):
   * copies share their source's key. Uses the stored-object index; the caller holds the deleted asset's row lock.
   */
  async objectKeyInUse(m: EntityManager, sha256: string, objectKey: string, exceptAssetId: string): Promise<boolean> {
    const rows = await m.query<unknown[]>(
      `SELECT 1 FROM media_assets
        WHERE stored_object_sha256 = $1 AND object_key = $2 AND asset_id <> $3 AND status <> 'deleted' LIMIT 1`,
      [sha256, objectKey, exceptAssetId],
    );
    return rows.length > 0;
  }

  /** Locks the asset row for the rest of the transaction (plain SQL, as `find`: no query building per call). */
  async lock(m: EntityManager, assetId: string): Promise<MediaAsset | null> {
    const rows: Record<string, unknown>[] = await m.query(
      `SELECT ${this.recordColumns()} FROM media_assets WHERE asset_id = $1 FOR UPDATE`,
      [assetId],
    );
    return rows.length ? Object.assign(new MediaAsset(), rows[0]) : null;
  }

  private readonly updates = new Map<string, string>();

  /**
   * Sets the patch's columns (and updated_at = now()) of one asset, in plain SQL: the statement is made once per set
   * of columns (a transition always patches the same ones), not built by the ORM on every call.
   */
  async update(m: EntityManager, assetId: string, patch: Partial<MediaAsset>): Promise<void> {
    const { text, values } = this.updateStatement(assetId, patch);
    await m.query(text, values);
  }

  /**
   * `update`, only while the asset is in status `from` (the row is locked by the UPDATE itself), in one statement
   * together with `also`: a data-modifying CTE, given the name of the UPDATE's CTE (`changed`) and the number of its
   * first parameter, that writes, or not, with the change. The record as it is afterwards, or null when the asset is
   * missing or in another status (nothing changed then).
   */
  async updateIfStatusWith(
    m: EntityManager,
    assetId: string,
    from: string,
    patch: Partial<MediaAsset>,
    also: (changed: string, firstParam: number) => { sql: string; values: unknown[] },
  ): Promise<MediaAsset | null> {
    const { text, values } = this.updateStatement(assetId, patch, true);
    const more = also('changed', values.length + 2);
    const rows = await m.query<Record<string, unknown>[]>(`WITH changed AS (${text}), also AS (${more.sql}) SELECT * FROM changed`, [
      ...values,
      from,
      ...more.values,
    ]);
    return rows.length ? Object.assign(new MediaAsset(), rows[0]) : null;
  }

  private updateStatement(assetId: string, patch: Partial<MediaAsset>, ifStatus = false): { text: string; values: unknown[] } {
    const keys = Object.keys(patch).filter(
      (k) => k !== 'updatedAt' && (patch as Record<string, unknown>)[k] !== undefined,
    ) as (keyof MediaAsset)[];
    const signature = `${ifStatus ? 'if:' : ''}${keys.join(',')}`;
    let text = this.updates.get(signature);
    if (!text) {
      const columns = new Map(this.ds.getMetadata(MediaAsset).columns.map((c) => [c.propertyName, c.databaseName]));
      const sets = keys.map((k, i) => {
        const column = columns.get(k);
        if (!column) throw new Error(`MediaAsset has no column for ${k}`);
        return `${column} = $${i + 2}`;
      });
      text = `UPDATE media_assets SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE asset_id = $1`;
      if (ifStatus) text += ` AND status = $${keys.length + 2}::media_asset_status RETURNING ${this.recordColumns()}`;
      this.updates.set(signature, text);
    }
    return { text, values: [assetId, ...keys.map((k) => patch[k])] };
  }

  /**
   * Adds one reference to the stored object with this checksum, creating it (pointing at `location`) when
   * it is new, and sets `patch` on the asset (as `update`), in one statement. Atomic under concurrency: the primary
   * key on the checksum serialises identical uploads.
   */
  async referenceAndUpdate(
    m: EntityManager,
    sha256: string,
    location: { bucket: string; objectKey: string; sizeBytes: string },
    assetId: string,
    patch: Partial<MediaAsset>,
  ): Promise<{ bucket: string; objectKey: string; created: boolean }> {
    const { text, values } = this.updateStatement(assetId, patch);
    const n = values.length;
    const [row] = await m.query<{ bucket: string; object_key: string; created: boolean }[]>(
      `WITH updated AS (${text}),
            referenced AS (
              INSERT INTO stored_objects (checksum_sha256, bucket, object_key, size_bytes, ref_count, last_verified_at)
              VALUES ($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, 1, now())
              ON CONFLICT (checksum_sha256) DO UPDATE SET ref_count = stored_objects.ref_count + 1, updated_at = now()
              RETURNING bucket, object_key, (xmax = 0) AS created)
       SELECT * FROM referenced`,
      [...values, sha256, location.bucket, location.objectKey, location.sizeBytes],
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

  /** The asset row locked FOR SHARE (a delete, which locks it FOR UPDATE, waits for the caller's transaction). */
  async lockShared(m: EntityManager, assetId: string): Promise<MediaAsset | null> {
    const rows: Record<string, unknown>[] = await m.query(
      `SELECT ${this.recordColumns()} FROM media_assets WHERE asset_id = $1 FOR SHARE`,
      [assetId],
    );
    return rows.length ? Object.assign(new MediaAsset(), rows[0]) : null;
  }

  /** The stored object locked FOR UPDATE (a release of its last reference waits for the caller's transaction). */
  async lockStoredObject(m: EntityManager, sha256: string): Promise<StoredObject | null> {
    if (!this.storedObjectColumns)
      this.storedObjectColumns = this.ds
        .getMetadata(StoredObject)
        .columns.map((c) => `${c.databaseName} AS "${c.propertyName}"`)
        .join(', ');
    const rows: Record<string, unknown>[] = await m.query(
      `SELECT ${this.storedObjectColumns} FROM stored_objects WHERE checksum_sha256 = $1 FOR UPDATE`,
      [sha256],
    );
    return rows.length ? Object.assign(new StoredObject(), rows[0]) : null;
  }

  private storedObjectColumns?: string;

  /** Keys of (at most `limit`) ready assets holding these bytes under a key of their own. */
  async readyKeysWithContent(m: EntityManager, sha256: string, limit: number): Promise<{ assetId: string; objectKey: string }[]> {
    return m.query(
      `SELECT asset_id AS "assetId", object_key AS "objectKey" FROM media_assets
        WHERE stored_object_sha256 = $1 AND status = 'ready' ORDER BY ready_at LIMIT $2`,
      [sha256, limit],
    );
  }

  /** The stored object was found missing and restored: integrity `ok` again, with a note saying so. */
  async markHealed(m: EntityManager, sha256: string, note: string): Promise<void> {
    await m.query(
      `UPDATE stored_objects SET integrity = 'ok', integrity_note = $2, integrity_changed_at = now(), healed_at = now(),
              last_verified_at = now(), updated_at = now()
        WHERE checksum_sha256 = $1`,
      [sha256, note],
    );
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
    const { rows } = await pgPool(this.ds).query({
      name: 'media_owner_holds_ready',
      text: `SELECT 1 FROM media_assets WHERE stored_object_sha256 = $2 AND owner_id = $1 AND status = 'ready' LIMIT 1`,
      values: [ownerId, sha256],
    });
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
  list(q: ListQuery): Promise<(MediaAsset & { cursorUs: string; distance?: number })[]> {
    return this.ds.query(q.text, q.values);
  }
}
