import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { CACHE_CONFIG, CacheConfig, OutboxService, REDIS, REDIS_CONFIG, RedisConfig } from '@app/core';
import { InvalidationChannel, InvalidationTarget } from '@app/asset-cache';
import type Redis from 'ioredis';
import { EntityManager } from 'typeorm';
import { BucketAccessFacts, BucketsRepository } from './buckets.repository';

export const BUCKET_CACHE_INVALIDATE_TOPIC = 'bucket-cache.invalidate';

/** A bucket's access facts in process memory: JSON text (parsed per hit: no caller can change the next one's). */
class LocalBucketFacts implements InvalidationTarget {
  private readonly entries = new Map<string, { json: string; expiresAt: number }>();
  /** Bumped by every deletion: what a reader loaded before a bump may predate the change that caused it. */
  seq = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(name: string, now = Date.now()): string | undefined {
    const hit = this.entries.get(name);
    if (!hit) return undefined;
    if (hit.expiresAt <= now) {
      this.entries.delete(name);
      return undefined;
    }
    this.entries.delete(name); // most recently used last
    this.entries.set(name, hit);
    return hit.json;
  }

  set(name: string, json: string, seqAtRead: number, now = Date.now()): void {
    if (seqAtRead !== this.seq) return;
    this.entries.set(name, { json, expiresAt: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(name: string): void {
    this.seq++;
    this.entries.delete(name);
  }

  clear(): void {
    this.seq++;
    this.entries.clear();
  }
}

/**
 * Owner, public flag and grants of each user-facing bucket, read by every access decision on an asset in it,
 * kept in process memory so those decisions stop costing a query each.
 *
 * Freshness: the mechanism of the asset cache's memory layer (InvalidationChannel). Every change of a bucket's
 * grants, public flag or existence writes a `bucket-cache.invalidate` outbox message in its own transaction, then,
 * once committed, drops the entry here and publishes the bucket's name on a Redis channel; every process drops its
 * copy on receipt, so a revoked grant or a bucket made private stops reads on the next request here and, on other
 * processes, as soon as the message arrives (milliseconds). If this process dies between commit and publish, the
 * outbox publishes it later. The layer is used only while subscribed (emptied when the subscription drops), a
 * reader that started before a drop does not store what it read, and entries live at most CACHE_LOCAL_TTL_MS
 * (the safety net for anything else). Off when CACHE_TTL_SECONDS or CACHE_LOCAL_TTL_MS is 0.
 */
@Injectable()
export class BucketAccessCache implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('BucketAccessCache');
  private readonly local: LocalBucketFacts | null;
  private channel: InvalidationChannel | null = null;
  private readonly channelName: string;

  constructor(
    private readonly repo: BucketsRepository,
    private readonly outbox: OutboxService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CACHE_CONFIG) config: CacheConfig,
    @Inject(REDIS_CONFIG) redisConfig: RedisConfig,
  ) {
    this.channelName = `${redisConfig.REDIS_KEY_PREFIX}:cache:bucket-invalidations`;
    this.local =
      config.CACHE_TTL_SECONDS > 0 && config.CACHE_LOCAL_TTL_MS > 0
        ? new LocalBucketFacts(config.CACHE_LOCAL_TTL_MS, config.CACHE_LOCAL_MAX_ENTRIES)
        : null;
  }

  onModuleInit(): void {
    this.outbox.register(BUCKET_CACHE_INVALIDATE_TOPIC, async ({ bucket }: { bucket: string }) => {
      await this.redis.publish(this.channelName, bucket);
    });
    if (this.local) {
      this.channel = new InvalidationChannel(this.redis, this.channelName, this.local, this.logger, 'media-bucket-invalidations');
      this.channel.start();
    }
  }

  onModuleDestroy(): void {
    this.channel?.stop();
  }

  /** The bucket's access facts (null: no such bucket), from memory when it may be trusted. */
  async facts(name: string): Promise<BucketAccessFacts | null> {
    const local = this.channel?.live ? this.local : null;
    if (!local) return this.repo.accessFacts(name);
    const hit = local.get(name);
    if (hit !== undefined) return JSON.parse(hit) as BucketAccessFacts | null;
    const seqAtRead = local.seq;
    const facts = await this.repo.accessFacts(name);
    local.set(name, JSON.stringify(facts), seqAtRead);
    return facts;
  }

  /** In the transaction that changes the bucket's grants, public flag or existence: the durable notice. */
  async recordChange(m: EntityManager, name: string): Promise<void> {
    await this.outbox.append(m, BUCKET_CACHE_INVALIDATE_TOPIC, { bucket: name });
  }

  /** After that transaction committed, before answering: drop it here and tell every process. Never throws. */
  async invalidate(name: string): Promise<void> {
    this.local?.delete(name);
    try {
      await this.redis.publish(this.channelName, name);
    } catch (e) {
      // The outbox message written with the change publishes it when Redis is back.
      this.logger.warn(`could not publish the invalidation of bucket "${name}": ${e instanceof Error ? e.message : String(e)}`);
    }
    this.outbox.kick();
  }
}
