import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ensureRepeatableJob, PROCESSING_CONFIG, ProcessingConfig, registerWorker } from '@app/core';
import { reconcileSchedule } from '@app/processing';
import type { Job, Queue } from 'bull';
import { ASSEMBLE_JOB, AssembleJobData, MULTIPART_QUEUE, SWEEP_COMPLETING_JOB } from './multipart-assembly.constants';
import { MultipartUploadService } from './multipart-upload.service';

/**
 * The worker half of multipart completion (worker processes only): runs assembly jobs, and every
 * RECONCILE_INTERVAL_MS sweeps sessions left `completing` for longer than RECONCILE_PENDING_AFTER_MS without a job
 * (a crash is otherwise resumed by Bull itself: a job whose worker died is stalled and run again).
 */
@Injectable()
export class MultipartAssemblyProcessor implements OnApplicationBootstrap {
  private readonly logger = new Logger('MultipartAssembly');

  constructor(
    private readonly multipart: MultipartUploadService,
    @InjectQueue(MULTIPART_QUEUE) private readonly queue: Queue<AssembleJobData>,
    @Inject(PROCESSING_CONFIG) private readonly processing: ProcessingConfig,
  ) {}

  onApplicationBootstrap() {
    registerWorker<AssembleJobData>(this.queue, {
      job: ASSEMBLE_JOB,
      concurrency: 4,
      handler: async (job: Job<AssembleJobData>) => ({
        outcome: await this.multipart.assemble(job.data, job.attemptsMade + 1 >= (job.opts.attempts ?? 1)),
      }),
    });
    registerWorker(this.queue as Queue, {
      job: SWEEP_COMPLETING_JOB,
      concurrency: 1,
      quiet: true,
      handler: async () => ({ requeued: await this.multipart.sweepCompleting(this.processing.RECONCILE_PENDING_AFTER_MS) }),
    });
    void ensureRepeatableJob(this.queue as Queue, SWEEP_COMPLETING_JOB, reconcileSchedule(this.processing)).catch((e: Error) =>
      this.logger.warn(`could not schedule the sweep of completing multipart uploads: ${e.message}`),
    );
  }
}
