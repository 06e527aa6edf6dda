import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { AppError, ErrorCode, REDIS, REDIS_CONFIG, RedisConfig, TRANSFORM_CONFIG, TransformConfig } from '@app/core';
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
    this.storage = new ThrottlerStorageRedisService(redis);
  }

  /** Counts one render for `tracker` (`user:<id>` or `ip:<address>`); throws 429 RateLimited past the limit. */
  async consume(tracker: string): Promise<void> {
    const limit = this.transform.TRANSFORM_RATE_LIMIT_PER_MINUTE;
    let r;
    try {
      r = await this.storage.increment(
        `${this.redisConfig.REDIS_KEY_PREFIX}:throttle:render:${tracker}`,
        WINDOW_MS,
        limit,
        WINDOW_MS,
        'render',
      );
    } catch (e) {
      this.log.warn(`render rate limit not checked (Redis unavailable): ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (r.isBlocked || r.totalHits > limit) {
      const retryIn = r.timeToBlockExpire || r.timeToExpire;
      throw new AppError(
        ErrorCode.RateLimited,
        `Too many new renditions: at most ${limit} per minute for this caller (cached ones are not counted); retry in ${retryIn} s`,
        { limit },
      );
    }
  }
}
