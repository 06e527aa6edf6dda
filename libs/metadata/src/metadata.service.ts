import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Errors } from '@app/core';
import { DataSource, EntityManager } from 'typeorm';
import { AssetCache } from './cache/asset-cache';
import {
  checkMetadataValue,
  checkUserMetadataKey,
  isReservedMetadataKey,
  MAX_METADATA_VALUE_BYTES,
  MAX_USER_METADATA_KEYS,
  METADATA_KEY_PATTERN,
  RESERVED_METADATA_PREFIXES,
} from './metadata-rules';

export { RESERVED_METADATA_PREFIXES, METADATA_KEY_PATTERN, MAX_METADATA_VALUE_BYTES, isReservedMetadataKey } from './metadata-rules';

/** Tags on assets (asset_metadata): user keys under the rules in metadata-rules.ts, extracted keys from processing. */
@Injectable()
export class MetadataService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly cache: AssetCache,
  ) {}

  async getMap(assetId: string, manager: EntityManager = this.ds.manager): Promise<Record<string, string>> {
    const rows: { key: string; value: string }[] = await manager.query(
      `SELECT key, value FROM asset_metadata WHERE asset_id = $1 ORDER BY key`,
      [assetId],
    );
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /** The asset's metadata through the hot cache. */
  async getCached(assetId: string): Promise<Record<string, string>> {
    return (await this.cache.get(assetId, 'metadata', () => this.getMap(assetId))) ?? {};
  }

  /** Metadata of many assets at once (for lists), keyed by asset id. */
  async getMaps(assetIds: string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>(assetIds.map((id) => [id, {}]));
    if (!assetIds.length) return out;
    const rows: { asset_id: string; key: string; value: string }[] = await this.ds.query(
      `SELECT asset_id, key, value FROM asset_metadata WHERE asset_id = ANY($1::uuid[]) ORDER BY asset_id, key`,
      [assetIds],
    );
    for (const r of rows) out.get(r.asset_id)![r.key] = r.value;
    return out;
  }

  /**
   * Sets one user key (validated: pattern, reserved namespaces, value size, at most 64 user keys per asset)
   * and invalidates the cache before returning. Returns the asset's metadata after the change.
   */
  async setUserKey(assetId: string, key: string, value: unknown): Promise<Record<string, string>> {
    checkUserMetadataKey(key);
    const v = checkMetadataValue(value);
    const map = await this.ds.transaction(async (m) => {
      await this.lockAssetMetadata(m, assetId);
      const [{ n, exists }] = await m.query<{ n: number; exists: boolean | null }[]>(
        `SELECT count(*) FILTER (WHERE NOT (${this.reservedSql('key', 2)}))::int AS n, bool_or(key = $${2 + RESERVED_METADATA_PREFIXES.length}) AS exists
           FROM asset_metadata WHERE asset_id = $1`,
        [assetId, ...RESERVED_METADATA_PREFIXES.map((p) => `${p}%`), key],
      );
      if (!exists && n >= MAX_USER_METADATA_KEYS) {
        throw Errors.metadataLimitExceeded(
          `Asset ${assetId} already has ${n} user metadata keys, the most allowed; delete one before adding "${key}"`,
          { limit: MAX_USER_METADATA_KEYS, key },
        );
      }
      await m.query(
        `INSERT INTO asset_metadata (asset_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (asset_id, key) DO UPDATE SET value = EXCLUDED.value`,
        [assetId, key, v],
      );
      return this.getMap(assetId, m);
    });
    await this.cache.invalidate(assetId);
    return map;
  }

  /** Deletes one user key; 404 when the asset has no such key. */
  async removeUserKey(assetId: string, key: string): Promise<void> {
    checkUserMetadataKey(key);
    const [, affected] = await this.ds.query<[unknown, number]>(`DELETE FROM asset_metadata WHERE asset_id = $1 AND key = $2`, [assetId, key]);
    if (!affected) throw Errors.metadataKeyNotFound(assetId, key);
    await this.cache.invalidate(assetId);
  }

  /**
   * Replaces everything processing extracted for an asset (the reserved namespaces) with `entries`,
   * inside the caller's transaction. Keys are checked against the key pattern and reserved namespaces.
   * The caller invalidates the cache after committing.
   */
  async replaceExtracted(manager: EntityManager, assetId: string, entries: Record<string, string>): Promise<void> {
    const keys = Object.keys(entries);
    for (const k of keys) {
      if (!METADATA_KEY_PATTERN.test(k) || !isReservedMetadataKey(k)) throw new Error(`extracted metadata key "${k}" is not in a reserved namespace`);
    }
    await manager.query(`DELETE FROM asset_metadata WHERE asset_id = $1 AND (${this.reservedSql('key', 2)})`, [
      assetId,
      ...RESERVED_METADATA_PREFIXES.map((p) => `${p}%`),
    ]);
    if (!keys.length) return;
    const values = keys.map((k) => truncateUtf8(entries[k], MAX_METADATA_VALUE_BYTES));
    await manager.query(
      `INSERT INTO asset_metadata (asset_id, key, value) SELECT $1, k, v FROM unnest($2::varchar[], $3::text[]) AS t(k, v)`,
      [assetId, keys, values],
    );
  }

  /** Serialises metadata writers of one asset (so the per-asset key limit holds under concurrency). */
  private async lockAssetMetadata(m: EntityManager, assetId: string): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock(hashtextextended('asset_metadata:' || $1::text, 0))`, [assetId]);
  }

  /** `key LIKE $n OR key LIKE $n+1 ...` over the reserved prefixes, parameters starting at `first`. */
  private reservedSql(column: string, first: number): string {
    return RESERVED_METADATA_PREFIXES.map((_, i) => `${column} LIKE $${first + i}`).join(' OR ');
  }
}

function truncateUtf8(s: string, maxBytes: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= maxBytes) return s;
  return b.subarray(0, maxBytes).toString('utf8').replace(/\uFFFD+$/, '');
}
