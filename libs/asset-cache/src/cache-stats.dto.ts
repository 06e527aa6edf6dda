/** The hot-metadata cache's counters for the answering process. */
export class CacheStatsDto {
  /** Lookups answered from Redis. */
  hits: number;
  /** The part of `hits` answered from this process's memory, without asking Redis. */
  localHits: number;
  /** Lookups Redis did not have. */
  misses: number;
  /** Lookups that went straight to Postgres: cache off, or Redis failed recently. */
  bypassed: number;
  /** Redis commands that failed. */
  errors: number;
  /** Entries written after a miss. */
  fills: number;
  invalidations: number;
  /** Invalidations Redis refused, handed to the outbox to retry. */
  deferredInvalidations: number;
  /** hits / (hits + misses), 0 when there were none. */
  hitRatio: number;
  /** CACHE_TTL_SECONDS. */
  ttlSeconds: number;
}
