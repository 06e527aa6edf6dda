import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { QuotaOverride } from './quota-rules';
import type { QuotaUsageDto } from './quota-view.dto';

export interface NewAsset {
  assetId: string;
  ownerId: string;
  bucket: string;
  objectKey: string;
  mimeType: string;
  sizeBytes: number;
  filename: string;
  declaredChecksumSha256: string | null;
  uploadExpiresAt: Date;
}

/** A pending asset as POST /media/upload-url creates it, with its (already checked) user metadata and grants. */
export interface NewPendingAsset extends NewAsset {
  metadata: Record<string, string>;
  acl: { principal: string; permission: string }[];
}

/** What create_pending_asset decided, and on which figures (the owner's usage; the owner's override or null). */
export interface PendingInsertOutcome {
  created: boolean;
  usage: QuotaUsageDto;
  override: QuotaOverride | null;
}

/**
 * All SQL of quotas: owner_quotas (per-owner overrides of the default limits), owner_usage (kept by triggers on
 * media_assets: once per INSERT statement, once per updated or deleted row) with the unexpired pending uploads, and
 * create_pending_asset (the quota check and the pending asset in one round trip).
 */
/** A row of create_pending_asset's answer (bigint figures as text). */
interface PendingInsertRow {
  created: boolean;
  committed_bytes: string;
  committed_assets: string;
  pending_bytes: string;
  pending_assets: string;
  override_max_bytes: string | null;
  override_max_assets: string | null;
  has_override: boolean;
}

interface BatchRow extends PendingInsertRow {
  req_ord: number;
}

/** The decision and the figures it was made on, from a row of create_pending_asset(s). */
function outcomeOf(row: PendingInsertRow): PendingInsertOutcome {
  const committedBytes = Number(row.committed_bytes);
  const committedAssets = Number(row.committed_assets);
  const pendingBytes = Number(row.pending_bytes);
  const pendingAssets = Number(row.pending_assets);
  const num = (v: string | null) => (v === null ? null : Number(v));
  return {
    created: row.created,
    usage: { bytes: committedBytes + pendingBytes, assets: committedAssets + pendingAssets, pendingBytes, pendingAssets },
    override: row.has_override ? { maxBytes: num(row.override_max_bytes), maxAssets: num(row.override_max_assets) } : null,
  };
}

interface UsageRow {
  bytes: string;
  assets: string;
}

