import { Logger } from '@nestjs/common';
import { TimeoutError, withTimeout } from '@app/core';
import { StorageDriver, StorageUnavailableError } from '../storage-driver';
import { RegionStatusDto } from './region-status.dto';

/** One storage region: a driver with its own store (an S3 endpoint and bucket, or a local root). */
export interface StorageRegion {
  readonly name: string;
  readonly primary: boolean;
  readonly driver: StorageDriver;
}

/** `unknown` until the first health check has run; treated as usable. */
export type RegionState = 'up' | 'down' | 'unknown';

export interface RegionRouterOptions {
  healthCheckIntervalMs: number;
  healthCheckTimeoutMs: number;
  /** Consecutive live errors that open the circuit. */
  failureThreshold: number;
}

interface Health {
  state: RegionState;
  latencyMs: number | null;
  lastCheckedAt: Date | null;
  lastSuccessAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  consecutiveFailures: number;
}

/** Errors that say "this region is not answering properly" (as opposed to "no such object" or a bad request). */
export function isRegionOutage(err: unknown): boolean {
  return err instanceof StorageUnavailableError || err instanceof TimeoutError;
}

function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 500);
}

export type RegionStateListener = (region: StorageRegion, state: RegionState, previous: RegionState) => void;

/**
 * Knows the regions and how each is doing, and decides where requests go.
 *
 * Health per region is a circuit breaker fed from two sides: a periodic health check (every
 * `healthCheckIntervalMs`, bounded by `healthCheckTimeoutMs`) opens the circuit when it fails and is the
 * only thing that closes it again; live calls made through `call()` open it after `failureThreshold`
 * consecutive outage errors. A region whose circuit is open is `down`: it gets no writes and is read
 * only when no other region is usable.
 */
export class RegionRouter {
  private readonly logger = new Logger('Regions');
  private readonly health = new Map<string, Health>();
  private readonly listeners: RegionStateListener[] = [];
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;

  constructor(
    readonly regions: readonly StorageRegion[],
    private readonly options: RegionRouterOptions,
  ) {
    if (!regions.length) throw new Error('RegionRouter: at least one region is required');
    if (regions.filter((r) => r.primary).length !== 1) throw new Error('RegionRouter: exactly one region must be primary');
    if (new Set(regions.map((r) => r.name)).size !== regions.length) throw new Error('RegionRouter: region names must be unique');
    for (const r of regions) {
      this.health.set(r.name, {
        state: 'unknown',
        latencyMs: null,
        lastCheckedAt: null,
        lastSuccessAt: null,
        lastError: null,
        lastErrorAt: null,
        consecutiveFailures: 0,
      });
    }
  }

  get primary(): StorageRegion {
    return this.regions.find((r) => r.primary)!;
  }

  /** Bound on one region health check. */
  get healthCheckTimeoutMs(): number {
    return this.options.healthCheckTimeoutMs;
  }

  get multiRegion(): boolean {
    return this.regions.length > 1;
  }

  /** The one region when only one is configured; null with several. */
  get onlyRegion(): StorageRegion | null {
    return this.multiRegion ? null : this.primary;
  }

  region(name: string): StorageRegion | undefined {
    return this.regions.find((r) => r.name === name);
  }

  state(name: string): RegionState {
    return this.health.get(name)?.state ?? 'down';
  }

  isUsable(name: string): boolean {
    return this.state(name) !== 'down';
  }

  /** The primary first, then the others in configuration order. */
  preferenceOrder(): StorageRegion[] {
    return [this.primary, ...this.regions.filter((r) => !r.primary)];
  }

  /** Where new objects go: the primary while it is usable, else the next usable region; the primary when none is. */
  writeRegion(): StorageRegion {
    return this.preferenceOrder().find((r) => this.isUsable(r.name)) ?? this.primary;
  }

