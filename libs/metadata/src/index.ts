export * from './metadata.module';
export { MetadataService } from './metadata.service';
export {
  isReservedMetadataKey,
  reservedNamespaceOf,
  checkUserMetadataMap,
  RESERVED_METADATA_PREFIXES,
  METADATA_KEY_PATTERN,
  MAX_METADATA_VALUE_BYTES,
  MAX_USER_METADATA_KEYS,
} from './metadata-rules';
export { AssetCache, CACHE_INVALIDATE_TOPIC } from './cache/asset-cache';
export type { AssetCachePart, PartLoaders } from './cache/asset-cache';
export { CacheStats } from './cache/cache-stats';
export type { CacheStatsSnapshot } from './cache/cache-stats';
