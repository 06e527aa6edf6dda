import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig, withTimeout } from '@app/core';
import type { Queue } from 'bull';
import { LIFECYCLE_JOB_NAMES, LIFECYCLE_QUEUE, LIFECYCLE_REDIS_TIMEOUT_MS, scheduledJobOptions, scheduleOf } from './lifecycle.constants';
import { LifecycleRunner } from './lifecycle-runner.service';

/**
 * Registers each lifecycle job as a Bull repeatable job on its configured cron schedule (worker processes only)
 * and runs the ticks. Every replica registers the same repeatable keys, so each tick runs once across replicas;
 * a schedule that changed (or was switched `off`) replaces/removes the old one. Ticks only call the runner, which
 * holds the per-job lock (see LifecycleRunner).
 */
@Injectable()
export class LifecycleSchedule implements OnApplicationBootstrap {
  private readonly logger = new Logger('Lifecycle');

  constructor(
    private readonly runner: LifecycleRunner,
    @InjectQueue(LIFECYCLE_QUEUE) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    for (const name of LIFECYCLE_JOB_NAMES) void this.queue.process(name, 1, () => this.runner.runScheduled(name));
    // Not awaited: a Redis outage at start-up must not hold the service back.
    void this.schedule().catch((e) => this.logger.warn(`could not schedule the lifecycle jobs: ${e instanceof Error ? e.message : e}`));
  }

  private async schedule(): Promise<void> {
    const repeatables = await withTimeout(this.queue.getRepeatableJobs(), LIFECYCLE_REDIS_TIMEOUT_MS, 'list lifecycle schedules');
    for (const name of LIFECYCLE_JOB_NAMES) {
      const cron = scheduleOf(this.config, name);
      for (const r of repeatables) {
        if (r.name === name && r.cron !== cron) await withTimeout(this.queue.removeRepeatableByKey(r.key), LIFECYCLE_REDIS_TIMEOUT_MS, 'remove a lifecycle schedule');
      }
      if (cron) await withTimeout(this.queue.add(name, {}, scheduledJobOptions(name, cron)), LIFECYCLE_REDIS_TIMEOUT_MS, 'schedule a lifecycle job');
    }
    this.logger.log(`Lifecycle schedules (UTC): ${LIFECYCLE_JOB_NAMES.map((n) => `${n} ${scheduleOf(this.config, n) ?? 'off'}`).join('; ')}`);
  }
}
