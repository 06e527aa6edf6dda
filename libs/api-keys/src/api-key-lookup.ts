import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { ADMIN_ROLE, ApiKeyVerifier, Authenticator, Clock, Errors, Principal, REDIS, REDIS_CONFIG, RedisConfig } from '@app/core';
import { ApiKey } from './api-key.entity';
import { hashApiKey, isWellFormedApiKey } from './api-key-secret';
import { ApiKeyUsageRecorder } from './api-key-usage.recorder';
import { ApiKeysRepository } from './api-keys.repository';

/** How long a replica trusts a key it read from Postgres (revocations reach it sooner, by pub/sub). */
const CACHE_TTL_MS = 30_000;
const CACHE_MAX_ENTRIES = 10_000;

/** The principal a key acts as: its creator as at creation; admin only when the key holds the `admin` scope. */
export function principalOfKey(row: ApiKey): Principal {
  const admin = row.scopes.includes('admin') && row.creatorRoles.includes(ADMIN_ROLE);
  return {
    userId: row.creatorId,
    groups: [...row.creatorGroups],
    roles: admin ? [...row.creatorRoles] : row.creatorRoles.filter((r) => r !== ADMIN_ROLE),
    isAdmin: admin,
    apiKey: { id: row.id, scopes: [...row.scopes] },
  };
}

/**
 * Verifies presented API keys (registered with core's Authenticator): the key's SHA-256 is looked up in Postgres,
 * and the row kept in memory for CACHE_TTL_MS. A revocation is seen at once on every replica: the replica that
 * revokes forgets the key before answering, and announces it on a Redis channel every replica listens to. The memory
 * layer is used only while that subscription holds (a replica that cannot hear revocations asks Postgres every time),
 * and a read that overlapped a revocation is not kept.
 */
@Injectable()
export class ApiKeyLookup implements ApiKeyVerifier, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ApiKeys');
  private readonly cache = new Map<string, { row: ApiKey; until: number }>();
  private readonly channel: string;
  /** Bumped by every revocation heard: a read that started before it may be stale and is not cached. */
  private seq = 0;
  private live = false;
  private closing = false;
  private subscriber?: Redis;

  constructor(
    private readonly repo: ApiKeysRepository,
    private readonly usage: ApiKeyUsageRecorder,
    private readonly auth: Authenticator,
    private readonly clock: Clock,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_CONFIG) redisConfig: RedisConfig,
  ) {
    this.channel = `${redisConfig.REDIS_KEY_PREFIX}:api-keys:revoked`;
  }

  onModuleInit(): void {
    this.auth.useApiKeys(this);
    this.subscribe();
  }

  onModuleDestroy(): void {
    this.closing = true;
    this.subscriber?.disconnect();
  }

  async verify(key: string): Promise<Principal> {
    if (!isWellFormedApiKey(key)) throw Errors.unauthenticated('Invalid API key: not a key this service issued');
    const row = await this.find(hashApiKey(key));
    if (!row) throw Errors.unauthenticated('Invalid API key: no such key');
    if (row.revokedAt) throw Errors.unauthenticated('Invalid API key: it has been revoked');
    const now = this.clock.now();
    if (row.expiresAt && row.expiresAt <= now) throw Errors.unauthenticated('Invalid API key: it has expired');
    this.usage.touch(row.id, now);
    return principalOfKey(row);
  }

  /** Forgets key `id` here and tells every other replica to (before the revocation is answered). */
  async announceRevoked(id: string): Promise<void> {
    this.forget(id);
    try {
      await this.redis.publish(this.channel, id);
    } catch (e) {
      // Replicas that cannot hear it stop trusting their memory when their subscription drops; the TTL bounds the rest.
      this.logger.warn(`could not announce the revocation of API key ${id}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async find(hash: string): Promise<ApiKey | null> {
    const hit = this.live ? this.cache.get(hash) : undefined;
    if (hit && hit.until > Date.now()) return hit.row;
    const seqAtRead = this.seq;
    const row = await this.repo.findByHash(hash);
    if (row && this.live && seqAtRead === this.seq) {
      this.cache.delete(hash);
      this.cache.set(hash, { row, until: Date.now() + CACHE_TTL_MS });
      if (this.cache.size > CACHE_MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    }
    return row;
  }

  private forget(id: string): void {
    this.seq++;
    for (const [hash, entry] of this.cache) if (entry.row.id === id) this.cache.delete(hash);
  }

  /** Keeps a subscription to the revocation channel; the memory layer is on only while it holds. */
  private subscribe(): void {
    const sub = this.redis.duplicate({ connectionName: 'media-api-key-revocations', autoResubscribe: false, enableOfflineQueue: true });
    this.subscriber = sub;
    const off = () => {
      if (this.live && !this.closing)
        this.logger.warn('API key revocation subscription lost: every key is read from Postgres until it is back');
      this.live = false;
      this.seq++;
      this.cache.clear();
    };
    sub.on('message', (channel: string, id: string) => {
      if (channel === this.channel) this.forget(id);
    });
    sub.on('error', () => undefined); // reported by the close below
    sub.on('close', off);
    sub.on('end', off);
    sub.on('ready', () => {
      sub.subscribe(this.channel).then(
        () => {
          this.cache.clear();
          this.live = true;
        },
        (e) => {
          this.logger.warn(`could not subscribe to API key revocations: ${e instanceof Error ? e.message : String(e)}`);
          sub.disconnect(true);
        },
      );
    });
  }
}
