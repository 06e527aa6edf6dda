import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Clock, REDIS, REDIS_CONFIG, RedisConfig, withTimeout } from '@app/core';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';

/** How often each process flushes buffered touches to stored_objects. */
const FLUSH_INTERVAL_MS = 30_000;
/** Touches written per UPDATE. */
const FLUSH_BATCH = 500;
const REDIS_TIMEOUT_MS = 2000;

/** `YYYY-MM-DD` of a date (UTC): a stored object's last-accessed time is written at most once per such day. */
export function accessDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * Records reads of stored objects (for tiering) without a database write per read: a read does one Redis
 * `SET NX` per object per (clock) day, and only the first one of the day adds the object to a pending set; every
 * process flushes that set to `stored_objects.last_accessed_at` in batches (every 30 s, and before tiering runs).
 * A lost touch (Redis down) only means an object may cool down a day early: reads of cold objects still work.
 */
@Injectable()
export class ObjectAccessTracker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ObjectAccess');
  private readonly prefix: string;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly clock: Clock,
    @Inject(REDIS_CONFIG) config: RedisConfig,
  ) {
    this.prefix = `${config.REDIS_KEY_PREFIX}:access`;
  }

  onModuleInit(): void {
    this.timer = setInterval(
      () => void this.flush().catch((e) => this.logger.warn(`flushing object reads failed: ${e instanceof Error ? e.message : e}`)),
      FLUSH_INTERVAL_MS,
    );
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  /** Notes a read of the stored object with this SHA-256 (fire and forget; never fails the read). */
  touch(sha256: string): void {
    const at = this.clock.now();
    void withTimeout(
      (async () => {
        const first = await this.redis.set(`${this.prefix}:seen:${accessDay(at)}:${sha256}`, '1', 'EX', 2 * 24 * 3600, 'NX');
        if (first === 'OK') await this.redis.sadd(`${this.prefix}:pending`, `${sha256}|${at.toISOString()}`);
      })(),
      REDIS_TIMEOUT_MS,
      'record object read',
    ).catch(() => undefined);
  }

  /** Writes buffered touches to stored_objects (never moving last_accessed_at backwards); returns how many objects. */
  async flush(): Promise<number> {
    let written = 0;
    for (let round = 0; round < 100; round++) {
      const items = await withTimeout(this.redis.spop(`${this.prefix}:pending`, FLUSH_BATCH), REDIS_TIMEOUT_MS, 'flush object reads');
      if (!items?.length) break;
      const latest = new Map<string, string>();
      for (const item of items) {
        const [sha, at] = item.split('|');
        if (!/^[0-9a-f]{64}$/.test(sha) || !at) continue;
        if (!latest.has(sha) || latest.get(sha)! < at) latest.set(sha, at);
      }
      if (!latest.size) continue;
      await this.ds.query(
        `UPDATE stored_objects o SET last_accessed_at = t.at
           FROM unnest($1::char(64)[], $2::timestamptz[]) AS t(sha, at)
          WHERE o.checksum_sha256 = t.sha AND (o.last_accessed_at IS NULL OR o.last_accessed_at < t.at)`,
        [[...latest.keys()], [...latest.values()]],
      );
      written += latest.size;
      if (items.length < FLUSH_BATCH) break;
    }
    return written;
  }
}
