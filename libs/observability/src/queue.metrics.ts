import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { MetricsService, withTimeout } from '@app/core';
import type { Job } from 'bull';
import { QUEUE_STATES } from './observability.constants';
import { QueueRegistry } from './queue-registry';

/**
 * Queue depths (read from Redis at scrape time, bounded by METRICS_COLLECT_TIMEOUT_MS; nothing is polled between
 * scrapes) and, from Bull's local events, the outcome and duration of every job run in this process.
 */
@Injectable()
export class QueueMetrics implements OnModuleInit {
  private readonly logger = new Logger('QueueMetrics');

  constructor(
    private readonly registry: QueueRegistry,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const queues = this.registry.queues();
    const metrics = this.metrics;
    const logger = this.logger;
    this.metrics.gauge({
      name: 'media_queue_jobs',
      help: 'Jobs in each Bull queue by state (waiting, active, delayed, failed), read from Redis at scrape time',
      labelNames: ['queue', 'state'],
      async collect() {
        this.reset();
        await Promise.all(
          queues.map(async (q) => {
            try {
              const counts = await withTimeout(q.getJobCounts(), metrics.collectTimeoutMs, `job counts of queue ${q.name}`);
              for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
            } catch (e) {
              metrics.collectFailed('queue_jobs');
              logger.debug(`queue depth of ${q.name} not collected: ${e instanceof Error ? e.message : String(e)}`);
            }
          }),
        );
      },
    });

    for (const q of queues) {
      q.on('completed', (job: Job) => this.metrics.recordJob(q.name, job.name, 'completed', runSeconds(job)));
      q.on('failed', (job: Job) => {
        const final = job.attemptsMade >= (job.opts.attempts ?? 1);
        this.metrics.recordJob(q.name, job.name, final ? 'dead_lettered' : 'retried', runSeconds(job));
      });
    }
  }
}

/** processedOn → finishedOn (or now, for a failed run that will be retried: Bull sets finishedOn only at the end). */
function runSeconds(job: Job): number | undefined {
  if (!job.processedOn) return undefined;
  return ((job.finishedOn || Date.now()) - job.processedOn) / 1000;
}
