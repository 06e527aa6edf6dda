import { Global, Inject, Injectable, Module, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';

export const REDIS = Symbol('REDIS');

/** One ioredis client for cache and health; commands fail fast (no offline queue) so callers can fall back. */
export function createRedis(config: AppConfig, name: string): Redis {
  return new Redis(config.REDIS_URL, {
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
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        const r = createRedis(config, 'app');
        r.on('error', () => undefined); // state is reported by /health/ready; callers handle command errors
        return r;
      },
    },
    RedisCloser,
  ],
  exports: [REDIS],
})
export class RedisModule {}