  /** Usable regions in preference order; when none is usable, every region (a last resort: states may be stale). */
  readCandidates(): { usable: StorageRegion[]; skipped: StorageRegion[] } {
    const order = this.preferenceOrder();
    const usable = order.filter((r) => this.isUsable(r.name));
    return usable.length ? { usable, skipped: order.filter((r) => !this.isUsable(r.name)) } : { usable: order, skipped: [] };
  }

  onStateChange(listener: RegionStateListener): void {
    this.listeners.push(listener);
  }

  /** Runs `op` against one region, feeding the outcome to its circuit breaker. */
  async call<T>(region: StorageRegion, op: (driver: StorageDriver) => Promise<T>, timeoutMs?: number): Promise<T> {
    try {
      const result = await (timeoutMs ? withTimeout(op(region.driver), timeoutMs, `storage region ${region.name}`) : op(region.driver));
      this.health.get(region.name)!.consecutiveFailures = 0;
      return result;
    } catch (err) {
      if (isRegionOutage(err)) this.recordLiveFailure(region, err);
      throw err;
    }
  }

  recordLiveFailure(region: StorageRegion, err: unknown): void {
    const h = this.health.get(region.name)!;
    h.consecutiveFailures++;
    h.lastError = describe(err);
    h.lastErrorAt = new Date();
    if (h.state !== 'down' && h.consecutiveFailures >= this.options.failureThreshold) {
      this.transition(region, 'down', `${h.consecutiveFailures} consecutive errors, last: ${h.lastError}`);
    }
  }

  /** Health-checks one region now (bounded by the timeout) and updates its state. */
  async checkRegion(region: StorageRegion): Promise<void> {
    const h = this.health.get(region.name)!;
    const started = process.hrtime.bigint();
    try {
      await withTimeout(region.driver.checkHealth(), this.options.healthCheckTimeoutMs, `health check of region ${region.name}`);
      h.latencyMs = Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
      h.lastCheckedAt = h.lastSuccessAt = new Date();
      h.consecutiveFailures = 0;
      if (h.state !== 'up') this.transition(region, 'up', `health check passed in ${h.latencyMs} ms`);
    } catch (err) {
      h.lastCheckedAt = h.lastErrorAt = new Date();
      h.lastError = describe(err);
      h.consecutiveFailures++;
      if (h.state !== 'down') this.transition(region, 'down', `health check failed: ${h.lastError}`);
    }
  }

  /** Checks every region concurrently; a second call while one runs joins it. */
  checkAll(): Promise<void> {
    this.checking ??= Promise.all(this.regions.map((r) => this.checkRegion(r)))
      .then(() => undefined)
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.checkAll(), this.options.healthCheckIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  /** Every region's state, in preference order (what GET /health/regions reports). */
  status(): RegionStatusDto[] {
    return this.preferenceOrder().map((r) => {
      const h = this.health.get(r.name)!;
      return {
        name: r.name,
        kind: r.driver.kind,
        bucket: r.driver.bucket,
        primary: r.primary,
        state: h.state,
        circuit: h.state === 'down' ? 'open' : 'closed',
        latencyMs: h.latencyMs,
        lastCheckedAt: h.lastCheckedAt?.toISOString() ?? null,
        lastSuccessAt: h.lastSuccessAt?.toISOString() ?? null,
        lastError: h.lastError,
        lastErrorAt: h.lastErrorAt?.toISOString() ?? null,
        consecutiveFailures: h.consecutiveFailures,
      };
    });
  }

  private transition(region: StorageRegion, state: RegionState, why: string): void {
    const h = this.health.get(region.name)!;
    const previous = h.state;
    h.state = state;
    if (state === 'down')
      this.logger.warn({ region: region.name, primary: region.primary }, `Storage region "${region.name}" is down: ${why}`);
    else if (previous === 'down') this.logger.log({ region: region.name }, `Storage region "${region.name}" is back up: ${why}`);
    for (const l of this.listeners) {
      try {
        l(region, state, previous);
      } catch (e) {
        this.logger.error(`region state listener failed: ${describe(e)}`);
      }
    }
  }
}
