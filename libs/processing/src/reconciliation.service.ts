import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppError, ensureRepeatableJob, ErrorCode, PROCESSING_CONFIG, ProcessingConfig, registerWorker } from '@app/core';
import { AssetStateService, MediaAsset } from '@app/assets';
import type { Queue } from 'bull';
import { deadLetterReason } from './dead-letter-reason';
import { ReconcileReportDto } from './processing-admin.dto';
import { PROCESSING_QUEUE, RECONCILE_JOB, reconcileSchedule } from './processing.constants';
import { ProcessingService } from './processing.service';

const BATCH = 200;
const PARALLEL = 8;

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/**
 * The reconciliation sweep. (1) A client that uploaded but never called complete: a `pending` asset whose object
 * is in storage is processed. (2) A lost job (Redis lost data, a worker died at the wrong moment): a `processing`
 * asset whose job is nowhere is enqueued again; one whose job used every attempt is marked failed.
 * Runs as a Bull repeatable job (one tick across replicas) and on demand (POST /admin/reconcile); idempotent.
 */
@Injectable()
export class ReconciliationService {
  private readonly logger = new Logger('Reconciliation');

  constructor(
    private readonly assets: AssetStateService,
    private readonly processing: ProcessingService,
    @Inject(PROCESSING_CONFIG) private readonly settings: ProcessingConfig,
  ) {}

  async sweep(): Promise<ReconcileReportDto> {
    const report: ReconcileReportDto = { pendingChecked: 0, pendingStarted: 0, processingChecked: 0, requeued: 0, deadLettered: 0 };

    const pending = await this.assets.findPendingForReconcile(this.settings.RECONCILE_PENDING_AFTER_MS, BATCH);
    report.pendingChecked = pending.length;
    await forEachLimited(pending, PARALLEL, async (a) => {
      try {
        const before = a.status;
        const status = await this.assets.beginProcessing(a.assetId, (m, x) => this.processing.request(m, x));
        if (status !== before) report.pendingStarted++;
      } catch (e) {
        if (e instanceof AppError && (e.code === ErrorCode.ObjectNotUploaded || e.code === ErrorCode.AssetNotFound)) return;
        this.logger.warn(`reconcile: could not start ${a.assetId}: ${(e as Error).message}`);
      }
    });

    const stuck = await this.assets.findStuckProcessing(this.settings.RECONCILE_PROCESSING_AFTER_MS, BATCH);
    report.processingChecked = stuck.length;
    await forEachLimited(stuck, PARALLEL, async (a: MediaAsset) => {
      const { state, job } = await this.processing.jobState(a);
      if (state === 'missing' || state === 'stalled-out') {
        await this.processing.enqueue(ProcessingService.jobData(a));
        report.requeued++;
      } else if (state === 'dead') {
        const changed = await this.assets.failProcessing(a.assetId, deadLetterReason(job?.attemptsMade ?? 0, job?.failedReason), {
          object: 'keep',
        });
        if (changed) report.deadLettered++;
      }
    });
    if (report.pendingStarted || report.requeued || report.deadLettered)
      this.logger.log({ ...report }, 'reconciliation sweep changed something');
    return report;
  }
}

/** Registers the sweep as a Bull repeatable job and runs it (worker processes only). */
@Injectable()
export class ReconciliationSchedule implements OnApplicationBootstrap {
  private readonly logger = new Logger('Reconciliation');

  constructor(
    private readonly reconciliation: ReconciliationService,
    @InjectQueue(PROCESSING_QUEUE) private readonly queue: Queue,
    @Inject(PROCESSING_CONFIG) private readonly processing: ProcessingConfig,
  ) {}

  onApplicationBootstrap() {
    registerWorker(this.queue, { job: RECONCILE_JOB, concurrency: 1, handler: () => this.reconciliation.sweep(), quiet: true });
    // Not awaited: a Redis outage at start-up must not hold the service back; Bull connects when it can.
    void ensureRepeatableJob(this.queue, RECONCILE_JOB, reconcileSchedule(this.processing)).catch((e: Error) =>
      this.logger.warn(`could not schedule the reconciliation sweep: ${e.message}`),
    );
  }
}
