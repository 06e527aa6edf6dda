import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ensureRepeatableJob, LIFECYCLE_CONFIG, LifecycleConfig, registerWorker } from '@app/core';
import type { Queue } from 'bull';
import { LIFECYCLE_JOB_NAMES, LIFECYCLE_QUEUE, SCHEDULED_TICK_OPTIONS, scheduleOf } from './lifecycle.constants';
import { LifecycleRunner } from './lifecycle-runner.service';

/**
 * Registers each lifecycle job as a Bull repeatable job on its configured cron schedule (worker processes only)
 * and runs the ticks. Every replica registers the same repeatable keys, so each tick runs once across replicas;
 * a schedule that changed (or was switched `off`) replaces/removes the old one. Ticks only call the runner, which
 * holds the per-job lock and logs the run (see LifecycleRunner).
 */
@Injectable()
export class LifecycleSchedule implements OnApplicationBootstrap {
  private readonly logger = new Logger('Lifecycle');

  constructor(
    private readonly runner: LifecycleRunner,
    @InjectQueue(LIFECYCLE_QUEUE) private readonly queue: Queue,
    @Inject(LIFECYCLE_CONFIG) private readonly lifecycle: LifecycleConfig,
  ) {}

  onApplicationBootstrap(): void {
    for (const name of LIFECYCLE_JOB_NAMES) {
      // quiet: the runner writes the line that says how a run went.
      registerWorker(this.queue, { job: name, concurrency: 1, handler: () => this.runner.runScheduled(name), quiet: true });
    }
    // Not awaited: a Redis outage at start-up must not hold the service back.
    void this.schedule().catch((e) => this.logger.warn(`could not schedule the lifecycle jobs: ${e instanceof Error ? e.message : e}`));
  }

  private async schedule(): Promise<void> {
    for (const name of LIFECYCLE_JOB_NAMES) {
      const cron = scheduleOf(this.lifecycle, name);
      await ensureRepeatableJob(this.queue, name, cron ? { cron } : null, SCHEDULED_TICK_OPTIONS);
    }
    const summary = LIFECYCLE_JOB_NAMES.map((n) => `${n} ${scheduleOf(this.lifecycle, n) ?? 'off'}`).join('; ');
    this.logger.log(`Lifecycle schedules (UTC): ${summary}`);
  }
}
