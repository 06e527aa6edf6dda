import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CACHE_CONFIG, CacheConfig, dropAssetParts, OutboxService, REDIS, REDIS_CONFIG, RedisConfig } from '@app/core';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { ASSET_CACHE_PARTS, AssetCachePart, PartLoaders } from './asset-cache-part';
import { CacheStats } from './cache-stats';
import { InvalidationChannel } from './invalidation-channel';
import { LocalAssetCache } from './local-asset-cache';

export const CACHE_INVALIDATE_TOPIC = 'cache.invalidate';

/** Sets the entry only if nobody invalidated the asset since the reader looked (generation unchanged). */
const FILL_LUA = `
local g = redis.call('GET', KEYS[1])
if (g == false and ARGV[1] == '') or g == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/**
 * FILL_LUA for several parts of one asset in one round trip: KEYS[1] the generation, KEYS[2..] the parts;
 * ARGV[1] the generation read, ARGV[2] the TTL, ARGV[3..] the values (in the order of the keys).
 */
const FILL_MANY_LUA = `
local g = redis.call('GET', KEYS[1])
if (g == false and ARGV[1] == '') or g == ARGV[1] then
  for i = 2, #KEYS do
    redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[2])
  end
  return 1
end
return 0`;

/**
 * Bumps the generation (so in-flight readers do not refill old data), drops every part, and tells every process
 * to drop its in-memory copy (pub/sub), in one atomic step.
 */
const INVALIDATE_LUA = `
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local n = redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n`;

/**
 * What the `requires` part is stored as when its loader found nothing (no such asset): JSON `null`, parsed like any
 * entry. Asset ids are random UUIDs made by this service at creation, so nobody can ask for an id before it exists,
 * and such an entry can only go stale through a deletion, which invalidates it like any other change. The short
 * lifetime bounds how many ids a caller probing at random can leave in the cache.
 */
const ABSENT = 'null';
const NEGATIVE_TTL_MS = 30_000;

type CacheCommands = {
  mediaCacheFill(gen: string, key: string, expected: string, value: string, ttlMs: number): Promise<number>;
  mediaCacheFillMany(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<number>;
  mediaCacheInvalidate(
    gen: string,
    k1: string,
    k2: string,
    k3: string,
    genTtlMs: number,
    channel: string,
    assetId: string,
  ): Promise<number>;
};

/**
 * Read-through Redis cache of hot asset data (record, metadata, ACL), one key per part, a short TTL.
 *
 * Correctness rules:
 * - Writers call `invalidate` after their transaction commits, before answering. The generation counter
 *   makes a reader that loaded from Postgres before the commit unable to store its (old) answer afterwards.
 * - Redis failing never fails a request: reads fall back to Postgres. After any Redis error this process
 *   bypasses the cache for one TTL (every entry written before the failure has expired by then, so an
 *   invalidation Redis missed cannot be observed here), and a failed invalidation is retried through the
 *   outbox until Redis takes it (for the other replicas).
 * - In front of Redis, each process keeps what it read in memory (LocalAssetCache, CACHE_LOCAL_TTL_MS) so warm
 *   reads ask nobody. The invalidation script publishes the asset id on a Redis channel; every process drops its
 *   copy on receipt (the changing process drops its own before it even asks Redis), so a change is seen on the
 *   next request here and, on other processes, as soon as the message arrives (milliseconds). The memory layer is
 *   used only while this process is subscribed: when the subscription drops it is emptied and stays off until
 *   resubscribed, so a notification missed during an outage cannot be observed; its TTL bounds the damage of any
 *   other loss. A reader stores into memory only if no deletion happened since it looked (LocalAssetCache.seq).
 */
@Injectable()
export class AssetCache implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AssetCache');
  private readonly ttlMs: number;
  /** Lifetime of a "no such asset" entry (see ABSENT). */
  private readonly negativeTtlMs: number;
  private readonly genTtlMs: number;
  private readonly prefix: string;
  private degradedUntil = 0;
  private readonly channel: string;
  /** Null when the memory layer is configured off. */
  private readonly local: LocalAssetCache | null;
  /** The subscription that keeps the memory layer honest; it may be used only while that is live. */
  private invalidations: InvalidationChannel | null = null;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CACHE_CONFIG) config: CacheConfig,
    @Inject(REDIS_CONFIG) redisConfig: RedisConfig,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly outbox: OutboxService,
    readonly stats: CacheStats,
  ) {
    this.ttlMs = config.CACHE_TTL_SECONDS * 1000;
    this.negativeTtlMs = Math.min(this.ttlMs, NEGATIVE_TTL_MS);
    // Outlives any Postgres load (statement timeout) by far, so a reader can never see the counter reset.
    this.genTtlMs = Math.max(this.ttlMs * 2, 10 * 60 * 1000);
    this.prefix = `${redisConfig.REDIS_KEY_PREFIX}:cache`;
    this.channel = `${this.prefix}:invalidations`;
    this.local =
      this.ttlMs > 0 && config.CACHE_LOCAL_TTL_MS > 0
        ? new LocalAssetCache(config.CACHE_LOCAL_TTL_MS, config.CACHE_LOCAL_MAX_ENTRIES)
        : null;
  }

  onModuleInit() {
    this.redis.defineCommand('mediaCacheFill', { numberOfKeys: 2, lua: FILL_LUA });
    this.redis.defineCommand('mediaCacheFillMany', { lua: FILL_MANY_LUA }); // the number of keys is the first argument
    this.redis.defineCommand('mediaCacheInvalidate', { numberOfKeys: 4, lua: INVALIDATE_LUA });
    this.outbox.register(CACHE_INVALIDATE_TOPIC, async ({ assetId }: { assetId: string }) => {
      await this.commands.mediaCacheInvalidate(...this.keysOf(assetId), this.genTtlMs, this.channel, assetId);
    });
    if (this.local) {
      this.invalidations = new InvalidationChannel(this.redis, this.channel, this.local, this.logger, 'media-cache-invalidations');
      this.invalidations.start();
    }
  }

  onModuleDestroy() {
    this.invalidations?.stop();
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** The part from Redis, else from `load` (and stored). `load` answering null/undefined is not cached. */
  async get<T>(assetId: string, part: AssetCachePart, load: () => Promise<T | null>): Promise<T | null> {
    return (await this.getMany<Record<string, T>>(assetId, { [part]: load }))[part];
  }

  /**
   * Several parts of one asset in one Redis round trip; each missing part comes from its loader and is stored.
   * When the part named `requires` turns out null (no such asset), nothing else about the asset is stored (the other
   * parts answer null), and that answer itself is remembered for a short while: asking again for an asset that does
   * not exist takes the same path (cache, no database) as asking for one that does.
   */
  async getMany<T extends Partial<Record<AssetCachePart, unknown>>>(
    assetId: string,
    loaders: PartLoaders<T>,
    opts: { requires?: keyof T & AssetCachePart } = {},
  ): Promise<{ [K in keyof T]: T[K] | null }> {
    const parts = Object.keys(loaders) as (keyof T & AssetCachePart)[];
    const out = {} as { [K in keyof T]: T[K] | null };
    const loadAll = async (which: typeof parts) => {
      const values = await Promise.all(which.map((p) => loaders[p]()));
      which.forEach((p, i) => (out[p] = (values[i] ?? null) as T[typeof p] | null));
    };
    if (!this.enabled || Date.now() < this.degradedUntil) {
      this.stats.count('bypassed', parts.length);
      await loadAll(parts);
      return out;
    }
    const local = this.invalidations?.live ? this.local : null;
    const seqAtRead = local?.seq ?? 0;
    const required = opts.requires;
    /** The required part is known to be absent: every other part is null too, without asking anyone. */
    const absent = (rest: typeof parts) => {
      for (const p of rest) out[p] = null;
      return out;
    };
    let remote = parts;
    if (local) {
      remote = [];
      for (const p of parts) {
        const hit = local.get(assetId, p);
        if (hit === undefined) remote.push(p);
        else out[p] = JSON.parse(hit) as T[typeof p];
      }
      const localHits = parts.length - remote.length;
      if (localHits) {
        this.stats.count('hits', localHits);
        this.stats.count('localHits', localHits);
      }
      if (required && !remote.includes(required) && out[required] === null) return absent(remote);
      if (!remote.length) return out;
    }
    const [genKey] = this.keysOf(assetId);
    let raw: (string | null)[];
    try {
      raw = await this.redis.mget(genKey, ...remote.map((p) => this.keyOf(assetId, p)));
    } catch (e) {
      this.failed(e, 'read');
      await loadAll(remote);
      return out;
    }
    const gen = raw[0];
    const missing: typeof parts = [];
    remote.forEach((p, i) => {
      const hit = raw[i + 1];
      if (hit !== null) {
        try {
          out[p] = JSON.parse(hit) as T[typeof p];
          this.stats.count('hits');
          local?.set(assetId, p, hit, seqAtRead, Date.now(), hit === ABSENT ? this.negativeTtlMs : undefined);
          return;
        } catch {
          /* unreadable entry: a miss, overwritten below */
        }
      }
      missing.push(p);
    });
    if (required && !missing.includes(required) && out[required] === null) return absent(missing);
    if (!missing.length) return out;
    this.stats.count('misses', missing.length);
    await loadAll(missing);
    if (required && out[required] === null) {
      // No such asset: remember that (briefly), and nothing else about it.
      if (missing.includes(required)) await this.fill(assetId, required, gen, ABSENT, this.negativeTtlMs, local, seqAtRead);
      return absent(missing.filter((p) => p !== required));
    }
    const found = missing.filter((p) => out[p] !== null && out[p] !== undefined);
    if (found.length === 1) await this.fill(assetId, found[0], gen, JSON.stringify(out[found[0]]), this.ttlMs, local, seqAtRead);
    else if (found.length) await this.fillMany(assetId, found, (p) => JSON.stringify(out[p]), gen, local, seqAtRead);
    return out;
  }

  /** Stores one part in Redis (unless the asset was invalidated since `gen` was read) and then in memory. */
  private async fill(
    assetId: string,
    part: AssetCachePart,
    gen: string | null,
    json: string,
    ttlMs: number,
    local: LocalAssetCache | null,
    seqAtRead: number,
  ): Promise<void> {
    try {
      if (await this.commands.mediaCacheFill(this.keyOf(assetId, 'gen'), this.keyOf(assetId, part), gen ?? '', json, ttlMs)) {
        this.stats.count('fills');
        local?.set(assetId, part, json, seqAtRead, Date.now(), ttlMs);
      }
    } catch (e) {
      this.failed(e, 'fill');
    }
  }

  /** `fill` for several parts in one round trip (one script: all of them stored, or none when invalidated since). */
  private async fillMany<P extends AssetCachePart>(
    assetId: string,
    parts: P[],
    json: (p: P) => string,
    gen: string | null,
    local: LocalAssetCache | null,
    seqAtRead: number,
  ): Promise<void> {
    const values = parts.map(json);
    try {
      const keys = [this.keyOf(assetId, 'gen'), ...parts.map((p) => this.keyOf(assetId, p))];
      if (await this.commands.mediaCacheFillMany(keys.length, ...keys, gen ?? '', this.ttlMs, ...values)) {
        this.stats.count('fills', parts.length);
        const now = Date.now();
        parts.forEach((p, i) => local?.set(assetId, p, values[i], seqAtRead, now, this.ttlMs));
      }
    } catch (e) {
      this.failed(e, 'fill');
    }
  }

  /**
   * Drops every cached part of the asset. Call after the change committed and before answering; never throws.
   * When Redis refuses, the invalidation is written to the outbox and retried until it succeeds.
   */
  async invalidate(assetId: string): Promise<void> {
    dropAssetParts(assetId); // what this request read before the change is stale too
    if (!this.enabled) return;
    this.stats.count('invalidations');
    this.local?.delete(assetId); // this process sees the change on its next request, whatever Redis does
    try {
      await this.commands.mediaCacheInvalidate(...this.keysOf(assetId), this.genTtlMs, this.channel, assetId);
      return;
    } catch (e) {
      this.failed(e, 'invalidate');
    }
    try {
      await this.outbox.append(this.ds.manager, CACHE_INVALIDATE_TOPIC, { assetId });
      this.stats.count('deferredInvalidations');
      this.outbox.kick();
    } catch (e) {
      this.logger.error({ assetId, err: e instanceof Error ? e.message : String(e) }, 'could not defer a cache invalidation');
    }
  }

  private failed(e: unknown, op: string) {
    this.stats.count('errors');
    this.local?.clear(); // an invalidation may have failed too: trust nothing this process read before
    const wasHealthy = Date.now() >= this.degradedUntil;
    this.degradedUntil = Date.now() + this.ttlMs;
    if (wasHealthy) {
      this.logger.warn(
        `Redis ${op} failed (${e instanceof Error ? e.message : String(e)}); serving from Postgres for the next ${this.ttlMs / 1000} s`,
      );
    }
  }

  private get commands(): CacheCommands {
    return this.redis as unknown as CacheCommands;
  }

  /** `{assetId}` is a hash tag: all keys of an asset live in one cluster slot, as the scripts need. */
  private keyOf(assetId: string, part: AssetCachePart | 'gen'): string {
    return `${this.prefix}:{${assetId}}:${part}`;
  }

  private keysOf(assetId: string): [string, string, string, string] {
    return [this.keyOf(assetId, 'gen'), ...(ASSET_CACHE_PARTS.map((p) => this.keyOf(assetId, p)) as [string, string, string])];
  }
}
