import { Injectable } from '@nestjs/common';
import { MetricsService } from '@app/core';
import type { Counter, Histogram } from 'prom-client';
import type { RenderLimiter } from './render-limiter';

export const RENDER_OUTCOMES = ['ok', 'failed', 'too_large', 'busy', 'timeout', 'rate_limited'] as const;
export type RenderOutcome = (typeof RENDER_OUTCOMES)[number];

/** /metrics series of the renderer: renders (by outcome), cache hits, queue waits, render time, queue depth. */
@Injectable()
export class TransformMetrics {
  private readonly renders: Counter<'outcome'>;
  private readonly hits: Counter<'result'>;
  private readonly queueWait: Histogram<string>;
  private readonly renderTime: Histogram<'format' | 'source'>;

  constructor(private readonly metrics: MetricsService) {
    this.renders = metrics.counter({
      name: 'media_renders_total',
      help: 'Renditions this process tried to render (not cached yet), by outcome',
      labelNames: ['outcome'],
    });
    for (const o of RENDER_OUTCOMES) this.renders.inc({ outcome: o }, 0);
    this.hits = metrics.counter({
      name: 'media_render_cache_total',
      help: 'Render requests by how they were answered: hit (rendition already stored), coalesced (joined a render in flight in this process), miss (not stored yet when asked), replica (after a miss, another replica rendered it while this one waited)',
      labelNames: ['result'],
    });
    for (const r of ['hit', 'coalesced', 'miss', 'replica']) this.hits.inc({ result: r }, 0);
    this.queueWait = metrics.histogram({
      name: 'media_render_queue_wait_seconds',
      help: 'Time a render waited for a slot (TRANSFORM_CONCURRENCY)',
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.renderTime = metrics.histogram({
      name: 'media_render_duration_seconds',
      help: 'Time of one render: source read, decode, resize, encode and store',
      labelNames: ['format', 'source'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
  }

  /** The queue gauge reads the limiter at scrape time. */
  watch(limiter: RenderLimiter): void {
    this.metrics.gauge({
      name: 'media_render_queue',
      help: 'Renders running and waiting for a slot in this process',
      labelNames: ['state'],
      collect() {
        this.set({ state: 'active' }, limiter.active);
        this.set({ state: 'waiting' }, limiter.waiting);
      },
    });
  }

  cache(result: 'hit' | 'coalesced' | 'miss' | 'replica'): void {
    this.hits.inc({ result });
  }

  render(outcome: RenderOutcome): void {
    this.renders.inc({ outcome });
  }

  waited(ms: number): void {
    this.queueWait.observe(ms / 1000);
  }

  rendered(format: string, source: 'image' | 'video', ms: number): void {
    this.renderTime.observe({ format, source }, ms / 1000);
  }
}
