import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '@app/core';
import { RegionRouter } from './region-router';

/** Storage region health from the RegionRouter's circuit breakers (no I/O at scrape time: the router's last check). */
@Injectable()
export class RegionMetrics implements OnModuleInit {
  constructor(
    private readonly router: RegionRouter,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const router = this.router;
    this.metrics.gauge({
      name: 'media_storage_region_up',
      help: 'Storage region usable (1) or down with its circuit open (0); a region not yet checked counts as usable',
      labelNames: ['region', 'kind', 'primary'],
      collect() {
        this.reset();
        for (const r of router.status()) this.set({ region: r.name, kind: r.kind, primary: String(r.primary) }, r.state === 'down' ? 0 : 1);
      },
    });
    this.metrics.gauge({
      name: 'media_storage_region_health_check_seconds',
      help: 'Round trip of the last successful health check of each storage region',
      labelNames: ['region'],
      collect() {
        this.reset();
        for (const r of router.status()) if (r.latencyMs !== null) this.set({ region: r.name }, r.latencyMs / 1000);
      },
    });
    this.metrics.gauge({
      name: 'media_storage_region_consecutive_failures',
      help: 'Live errors and failed health checks of each storage region since its last success',
      labelNames: ['region'],
      collect() {
        this.reset();
        for (const r of router.status()) this.set({ region: r.name }, r.consecutiveFailures);
      },
    });
  }
}
