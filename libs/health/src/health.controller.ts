import { Controller, Get, HttpException, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { ApiProblem, AppError, ErrorCode, Errors, OptionalAuth, OptionalPrincipal, Principal, Public, REDIS, withTimeout } from '@app/core';
import { MALWARE_SCANNER, MalwareScanner } from '@app/processing';
import { RegionRouter, RegionStatusDto, ReplicationService, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import { DrainService } from './drain.service';
import { LivenessDto, ReadinessDto, RegionsReportDto } from './health.dto';

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

/** The detail of `ready` and `regions` (scanner state, bucket names, last errors) is for admins only. */
const detailed = (caller: Principal | null) => caller?.isAdmin === true;

/**
 * Kubernetes probes. `live` never looks at dependencies (a database blip must not restart pods);
 * `ready` checks the database, Redis and that at least one storage region is healthy, each bounded by a
 * timeout, and fails while the process drains after SIGTERM; `regions` reports every storage region.
 * Probes are anonymous and get the status (and the HTTP status code) alone; a caller with the admin role gets
 * every check and region in detail.
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
  @ApiOperation({ summary: 'Liveness', description: 'The process is up (for liveness probes). No token.' })
  live(): LivenessDto {
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()) };
  }

  /** Ready to serve: database, Redis, a storage region, the virus scanner, and not draining. Detail for admins only. */
  @OptionalAuth()
  @Get('ready')
  @ApiOkResponse({ type: ReadinessDto, description: 'Ready (`status` alone, unless the caller is an admin)' })
  @ApiProblem(503, 'Not ready. An admin caller gets `message` naming what is down and `details` holding every check', [
    ErrorCode.ServiceUnavailable,
  ])
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Readiness',
    description:
      'Ready to serve: database, Redis, a storage region and the virus scanner answer, and the process is not draining. Anonymous callers get the status alone; admins get every check.',
  })
  async ready(@OptionalPrincipal() caller: Principal | null): Promise<ReadinessDto> {
    try {
      const result = await this.health.check([
        () => this.drainingCheck(),
        () => this.db.pingCheck('database', { timeout: CHECK_TIMEOUT_MS }),
        () => this.probe('redis', async () => void (await withTimeout(this.redis.ping(), CHECK_TIMEOUT_MS, 'redis ping'))),
        () => this.storageCheck(),
        () => this.scannerCheck(),
      ]);
      return detailed(caller) ? (result as ReadinessDto) : { status: 'ok' };
    } catch (e) {
      if (!detailed(caller) && e instanceof HttpException && e.getStatus() === Number(HttpStatus.SERVICE_UNAVAILABLE))
        throw Errors.unavailable('Not ready');
      throw e;
    }
  }

  /** Each region's state, latency and last error, from the periodic checks and live traffic (no probe runs here). */
  @OptionalAuth()
  @Get('regions')
  @ApiOkResponse({ type: RegionsReportDto, description: 'The report (`status` alone, unless the caller is an admin)' })
  @ApiProblem(503, 'No storage region is up; for an admin caller `details` holds the report', [ErrorCode.StorageUnavailable])
  @ApiOperation({
    summary: 'Storage regions',
    description:
      "Each storage region's state, latency and last error, from the periodic checks and live traffic (no probe runs here), for DNS or load-balancer failover. Detail for admins only.",
  })
  regions(@OptionalPrincipal() caller: Principal | null, @Res({ passthrough: true }) reply: FastifyReply): RegionsReportDto {
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
    if (!up) throw new AppError(ErrorCode.StorageUnavailable, 'No storage region is up', detailed(caller) ? { ...report } : undefined);
    return detailed(caller) ? report : { status: report.status };
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
    return this.probe(
      'storage',
      () => withTimeout(this.storage.checkHealth(), bound, 'storage check'),
      { driver: this.storage.kind },
      states,
    );
  }

  /**
   * The virus scanner: with SCANNER=clamd, down (not ready) when clamd does not answer, since nothing can become
   * ready meanwhile; with SCANNER=none, up but saying that nothing is scanned.
   */
  private async scannerCheck() {
    const indicator = this.indicators.check('scanner');
    if (this.scanner.kind === 'none')
      return indicator.up({ kind: 'none', scanning: 'disabled', warning: 'uploads are not scanned for viruses (SCANNER=none)' });
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
