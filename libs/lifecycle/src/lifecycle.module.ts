import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { AssetsModule } from '@app/assets';
import { JobRunsRepository } from './job-runs.repository';
import { ExpirePendingJob } from './jobs/expire-pending.job';
import { IntegrityScanJob } from './jobs/integrity-scan.job';
import { ReconcileJob } from './jobs/reconcile.job';
import { TieringJob } from './jobs/tiering.job';
import { LIFECYCLE_QUEUE } from './lifecycle.constants';
import { ClockController, LifecycleController } from './lifecycle.controller';
import { LifecycleEvents } from './lifecycle.events';
import { LifecycleRunner } from './lifecycle-runner.service';
import { LifecycleSchedule } from './lifecycle.schedule';

const queue = BullModule.registerQueue({ name: LIFECYCLE_QUEUE });

/**
 * Scheduled lifecycle jobs (expire-pending, reconcile, integrity-scan, tiering) on the `lifecycle` Bull queue,
 * their admin routes, and the clock route. The schedule (Bull repeatable jobs and their processor) runs in
 * worker processes only; manual runs work on every replica.
 */
@Module({
  imports: [queue, AssetsModule],
  controllers: [LifecycleController, ClockController],
  providers: [JobRunsRepository, LifecycleEvents, LifecycleRunner, ExpirePendingJob, ReconcileJob, IntegrityScanJob, TieringJob],
  exports: [LifecycleEvents, LifecycleRunner],
})
export class LifecycleModule {
  static forRoot(opts: { worker: boolean }): DynamicModule {
    return { module: LifecycleModule, global: true, providers: opts.worker ? [LifecycleSchedule] : [] };
  }
}
