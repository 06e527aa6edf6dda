import { Controller, Get, Inject } from '@nestjs/common';
import { AdminOnly, APP_CONFIG, AppConfig } from '@app/core';
import { CacheStats, CacheStatsSnapshot } from './cache-stats';

/** Operators: the hot-metadata cache's counters for this process (admin role). */
@Controller('admin/cache')
@AdminOnly()
export class CacheStatsController {
  constructor(
    private readonly stats: CacheStats,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('stats')
  get(): CacheStatsSnapshot & { ttlSeconds: number } {
    return { ...this.stats.snapshot(), ttlSeconds: this.config.CACHE_TTL_SECONDS };
  }
}
