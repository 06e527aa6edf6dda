import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '@app/core';
import { CacheStats } from './cache-stats';

/** The hot-metadata cache's in-process counters (CacheStats) as Prometheus series, read at scrape time. */
@Injectable()
export class CacheMetrics implements OnModuleInit {
  constructor(
    private readonly stats: CacheStats,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const stats = this.stats;
    this.metrics.gauge({
      name: 'media_cache_hit_ratio',
      help: 'Hot-metadata cache hits / (hits + misses) in this process since start (0 before any lookup)',
      collect() {
        this.set(stats.snapshot().hitRatio);
      },
    });
    this.metrics.counter({
      name: 'media_cache_lookups_total',
      help: 'Hot-metadata cache lookups in this process by result: hit, miss, bypassed (cache off or Redis failing)',
      labelNames: ['result'],
      collect() {
        const s = stats.snapshot();
        this.reset();
        this.inc({ result: 'hit' }, s.hits);
        this.inc({ result: 'miss' }, s.misses);
        this.inc({ result: 'bypassed' }, s.bypassed);
      },
    });
    this.metrics.counter({
      name: 'media_cache_errors_total',
      help: 'Redis commands of the hot-metadata cache that failed in this process',
      collect() {
        this.reset();
        this.inc(stats.snapshot().errors);
      },
    });
  }
}
