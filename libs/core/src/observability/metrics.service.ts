import { Inject, Injectable } from '@nestjs/common';
import {
  collectDefaultMetrics,
  Counter,
  CounterConfiguration,
  Gauge,
  GaugeConfiguration,
  Histogram,
  HistogramConfiguration,
  Registry,
} from 'prom-client';
import { OBSERVABILITY_CONFIG, ObservabilityConfig } from '../config/config-sections';

/** Final outcome of an upload's processing (media_uploads_total{outcome}). */
export const UPLOAD_OUTCOMES = ['ready', 'failed', 'quarantined', 'dead_lettered'] as const;
export type UploadOutcome = (typeof UPLOAD_OUTCOMES)[number];
/** What became of one run of a Bull job (media_jobs_total{outcome}). */
export type JobOutcome = 'completed' | 'retried' | 'dead_lettered';

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const JOB_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

/**
 * The process's Prometheus registry (prom-client) and the service's own metrics. One registry per app
 * instance (not prom-client's global one), so several apps in one process (tests) do not collide.
 *
 * Other modules register their metrics here with `counter` / `gauge` / `histogram` (get-or-create by name, so
 * a module may ask twice). Gauges that read a value at scrape time pass `collect`; a collect that does I/O must
 * bound it (see `collectTimeoutMs`) and call `collectFailed(collector)` when it gives up.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  /** Bound on each scrape-time collect that does I/O (queue depths, stored bytes). */
  readonly collectTimeoutMs: number;

  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code' | 'status_class'>;
  private readonly uploads: Counter<'outcome'>;
  private readonly jobs: Counter<'queue' | 'job' | 'outcome'>;
  private readonly jobDuration: Histogram<'queue' | 'job' | 'outcome'>;
  private readonly corrupt: Counter;
  private readonly collectErrors: Counter<'collector'>;

  constructor(@Inject(OBSERVABILITY_CONFIG) observability: Pick<ObservabilityConfig, 'METRICS_COLLECT_TIMEOUT_MS'>) {
    this.collectTimeoutMs = observability.METRICS_COLLECT_TIMEOUT_MS;
    // RSS, heap, CPU, event loop lag, GC pauses, open handles (process_* and nodejs_* series).
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = this.histogram({
      name: 'media_http_request_duration_seconds',
      help: 'HTTP request latency by route template (unmatched requests share route="unmatched"), method and status',
      labelNames: ['method', 'route', 'status_code', 'status_class'],
      buckets: HTTP_BUCKETS,
    });
    this.uploads = this.counter({
      name: 'media_uploads_total',
      help: 'Uploads that finished processing, by outcome: ready, failed (bytes rejected), quarantined (virus), dead_lettered (out of attempts)',
      labelNames: ['outcome'],
    });
    this.jobs = this.counter({
      name: 'media_jobs_total',
      help: 'Bull job runs in this process by queue, job name and outcome: completed, retried (failed, will run again), dead_lettered (failed for good)',
      labelNames: ['queue', 'job', 'outcome'],
    });
    this.jobDuration = this.histogram({
      name: 'media_job_duration_seconds',
      help: 'Time a Bull job run took in this process (processing start to finish), by queue, job name and outcome (completed or failed)',
      labelNames: ['queue', 'job', 'outcome'],
      buckets: JOB_BUCKETS,
    });
    this.corrupt = this.counter({
      name: 'media_integrity_corrupt_objects_total',
      help: 'Stored objects an integrity check found corrupt (bytes no longer match their SHA-256) or missing',
    });
    // Every outcome is exported from the start (at 0), so rates and alerts have a series before the first event.
    for (const outcome of UPLOAD_OUTCOMES) this.uploads.inc({ outcome }, 0);
    this.collectErrors = this.counter({
      name: 'media_metrics_collect_errors_total',
      help: 'Scrape-time collections that failed or timed out (their series are left out of that scrape; counted from the next one)',
      labelNames: ['collector'],
    });
  }

  counter<T extends string>(conf: CounterConfiguration<T>): Counter<T> {
    return (this.registry.getSingleMetric(conf.name) as Counter<T> | undefined) ?? new Counter({ ...conf, registers: [this.registry] });
  }

  gauge<T extends string>(conf: GaugeConfiguration<T>): Gauge<T> {
    return (this.registry.getSingleMetric(conf.name) as Gauge<T> | undefined) ?? new Gauge({ ...conf, registers: [this.registry] });
  }

  histogram<T extends string>(conf: HistogramConfiguration<T>): Histogram<T> {
    return (this.registry.getSingleMetric(conf.name) as Histogram<T> | undefined) ?? new Histogram({ ...conf, registers: [this.registry] });
  }

  /** One HTTP request. `route` must be a route template (or "unmatched"), never a raw URL. */
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe(
      { method, route, status_code: String(statusCode), status_class: `${Math.floor(statusCode / 100)}xx` },
      seconds,
    );
  }

  /** An upload's processing finished with `outcome` (counted once per asset transition). */
  recordUpload(outcome: UploadOutcome): void {
    this.uploads.inc({ outcome });
  }

  /** One run of a Bull job; `seconds` when known (from the job's processedOn/finishedOn). */
  recordJob(queue: string, job: string, outcome: JobOutcome, seconds?: number): void {
    this.jobs.inc({ queue, job, outcome });
    if (seconds !== undefined && seconds >= 0)
      this.jobDuration.observe({ queue, job, outcome: outcome === 'completed' ? 'completed' : 'failed' }, seconds);
  }

  /**
   * An integrity check found stored objects whose bytes no longer match their checksum, or that are missing.
   * For the lifecycle integrity scan: call once per corrupt object found (or once with `count` for a batch).
   * Increments media_integrity_corrupt_objects_total (exported from start at 0, so `increase(...) > 0` alerts work).
   */
  recordCorrupt(count = 1): void {
    this.corrupt.inc(count);
  }

  /** A scrape-time collect gave up (timeout or error). */
  collectFailed(collector: string): void {
    this.collectErrors.inc({ collector });
  }

  /** The Prometheus text exposition of every registered metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
