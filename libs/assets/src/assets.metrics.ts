import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService, withTimeout } from '@app/core';
import { AssetsRepository } from './assets.repository';

/** Stored totals are read from the database at most this often (scrapes in between reuse them). */
export const STORED_TOTALS_TTL_MS = 5000;

type Totals = { objects: number; bytes: number };

/**
 * media_stored_bytes / media_stored_objects from stored_objects (deduplicated bytes in the store). Read at scrape
 * time with one aggregate query, bounded by METRICS_COLLECT_TIMEOUT_MS and cached for STORED_TOTALS_TTL_MS so
 * that several scrapers (or a fast one) cost at most one query per interval.
 */
@Injectable()
export class AssetsMetrics implements OnModuleInit {
  private cached?: { at: number; totals: Promise<Totals> };

  constructor(
    private readonly repo: AssetsRepository,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const totals = () => this.totals();
    const failed = () => this.metrics.collectFailed('stored_totals');
    this.metrics.gauge({
      name: 'media_stored_bytes',
      help: `Bytes held in object storage (stored objects, deduplicated); read at most every ${STORED_TOTALS_TTL_MS / 1000} s`,
      // On a failed read the last value stays (and media_metrics_collect_errors_total counts it).
      async collect() {
        try {
          this.set((await totals()).bytes);
        } catch {
          failed();
        }
      },
    });
    this.metrics.gauge({
      name: 'media_stored_objects',
      help: 'Stored objects (distinct contents, each counted once however many assets share it)',
      async collect() {
        // The same cached read as media_stored_bytes (a failure is counted there).
        const t = await totals().catch(() => undefined);
        if (t) this.set(t.objects);
      },
    });
  }

  private totals(): Promise<Totals> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > STORED_TOTALS_TTL_MS) {
      const totals = withTimeout(this.repo.storedTotals(), this.metrics.collectTimeoutMs, 'stored totals for metrics');
      this.cached = { at: now, totals };
      // A failed read is not kept: the next scrape tries again.
      totals.catch(() => {
        if (this.cached?.totals === totals) this.cached = undefined;
      });
    }
    return this.cached.totals;
  }
}
