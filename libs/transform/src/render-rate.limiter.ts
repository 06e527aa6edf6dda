import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { countHit, REDIS, REDIS_CONFIG, RedisConfig, ScriptedThrottlerStorage, TRANSFORM_CONFIG, TransformConfig } from '@app/core';
import type Redis from 'ioredis';

const WINDOW_MS = 60_000;

/**
 * Per-principal limit on renders that are not cached yet (TRANSFORM_RATE_LIMIT_PER_MINUTE): counted in Redis, so
 * every replica shares it; cached renditions are never counted. Fails open when Redis cannot be asked.
 */
@Injectable()
export class RenderRateLimiter {
  private readonly log = new Logger('RateLimit');
  private readonly storage: ThrottlerStorageRedisService;

  constructor(
    @Inject(TRANSFORM_CONFIG) private readonly transform: TransformConfig,
    @Inject(REDIS_CONFIG) private readonly redisConfig: RedisConfig,
    @Inject(REDIS) redis: Redis,
  ) {
    this.storage = new ScriptedThrottlerStorage(redis);
  }

  /** Counts one render for `tracker` (`user:<id>` or `ip:<address>`); throws 429 RateLimited past the limit. */
  consume(tracker: string): Promise<void> {
    const limit = this.transform.TRANSFORM_RATE_LIMIT_PER_MINUTE;
    return countHit(this.storage, {
      key: `${this.redisConfig.REDIS_KEY_PREFIX}:throttle:render:${tracker}`,
      name: 'render',
      limit,
      windowMs: WINDOW_MS,
      log: this.log,
      message: (retryIn) =>
        `Too many new renditions: at most ${limit} per minute for this caller (cached ones are not counted); retry in ${retryIn} s`,
    });
  }
}
