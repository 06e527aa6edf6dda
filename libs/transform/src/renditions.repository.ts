import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { pgPool } from '@app/core';

export interface RenditionRow {
  cacheKey: string;
  ownerId: string;
  sourceSha256: string;
  params: string;
  bucket: string;
  objectKey: string;
  mimeType: string;
  width: number;
  height: number;
  sizeBytes: number;
  contentSha256: string;
  lastReadAt: Date;
}

const COLUMNS = `cache_key AS "cacheKey", owner_id::text AS "ownerId", source_sha256 AS "sourceSha256", params, bucket,
  object_key AS "objectKey", mime_type AS "mimeType", width, height, size_bytes::float8 AS "sizeBytes",
  content_sha256 AS "contentSha256", last_read_at AS "lastReadAt"`;

/** All SQL on renditions. */
@Injectable()
export class RenditionsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** The hot path's statements (find, insert) are prepared: parsed and planned once per pooled connection. */
  async find(cacheKey: string): Promise<RenditionRow | null> {
    const { rows } = await pgPool(this.ds).query<RenditionRow>({
      name: 'renditions_find',
      text: `SELECT ${COLUMNS} FROM renditions WHERE cache_key = $1`,
      values: [cacheKey],
    });
    return rows[0] ?? null;
  }

  /** Inserts (or keeps the row another process inserted first: the same key always names the same rendition). */
  async insert(r: RenditionRow): Promise<void> {
    await pgPool(this.ds).query({
      name: 'renditions_insert',
      text: `INSERT INTO renditions (cache_key, owner_id, source_sha256, params, bucket, object_key, mime_type, width, height, size_bytes,
         content_sha256, created_at, last_read_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
       ON CONFLICT (cache_key) DO NOTHING`,
      values: [
        r.cacheKey,
        r.ownerId,
        r.sourceSha256,
        r.params,
        r.bucket,
        r.objectKey,
        r.mimeType,
        r.width,
        r.height,
        r.sizeBytes,
        r.contentSha256,
        r.lastReadAt,
      ],
    });
  }

  /** Which of `keys` (objects in `bucket`) a rendition row names: the others under renditions/ are orphans. */
  async keysInUse(bucket: string, keys: string[]): Promise<Set<string>> {
    if (!keys.length) return new Set();
    const rows = await this.ds.query<{ k: string }[]>(`SELECT object_key AS k FROM renditions WHERE bucket = $1 AND object_key = ANY($2)`, [
      bucket,
      keys,
    ]);
    return new Set(rows.map((r) => r.k));
  }

  /** Records a read (callers do it at most once a day per rendition). */
  async touch(cacheKey: string, at: Date): Promise<void> {
    await this.ds.query(`UPDATE renditions SET last_read_at = $2 WHERE cache_key = $1 AND last_read_at < $2`, [cacheKey, at]);
  }

  /** Deletes every rendition one owner has of one source, in `m`; returns them (their objects are still to remove). */
  async removeOfSource(m: EntityManager, ownerId: string, sourceSha256: string): Promise<RenditionRow[]> {
    const [rows] = await m.query<[RenditionRow[], number]>(
      `DELETE FROM renditions WHERE owner_id = $1 AND source_sha256 = $2 RETURNING ${COLUMNS}`,
      [ownerId, sourceSha256],
    );
    return rows;
  }

  /** Deletes up to `limit` renditions last read before `cutoff` (oldest first), in `m`; returns them. */
  async removeUnread(m: EntityManager, cutoff: Date, limit: number): Promise<RenditionRow[]> {
    const [rows] = await m.query<[RenditionRow[], number]>(
      `DELETE FROM renditions WHERE cache_key IN (
         SELECT cache_key FROM renditions WHERE last_read_at < $1 ORDER BY last_read_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [cutoff, limit],
    );
    return rows;
  }

  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }
}
