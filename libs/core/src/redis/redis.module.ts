import { Global, Inject, Injectable, Module, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS_CONFIG, RedisConfig } from '../config/config-sections';

export const REDIS = Symbol('REDIS');
/**
 * A second client, with ioredis' auto-pipelining on, for the rate-limit counters: one script call per request on
 * the hottest write route (POST /media/upload-url). Commands issued in the same turn of the event loop leave in one
 * write (and their answers come back in one read) instead of one write and one read each; each command is still
 * sent, counted and answered on its own, in order, so every limit is exactly as before. Kept apart from REDIS so no
 * other user (subscribers duplicated from it, blocking or transaction commands) is pipelined without asking.
 */
export const REDIS_COUNTERS = Symbol('REDIS_COUNTERS');

/** One ioredis client for cache and health; commands fail fast (no offline queue) so callers can fall back. */
export function createRedis(redisConfig: Pick<RedisConfig, 'REDIS_URL'>, name: string, opts: { autoPipelining?: boolean } = {}): Redis {
  return new Redis(redisConfig.REDIS_URL, {
    enableAutoPipelining: opts.autoPipelining ?? false,
    connectionName: `media-${name}`,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 2000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
}

@Injectable()
class RedisCloser implements OnModuleDestroy {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_COUNTERS) private readonly counters: Redis,
  ) {}
  async onModuleDestroy() {
    this.redis.disconnect();
    this.counters.disconnect();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [REDIS_CONFIG],
      useFactory: (redisConfig: RedisConfig) => {
        const r = createRedis(redisConfig, 'app');
        r.on('error', () => undefined); // state is reported by /health/ready; callers handle command errors
        return r;
      },
    },
    {
      provide: REDIS_COUNTERS,
      inject: [REDIS_CONFIG],
      useFactory: (redisConfig: RedisConfig) => {
        const r = createRedis(redisConfig, 'counters', { autoPipelining: true });
        r.on('error', () => undefined); // the rate limit fails open and logs; /health/ready reports Redis
        return r;
      },
    },
    RedisCloser,
  ],
  exports: [REDIS, REDIS_COUNTERS],
})
export class RedisModule {}
