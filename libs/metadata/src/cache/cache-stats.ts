import { Injectable } from '@nestjs/common';

export interface CacheStatsSnapshot {
  /** Lookups answered from the cache (Redis, or this process's in-memory layer in front of it). */
  hits: number;
  /** The part of `hits` answered from this process's memory, without asking Redis. */
  localHits: number;
  /** Lookups Redis did not have (then loaded from Postgres and, unless invalidated meanwhile, stored). */
  misses: number;
  /** Lookups that went straight to Postgres: cache off, or Redis failed recently. */
  bypassed: number;
  /** Redis commands that failed (each also means a Postgres fallback or a deferred invalidation). */
  errors: number;
  /** Entries written after a miss. */
  fills: number;
  invalidations: number;
  /** Invalidations Redis refused, handed to the outbox to retry once Redis is back. */
  deferredInvalidations: number;
  /** hits / (hits + misses), 0 when there were none. */
  hitRatio: number;
}

/** In-process hit/miss counters of the hot-metadata cache (for the metrics endpoint). */
@Injectable()
export class CacheStats {
  private readonly c = { hits: 0, localHits: 0, misses: 0, bypassed: 0, errors: 0, fills: 0, invalidations: 0, deferredInvalidations: 0 };

  count(what: keyof CacheStats['c'], n = 1): void {
    this.c[what] += n;
  }

  snapshot(): CacheStatsSnapshot {
    const looked = this.c.hits + this.c.misses;
    return { ...this.c, hitRatio: looked ? this.c.hits / looked : 0 };
  }
}
