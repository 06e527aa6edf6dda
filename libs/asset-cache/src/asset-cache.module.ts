import { Module } from '@nestjs/common';
import { AssetCache } from './asset-cache';
import { CacheStats } from './cache-stats';
import { CacheStatsController } from './cache-stats.controller';
import { CacheMetrics } from './cache.metrics';

/**
 * The asset record cache: one read-through cache of the hot parts of an asset (its record, metadata and ACL),
 * each part loaded and shaped by the lib that owns it (assets, metadata, acl), invalidated as a whole.
 */
@Module({
  controllers: [CacheStatsController],
  providers: [AssetCache, CacheStats, CacheMetrics],
  exports: [AssetCache, CacheStats],
})
export class AssetCacheModule {}
