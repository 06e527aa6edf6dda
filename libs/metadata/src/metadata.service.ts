import { Injectable } from '@nestjs/common';
import { Errors } from '@app/core';
import { AssetCache } from '@app/asset-cache';
import { EntityManager } from 'typeorm';
import {
  checkMetadataValue,
  checkUserMetadataKey,
  isReservedMetadataKey,
  MAX_METADATA_VALUE_BYTES,
  MAX_USER_METADATA_KEYS,
  METADATA_KEY_PATTERN,
} from './metadata-rules';
import { MetadataRepository } from './metadata.repository';

export { RESERVED_METADATA_PREFIXES, METADATA_KEY_PATTERN, MAX_METADATA_VALUE_BYTES, isReservedMetadataKey } from './metadata-rules';

/** Tags on assets (asset_metadata): user keys under the rules in metadata-rules.ts, extracted keys from processing. */
@Injectable()
export class MetadataService {
  constructor(
    private readonly repo: MetadataRepository,
    private readonly cache: AssetCache,
  ) {}

  getMap(assetId: string, manager?: EntityManager): Promise<Record<string, string>> {
    return this.repo.getMap(assetId, manager);
  }

  /** The asset's metadata through the hot cache. */
  async getCached(assetId: string): Promise<Record<string, string>> {
    return (await this.cache.get(assetId, 'metadata', () => this.getMap(assetId))) ?? {};
  }

  /** Metadata of many assets at once (for lists), keyed by asset id. */
  getMaps(assetIds: string[]): Promise<Map<string, Record<string, string>>> {
    return this.repo.getMaps(assetIds);
  }

  /**
   * Sets one user key (validated: pattern, reserved namespaces, value size, at most 64 user keys per asset)
   * and invalidates the cache before returning. Returns the asset's metadata after the change.
   */
  async setUserKey(assetId: string, key: string, value: unknown): Promise<Record<string, string>> {
    checkUserMetadataKey(key);
    const v = checkMetadataValue(value);
    const map = await this.repo.transaction(async (m) => {
      await this.repo.lock(m, assetId);
      const { n, exists } = await this.repo.userKeyCount(m, assetId, key);
      if (!exists && n >= MAX_USER_METADATA_KEYS) {
        throw Errors.metadataLimitExceeded(
          `Asset ${assetId} already has ${n} user metadata keys, the most allowed; delete one before adding "${key}"`,
          { limit: MAX_USER_METADATA_KEYS, key },
        );
      }
      await this.repo.upsert(m, assetId, key, v);
      return this.repo.getMap(assetId, m);
    });
    await this.cache.invalidate(assetId);
    return map;
  }

  /** Deletes one user key; 404 when the asset has no such key. */
  async removeUserKey(assetId: string, key: string): Promise<void> {
    checkUserMetadataKey(key);
    if (!(await this.repo.delete(assetId, key))) throw Errors.metadataKeyNotFound(assetId, key);
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
      if (!METADATA_KEY_PATTERN.test(k) || !isReservedMetadataKey(k))
        throw new Error(`extracted metadata key "${k}" is not in a reserved namespace`);
    }
    await this.repo.replaceReserved(
      manager,
      assetId,
      Object.fromEntries(keys.map((k) => [k, truncateUtf8(entries[k], MAX_METADATA_VALUE_BYTES)])),
    );
  }
}

function truncateUtf8(s: string, maxBytes: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= maxBytes) return s;
  return b
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
}
