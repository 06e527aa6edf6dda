import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

export type UploadSessionState = 'active' | 'completing' | 'completed' | 'aborted';

/** One part of the list a client completed with (ascending, ETags quoted). */
export interface CompletionPart {
  partNumber: number;
  etag: string;
}

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
  /** The part list of the last complete request (null before the first). */
  completionParts: CompletionPart[] | null;
  /** Counts the complete requests that started an assembly: with the asset id, the assembly job's key. */
  completionRound: number;
  /** Assembly attempts of the current round that failed (transient store errors, retried). */
  assemblyAttempts: number;
  /** Why the last assembly failed (retried while `completing`; final once the session is back to `active`). */
  assemblyError: string | null;
}

const COLUMNS = `asset_id AS "assetId", upload_id AS "uploadId", object_key AS "objectKey", region, part_size::text AS "partSize",
  part_count AS "partCount", declared_size::text AS "declaredSize", content_type AS "contentType", expires_at AS "expiresAt", state,
  storage_released AS "storageReleased", completion_parts AS "completionParts", completion_round AS "completionRound",
  assembly_attempts AS "assemblyAttempts", assembly_error AS "assemblyError"`;

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

  async insert(
    m: EntityManager,
    s: Omit<UploadSession, 'state' | 'storageReleased' | 'completionParts' | 'completionRound' | 'assemblyAttempts' | 'assemblyError'>,
  ): Promise<void> {
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

  /**
   * active → completing with the client's part list, a new round, no error yet; answers the round, or null when the
   * session was not active (a concurrent complete won).
   */
  async beginCompletion(m: EntityManager, assetId: string, parts: CompletionPart[]): Promise<number | null> {
    // TypeORM answers an UPDATE … RETURNING as [rows, affected].
    const [rows] = await m.query<[{ round: number }[], number]>(
      `UPDATE upload_sessions
          SET state = 'completing', completion_parts = $2::jsonb, completion_round = completion_round + 1,
              assembly_attempts = 0, assembly_error = NULL, updated_at = now()
        WHERE asset_id = $1 AND state = 'active'
    RETURNING completion_round AS round`,
      [assetId, JSON.stringify(parts)],
    );
    return rows[0]?.round ?? null;
  }

  /** An assembly attempt of `round` failed and will be retried: counted, its reason kept (still `completing`). */
  async recordAttemptFailed(assetId: string, round: number, error: string): Promise<void> {
    await this.ds.query(
      `UPDATE upload_sessions SET assembly_attempts = assembly_attempts + 1, assembly_error = $3, updated_at = now()
        WHERE asset_id = $1 AND state = 'completing' AND completion_round = $2`,
      [assetId, round, error.slice(0, 2000)],
    );
  }

  /**
   * completing → active with the reason (a part list storage does not match, or attempts used up): the client may
   * fix the list or the parts and complete again. False when the session had moved on.
   */
  async failCompletion(assetId: string, round: number, error: string): Promise<boolean> {
    const [, affected] = await this.ds.query<[unknown, number]>(
      `UPDATE upload_sessions SET state = 'active', assembly_error = $3, updated_at = now()
        WHERE asset_id = $1 AND state = 'completing' AND completion_round = $2`,
      [assetId, round, error.slice(0, 2000)],
    );
    return affected > 0;
  }

  /** Sessions `completing` untouched for `olderThanMs` (the sweep checks that their assembly job exists). */
  async findCompleting(olderThanMs: number, limit: number): Promise<UploadSession[]> {
    const rows = await this.ds.query<Record<string, unknown>[]>(
      `SELECT ${COLUMNS} FROM upload_sessions
        WHERE state = 'completing' AND updated_at < now() - ($1 || ' milliseconds')::interval
        ORDER BY updated_at LIMIT $2`,
      [String(olderThanMs), limit],
    );
    return rows.map((r) => revive(r)!);
  }

  async markStorageReleased(assetId: string): Promise<void> {
    await this.ds.query(`UPDATE upload_sessions SET storage_released = true, updated_at = now() WHERE asset_id = $1`, [assetId]);
  }
}
