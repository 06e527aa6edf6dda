import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '@app/core';
import { CacheStats } from './cache-stats';
import { CacheStatsDto } from './cache-stats.dto';

/** Operators: the hot-metadata cache's counters for this process (admin role). */
@ApiTags('cache')
@Controller('admin/cache')
@AdminOnly()
export class CacheStatsController {
  constructor(private readonly stats: CacheStats) {}

  @Get('stats')
  @ApiOperation({
    summary: 'Get cache counters',
    description: "Operators: the hot-metadata cache's hits, misses and invalidations in this process.",
  })
  get(): CacheStatsDto {
    return this.stats.snapshot();
  }
}
