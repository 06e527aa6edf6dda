import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/** Namespaces that only processing writes (extracted EXIF, media facts); users cannot set them. */
export const RESERVED_METADATA_PREFIXES = ['exif:', 'media:', 'scan:'] as const;
export const METADATA_KEY_PATTERN = /^[a-z0-9_.:-]{1,64}$/;
export const MAX_METADATA_VALUE_BYTES = 4096;

export function isReservedMetadataKey(key: string): boolean {
  return RESERVED_METADATA_PREFIXES.some((p) => key.startsWith(p));
}

@Injectable()
export class MetadataService {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async getMap(assetId: string, manager: EntityManager = this.ds.manager): Promise<Record<string, string>> {
    const rows: { key: string; value: string }[] = await manager.query(
      `SELECT key, value FROM asset_metadata WHERE asset_id = $1 ORDER BY key`,
      [assetId],
    );
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /**
   * Replaces everything processing extracted for an asset (the reserved namespaces) with `entries`,
   * inside the caller's transaction. Keys are checked against the key pattern and reserved namespaces.
   */
  async replaceExtracted(manager: EntityManager, assetId: string, entries: Record<string, string>): Promise<void> {
    const keys = Object.keys(entries);
    for (const k of keys) {
      if (!METADATA_KEY_PATTERN.test(k) || !isReservedMetadataKey(k)) throw new Error(`extracted metadata key "${k}" is not in a reserved namespace`);
    }
    await manager.query(
      `DELETE FROM asset_metadata WHERE asset_id = $1 AND (${RESERVED_METADATA_PREFIXES.map((_, i) => `key LIKE $${i + 2}`).join(' OR ')})`,
      [assetId, ...RESERVED_METADATA_PREFIXES.map((p) => `${p}%`)],
    );
    if (!keys.length) return;
    const values = keys.map((k) => truncateUtf8(entries[k], MAX_METADATA_VALUE_BYTES));
    await manager.query(
      `INSERT INTO asset_metadata (asset_id, key, value) SELECT $1, k, v FROM unnest($2::varchar[], $3::text[]) AS t(k, v)`,
      [assetId, keys, values],
    );
  }
}

function truncateUtf8(s: string, maxBytes: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= maxBytes) return s;
  return b.subarray(0, maxBytes).toString('utf8').replace(/\uFFFD+$/, '');
}
