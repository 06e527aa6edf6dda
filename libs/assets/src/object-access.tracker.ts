import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Clock, REDIS, REDIS_CONFIG, RedisConfig, withTimeout } from '@app/core';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';

/** How often each process flushes buffered touches to media_assets (and stored_objects). */
const FLUSH_INTERVAL_MS = 30_000;
/** Touches written per UPDATE. */
const FLUSH_BATCH = 500;
const REDIS_TIMEOUT_MS = 2000;

/** `YYYY-MM-DD` of a date (UTC): a stored object's last-accessed time is written at most once per such day. */
export function accessDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * Records reads of assets (for tiering) without a database write per read: a read does one Redis `SET NX` per
 * asset per (clock) day, and only the first one of the day adds the asset to a pending set; every process flushes
 * that set to `media_assets.last_accessed_at` (and the stored object's, which operators see) in batches (every
 * 30 s, and before tiering runs).
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

  /**
   * Notes a read of the asset (and of the stored object with its bytes, for operators); fire and forget, never
   * fails the read. Tiering decides by the asset's own reads.
   */
  touch(assetId: string, sha256: string | null): void {
    const at = this.clock.now();
    void withTimeout(
      (async () => {
        const first = await this.redis.set(`${this.prefix}:seen:${accessDay(at)}:${assetId}`, '1', 'EX', 2 * 24 * 3600, 'NX');
        if (first === 'OK') await this.redis.sadd(`${this.prefix}:pending`, `${assetId}|${sha256 ?? ''}|${at.toISOString()}`);
      })(),
      REDIS_TIMEOUT_MS,
      'record object read',
    ).catch(() => undefined);
  }

  /** Writes buffered touches to media_assets and stored_objects (never moving last_accessed_at backwards); returns how many assets. */
  async flush(): Promise<number> {
    let written = 0;
    for (let round = 0; round < 100; round++) {
      const items = await withTimeout(this.redis.spop(`${this.prefix}:pending`, FLUSH_BATCH), REDIS_TIMEOUT_MS, 'flush object reads');
      if (!items?.length) break;
      const assets = new Map<string, string>();
      const objects = new Map<string, string>();
      for (const item of items) {
        const [assetId, sha, at] = item.split('|');
        if (!/^[0-9a-f-]{36}$/.test(assetId) || !at) continue;
        if (!assets.has(assetId) || assets.get(assetId)! < at) assets.set(assetId, at);
        if (/^[0-9a-f]{64}$/.test(sha) && (!objects.has(sha) || objects.get(sha)! < at)) objects.set(sha, at);
      }
      if (!assets.size) continue;
      await this.ds.query(
        `UPDATE media_assets a SET last_accessed_at = t.at
           FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, at)
          WHERE a.asset_id = t.id AND (a.last_accessed_at IS NULL OR a.last_accessed_at < t.at)`,
        [[...assets.keys()], [...assets.values()]],
      );
      if (objects.size) {
        await this.ds.query(
          `UPDATE stored_objects o SET last_accessed_at = t.at
             FROM unnest($1::char(64)[], $2::timestamptz[]) AS t(sha, at)
            WHERE o.checksum_sha256 = t.sha AND (o.last_accessed_at IS NULL OR o.last_accessed_at < t.at)`,
          [[...objects.keys()], [...objects.values()]],
        );
      }
      written += assets.size;
      if (items.length < FLUSH_BATCH) break;
    }
    return written;
  }
}
