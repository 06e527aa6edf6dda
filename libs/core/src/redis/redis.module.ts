import { Global, Inject, Injectable, Module, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { REDIS_CONFIG, RedisConfig } from '../config/config-sections';

export const REDIS = Symbol('REDIS');

/** One ioredis client for cache and health; commands fail fast (no offline queue) so callers can fall back. */
export function createRedis(redisConfig: Pick<RedisConfig, 'REDIS_URL'>, name: string): Redis {
  return new Redis(redisConfig.REDIS_URL, {
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
  constructor(@Inject(REDIS) private readonly redis: Redis) {}
  async onModuleDestroy() {
    this.redis.disconnect();
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
    RedisCloser,
  ],
  exports: [REDIS],
})
export class RedisModule {}
