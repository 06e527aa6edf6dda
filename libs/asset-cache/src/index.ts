export * from './asset-cache.module';
export { AssetCache, CACHE_INVALIDATE_TOPIC } from './asset-cache';
export type { AssetCachePart, PartLoaders } from './asset-cache-part';
export { CacheStats } from './cache-stats';
export { CacheStatsDto } from './cache-stats.dto';
export { InvalidationChannel, InvalidationTarget } from './invalidation-channel';
