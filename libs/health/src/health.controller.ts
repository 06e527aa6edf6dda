import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public, REDIS, withTimeout } from '@app/core';
import { STORAGE_DRIVER, StorageDriver } from '@app/storage';
import type Redis from 'ioredis';

const CHECK_TIMEOUT_MS = 2000;

/**
 * Kubernetes probes. `live` never looks at dependencies (a database blip must not restart pods);
 * `ready` checks the database, Redis and storage, each bounded by a timeout.
 */
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
  ) {}

  @Get('live')
  live() {
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()) };
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: CHECK_TIMEOUT_MS }),
      () => this.probe('redis', async () => void (await withTimeout(this.redis.ping(), CHECK_TIMEOUT_MS, 'redis ping'))),
      () => this.probe('storage', () => withTimeout(this.storage.checkHealth(), CHECK_TIMEOUT_MS, 'storage check'), { driver: this.storage.kind }),
    ]);
  }

  private async probe(key: string, check: () => Promise<void>, info: Record<string, unknown> = {}) {
    const indicator = this.indicators.check(key);
    try {
      await check();
      return indicator.up(info);
    } catch (e) {
      return indicator.down({ ...info, message: e instanceof Error ? e.message : String(e) });
    }
  }
}
