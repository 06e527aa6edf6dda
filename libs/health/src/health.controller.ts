import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { ApiProblem, AppError, ErrorCode, Public, REDIS, withTimeout } from '@app/core';
import { MALWARE_SCANNER, MalwareScanner } from '@app/processing';
import { RegionRouter, RegionStatusDto, ReplicationService, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import { DrainService } from './drain.service';
import { LivenessDto, RegionsReportDto } from './health.dto';

const CHECK_TIMEOUT_MS = 2000;

/** GET /health/regions: each storage region's state for DNS / load-balancer failover. */
export interface RegionsReport {
  /** `ok`: every region up; `degraded`: some down; `down`: none up. */
  status: 'ok' | 'degraded' | 'down';
  primary: string;
  /** Where new uploads go now (the primary unless it is down). */
  writeRegion: string;
  replication: 'on' | 'off';
  regions: RegionStatusDto[];
}

/**
 * Kubernetes probes. `live` never looks at dependencies (a database blip must not restart pods);
 * `ready` checks the database, Redis and that at least one storage region is healthy, each bounded by a
 * timeout, and fails while the process drains after SIGTERM; `regions` reports every storage region.
 */
@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    private readonly router: RegionRouter,
    private readonly replication: ReplicationService,
    private readonly drain: DrainService,
    @Inject(MALWARE_SCANNER) private readonly scanner: MalwareScanner,
  ) {}

  @Get('live')
  live(): LivenessDto {
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()) };
  }

  @Get('ready')
  @ApiProblem(503, 'Not ready: `message` names what is down; `details` holds every check', [ErrorCode.ServiceUnavailable])
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.drainingCheck(),
      () => this.db.pingCheck('database', { timeout: CHECK_TIMEOUT_MS }),
      () => this.probe('redis', async () => void (await withTimeout(this.redis.ping(), CHECK_TIMEOUT_MS, 'redis ping'))),
      () => this.storageCheck(),
      () => this.scannerCheck(),
    ]);
  }

  /** Each region's state, latency and last error, from the periodic checks and live traffic (no probe runs here). */
  @Get('regions')
  @ApiProblem(503, 'No storage region is up; `details` holds the report', [ErrorCode.StorageUnavailable])
  regions(@Res({ passthrough: true }) reply: FastifyReply): RegionsReportDto {
    reply.header('cache-control', 'no-store');
    const regions = this.router.status();
    const up = regions.filter((r) => r.state !== 'down').length;
    const report: RegionsReport = {
      status: up === regions.length ? 'ok' : up > 0 ? 'degraded' : 'down',
      primary: this.router.primary.name,
      writeRegion: this.router.writeRegion().name,
      replication: this.replication.enabled ? 'on' : 'off',
      regions,
    };
    if (!up) throw new AppError(ErrorCode.StorageUnavailable, 'No storage region is up', report);
    return report;
  }

  /** Down from SIGTERM on, so traffic moves away before the server stops accepting. */
  private drainingCheck() {
    const indicator = this.indicators.check('shutdown');
    const since = this.drain.drainingSince;
    return since ? indicator.down({ draining: true, since: since.toISOString() }) : indicator.up({ draining: false });
  }

  /** Up while at least one storage region passes its health check (every region is checked now). */
  private storageCheck() {
    const states = () => Object.fromEntries(this.router.status().map((s) => [s.name, s.state]));
    // Each region's check is bounded by STORAGE_HEALTH_CHECK_TIMEOUT_MS and they run concurrently; the margin covers the rest.
    const bound = this.router.healthCheckTimeoutMs + 500;
    return this.probe('storage', () => withTimeout(this.storage.checkHealth(), bound, 'storage check'), { driver: this.storage.kind }, states);
  }

  /**
   * The virus scanner: with SCANNER=clamd, down (not ready) when clamd does not answer, since nothing can become
   * ready meanwhile; with SCANNER=none, up but saying that nothing is scanned.
   */
  private async scannerCheck() {
    const indicator = this.indicators.check('scanner');
    if (this.scanner.kind === 'none') return indicator.up({ kind: 'none', scanning: 'disabled', warning: 'uploads are not scanned for viruses (SCANNER=none)' });
    try {
      const version = await withTimeout(this.scanner.check(), CHECK_TIMEOUT_MS, 'clamd check');
      return indicator.up({ kind: this.scanner.kind, scanning: 'enabled', version });
    } catch (e) {
      return indicator.down({ kind: this.scanner.kind, scanning: 'unavailable', message: e instanceof Error ? e.message : String(e) });
    }
  }

  private async probe(key: string, check: () => Promise<void>, info: Record<string, unknown> = {}, regions?: () => Record<string, string>) {
    const indicator = this.indicators.check(key);
    try {
      await check();
      return indicator.up({ ...info, ...(regions ? { regions: regions() } : {}) });
    } catch (e) {
      return indicator.down({ ...info, ...(regions ? { regions: regions() } : {}), message: e instanceof Error ? e.message : String(e) });
    }
  }
}
