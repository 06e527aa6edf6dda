import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AssetMetadata } from './asset-metadata.entity';
import { AssetCache } from './cache/asset-cache';
import { CacheStats } from './cache/cache-stats';
import { CacheMetrics } from './cache/cache.metrics';
import { CacheStatsController } from './cache/cache-stats.controller';
import { MetadataController } from './metadata.controller';
import { MetadataService } from './metadata.service';

@Module({
  imports: [TypeOrmModule.forFeature([AssetMetadata])],
  controllers: [MetadataController, CacheStatsController],
  providers: [MetadataService, AssetCache, CacheStats, CacheMetrics],
  exports: [MetadataService, AssetCache, CacheStats],
})
export class MetadataModule {}
