import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

export type UploadSessionState = 'active' | 'completing' | 'completed' | 'aborted';

export interface UploadSession {
  assetId: string;
  uploadId: string;
  objectKey: string;
  region: string | null;
  partSize: number;
  partCount: number;
  declaredSize: number;
  contentType: string;
  expiresAt: Date;
  state: UploadSessionState;
  storageReleased: boolean;
}

const COLUMNS = `asset_id AS "assetId", upload_id AS "uploadId", object_key AS "objectKey", region, part_size::text AS "partSize",
  part_count AS "partCount", declared_size::text AS "declaredSize", content_type AS "contentType", expires_at AS "expiresAt", state,
  storage_released AS "storageReleased"`;

function revive(row: Record<string, unknown> | undefined): UploadSession | null {
  if (!row) return null;
  return {
    ...(row as unknown as UploadSession),
    partSize: Number(row.partSize),
    declaredSize: Number(row.declaredSize),
    expiresAt: new Date(row.expiresAt as string),
  };
}

/** All SQL on upload_sessions (one multipart upload per asset). */
@Injectable()
export class UploadSessionRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async insert(m: EntityManager, s: Omit<UploadSession, 'state' | 'storageReleased'>): Promise<void> {
    await m.query(
      `INSERT INTO upload_sessions (asset_id, upload_id, object_key, region, part_size, part_count, declared_size, content_type, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [s.assetId, s.uploadId, s.objectKey, s.region, s.partSize, s.partCount, s.declaredSize, s.contentType, s.expiresAt],
    );
  }

  async find(assetId: string, m: EntityManager = this.ds.manager): Promise<UploadSession | null> {
    const rows = await m.query<Record<string, unknown>[]>(`SELECT ${COLUMNS} FROM upload_sessions WHERE asset_id = $1`, [assetId]);
    return revive(rows[0]);
  }

  /** Moves the session from one of `from` to `to`; false when it was in another state (a concurrent request won). */
  async transition(
    assetId: string,
    from: UploadSessionState[],
    to: UploadSessionState,
    m: EntityManager = this.ds.manager,
  ): Promise<boolean> {
    const [, affected] = await m.query<[unknown, number]>(
      `UPDATE upload_sessions SET state = $3, updated_at = now() WHERE asset_id = $1 AND state = ANY($2)`,
      [assetId, from, to],
    );
    return affected > 0;
  }

  async markStorageReleased(assetId: string): Promise<void> {
    await this.ds.query(`UPDATE upload_sessions SET storage_released = true, updated_at = now() WHERE asset_id = $1`, [assetId]);
  }
}
