import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

export interface DerivativeRow {
  assetId: string;
  kind: string;
  bucket: string;
  objectKey: string;
  mimeType: string;
  width: number;
  height: number;
  sizeBytes: number;
}

const COLUMNS = `asset_id AS "assetId", kind, bucket, object_key AS "objectKey", mime_type AS "mimeType", width, height, size_bytes::float8 AS "sizeBytes"`;

/** All SQL on asset_derivatives. */
@Injectable()
export class DerivedMediaRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async upsert(m: EntityManager, rows: DerivativeRow[]): Promise<void> {
    for (const r of rows) {
      await m.query(
        `INSERT INTO asset_derivatives (asset_id, kind, bucket, object_key, mime_type, width, height, size_bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (asset_id, kind) DO UPDATE SET bucket = EXCLUDED.bucket, object_key = EXCLUDED.object_key,
           mime_type = EXCLUDED.mime_type, width = EXCLUDED.width, height = EXCLUDED.height, size_bytes = EXCLUDED.size_bytes`,
        [r.assetId, r.kind, r.bucket, r.objectKey, r.mimeType, r.width, r.height, r.sizeBytes],
      );
    }
  }

  /**
   * Links a derivative rendered on demand, only while its asset is ready: the asset's row is share-locked, so a delete
   * waits for this insert (and then finds the row to remove) or has happened already (nothing inserted: false).
   */
  async insertIfReady(r: DerivativeRow): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(
      `INSERT INTO asset_derivatives (asset_id, kind, bucket, object_key, mime_type, width, height, size_bytes)
       SELECT asset_id, $2, $3, $4, $5, $6, $7, $8 FROM media_assets WHERE asset_id = $1 AND status = 'ready' FOR SHARE
       ON CONFLICT (asset_id, kind) DO UPDATE SET bucket = EXCLUDED.bucket, object_key = EXCLUDED.object_key,
         mime_type = EXCLUDED.mime_type, width = EXCLUDED.width, height = EXCLUDED.height, size_bytes = EXCLUDED.size_bytes
       RETURNING asset_id`,
      [r.assetId, r.kind, r.bucket, r.objectKey, r.mimeType, r.width, r.height, r.sizeBytes],
    );
    return rows.length > 0;
  }

  async find(assetId: string, kind: string): Promise<DerivativeRow | null> {
    const [row] = await this.ds.query<DerivativeRow[]>(`SELECT ${COLUMNS} FROM asset_derivatives WHERE asset_id = $1 AND kind = $2`, [
      assetId,
      kind,
    ]);
    return row ?? null;
  }

  list(assetId: string): Promise<DerivativeRow[]> {
    return this.ds.query(`SELECT ${COLUMNS} FROM asset_derivatives WHERE asset_id = $1 ORDER BY kind`, [assetId]);
  }

  async removeAll(assetId: string): Promise<void> {
    await this.ds.query(`DELETE FROM asset_derivatives WHERE asset_id = $1`, [assetId]);
  }
}
