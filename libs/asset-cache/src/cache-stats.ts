import { Inject, Injectable } from '@nestjs/common';
import { CACHE_CONFIG, CacheConfig } from '@app/core';
import { CacheStatsDto } from './cache-stats.dto';

/** In-process hit/miss counters of the asset record cache (for GET /admin/cache/stats and the metrics endpoint). */
@Injectable()
export class CacheStats {
  private readonly c = { hits: 0, localHits: 0, misses: 0, bypassed: 0, errors: 0, fills: 0, invalidations: 0, deferredInvalidations: 0 };

  constructor(@Inject(CACHE_CONFIG) private readonly config: CacheConfig) {}

  count(what: keyof CacheStats['c'], n = 1): void {
    this.c[what] += n;
  }

  snapshot(): CacheStatsDto {
    const looked = this.c.hits + this.c.misses;
    return { ...this.c, hitRatio: looked ? this.c.hits / looked : 0, ttlSeconds: this.config.CACHE_TTL_SECONDS };
  }
}
