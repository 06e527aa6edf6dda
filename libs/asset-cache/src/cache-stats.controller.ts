import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '@app/core';
import { CacheStats } from './cache-stats';
import { CacheStatsDto } from './cache-stats.dto';

/** Operators: the hot-metadata cache's counters for this process (admin role). */
@ApiTags('admin')
@Controller('admin/cache')
@AdminOnly()
export class CacheStatsController {
  constructor(private readonly stats: CacheStats) {}

  @Get('stats')
  get(): CacheStatsDto {
    return this.stats.snapshot();
  }
}