@Injectable()
export class QuotaRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async findOverride(ownerId: string, m: EntityManager = this.ds.manager): Promise<QuotaOverride | null> {
    const [row] = await m.query<{ maxBytes: string | null; maxAssets: string | null }[]>(
      `SELECT max_bytes::text AS "maxBytes", max_assets::text AS "maxAssets" FROM owner_quotas WHERE owner_id = $1`,
      [ownerId],
    );
    if (!row) return null;
    return {
      maxBytes: row.maxBytes === null ? null : Number(row.maxBytes),
      maxAssets: row.maxAssets === null ? null : Number(row.maxAssets),
    };
  }

  async upsertOverride(ownerId: string, o: QuotaOverride): Promise<void> {
    await this.ds.query(
      `INSERT INTO owner_quotas (owner_id, max_bytes, max_assets) VALUES ($1, $2, $3)
       ON CONFLICT (owner_id) DO UPDATE SET max_bytes = EXCLUDED.max_bytes, max_assets = EXCLUDED.max_assets, updated_at = now()`,
      [ownerId, o.maxBytes, o.maxAssets],
    );
  }

  async deleteOverride(ownerId: string): Promise<boolean> {
    const [, affected] = await this.ds.query<[unknown, number]>(`DELETE FROM owner_quotas WHERE owner_id = $1`, [ownerId]);
    return affected > 0;
  }

  /**
   * Quota check and pending asset (with its user metadata and ACL rows) in one round trip and one transaction:
   * the create_pending_asset function (migration 1764000008000) locks the owner's usage, reads usage and override,
   * and inserts only when one more asset fits. Answers what it decided on, so the caller can explain a refusal.
   */
  async insertPendingWithQuota(
    a: NewPendingAsset,
    defaults: { maxBytes: number; maxAssets: number },
    m: EntityManager = this.ds.manager,
  ): Promise<PendingInsertOutcome> {
    const metadataKeys = Object.keys(a.metadata);
    const [row] = await m.query<PendingInsertRow[]>(
      `SELECT created, committed_bytes::text, committed_assets::text, pending_bytes::text, pending_assets::text,
              override_max_bytes::text, override_max_assets::text, has_override
         FROM create_pending_asset($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [
        a.ownerId,
        a.sizeBytes,
        defaults.maxBytes,
        defaults.maxAssets,
        a.assetId,
        a.bucket,
        a.objectKey,
        a.mimeType,
        a.filename,
        a.declaredChecksumSha256,
        a.uploadExpiresAt,
        metadataKeys,
        metadataKeys.map((k) => a.metadata[k]),
        a.acl.map((e) => e.principal),
        a.acl.map((e) => e.permission),
      ],
    );
    return outcomeOf(row);
  }

  /**
   * Many pending assets (any owners), decided in their order and written in one statement, one transaction and one
   * commit: create_pending_assets (migration 1764000015000), group commit for POST /media/upload-url. Answers one
   * outcome per asset, in order, with the figures each decision was made on (earlier accepted assets of the same
   * owner included).
   *
   * The commit is ASYNCHRONOUS (`synchronous_commit` off for this transaction only): it returns once the rows are
   * committed and visible, without waiting for the WAL flush, so the owners' usage rows this batch locked are free for
   * the next batch while this one's WAL is flushed (a synchronous commit held them across the flush, and batches of
   * one owner took turns at the disk). The caller must not answer anyone before `flushWal()` (called after this
   * returned) has resolved: only then is every `created` row durable. WAL is replayed in order, so a later batch that
   * counted this one's rows against a quota is never durable without them.
   */
  async insertPendingBatch(assets: NewPendingAsset[], defaults: { maxBytes: number; maxAssets: number }): Promise<PendingInsertOutcome[]> {
    const requests = assets.map((a) => ({
      a: a.assetId,
      o: a.ownerId,
      s: a.sizeBytes,
      b: a.bucket,
      k: a.objectKey,
      m: a.mimeType,
      f: a.filename,
      c: a.declaredChecksumSha256,
      x: a.uploadExpiresAt.toISOString(),
      ...(Object.keys(a.metadata).length ? { md: a.metadata } : {}),
      ...(a.acl.length ? { g: a.acl.map((e) => [e.principal, e.permission]) } : {}),
    }));
    const rows = await this.ds.query<BatchRow[]>(
      `SELECT set_config('synchronous_commit', 'off', true) AS async_commit, req_ord, req_created AS created, req_committed_bytes::text AS committed_bytes, req_committed_assets::text AS committed_assets,
              req_pending_bytes::text AS pending_bytes, req_pending_assets::text AS pending_assets,
              req_override_max_bytes::text AS override_max_bytes, req_override_max_assets::text AS override_max_assets,
              req_has_override AS has_override
         FROM create_pending_assets($1::jsonb, $2, $3)`,
      [JSON.stringify(requests), defaults.maxBytes, defaults.maxAssets],
    );
    const out = new Array<PendingInsertOutcome>(assets.length);
    for (const row of rows) out[row.req_ord - 1] = outcomeOf(row);
    return out;
  }

  /**
   * Makes every transaction committed before this call durable: a transaction that writes a little WAL (a
   * transactional logical-decoding message, which needs no table and leaves no row behind) and commits
   * synchronously, which flushes the WAL up to its own commit record. See insertPendingBatch.
   */
  async flushWal(): Promise<void> {
    await this.ds.query(`SELECT pg_logical_emit_message(true, 'media-storage.flush', '')`);
  }

  /**
   * What counts against the owner's quota now: assets that are processing or ready (owner_usage, kept by the trigger
   * on media_assets) plus pending uploads that have not expired (read live, as create_pending_asset does).
   */
  async usage(ownerId: string): Promise<QuotaUsageDto> {
    const [committed] = await this.ds.query<UsageRow[]>(
      `SELECT bytes::text AS bytes, assets::text AS assets FROM owner_usage WHERE owner_id = $1`,
      [ownerId],
    );
    const [pending] = await this.ds.query<UsageRow[]>(
      `SELECT coalesce(sum(size_bytes), 0)::text AS bytes, count(*)::text AS assets
         FROM media_assets WHERE owner_id = $1 AND status = 'pending' AND upload_expires_at > now()`,
      [ownerId],
    );
    const committedBytes = Number(committed?.bytes ?? 0);
    const committedAssets = Number(committed?.assets ?? 0);
    return {
      bytes: committedBytes + Number(pending.bytes),
      assets: committedAssets + Number(pending.assets),
      pendingBytes: Number(pending.bytes),
      pendingAssets: Number(pending.assets),
    };
  }
}
