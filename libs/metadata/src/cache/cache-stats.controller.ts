import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AdminOnly, APP_CONFIG, AppConfig } from '@app/core';
import { CacheStats } from './cache-stats';
import { CacheStatsDto } from './cache-stats.dto';

/** Operators: the hot-metadata cache's counters for this process (admin role). */
@ApiTags('admin')
@Controller('admin/cache')
@AdminOnly()
export class CacheStatsController {
  constructor(
    private readonly stats: CacheStats,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('stats')
  get(): CacheStatsDto {
    return { ...this.stats.snapshot(), ttlSeconds: this.config.CACHE_TTL_SECONDS };
  }
}
