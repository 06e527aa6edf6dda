import { Injectable } from '@nestjs/common';
import { Errors } from '@app/core';
import { AssetStateService, AssetStatus } from '@app/assets';
import { DeadLetterView } from './processing-admin.dto';
import { PROCESSING_QUEUE } from './processing.constants';
import { ProcessingService } from './processing.service';

/** Operators' view of processing: dead letters and their retry. */
@Injectable()
export class ProcessingAdminService {
  constructor(
    private readonly processing: ProcessingService,
    private readonly assets: AssetStateService,
  ) {}

  async deadLetters(offset = 0, limit = 50): Promise<{ items: DeadLetterView[]; total: number }> {
    const { jobs, total } = await this.processing.deadLetters(offset, limit);
    const items: DeadLetterView[] = [];
    for (const j of jobs) {
      const asset = await this.assets.findForProcessing(j.data.assetId);
      items.push({
        id: String(j.id),
        queue: PROCESSING_QUEUE,
        job: j.name,
        assetId: j.data.assetId,
        assetStatus: asset?.status ?? null,
        attemptsMade: j.attemptsMade,
        maxAttempts: j.opts.attempts ?? 1,
        failedReason: j.failedReason ?? null,
        failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null,
        createdAt: new Date(j.timestamp).toISOString(),
      });
    }
    return { items, total };
  }

  /**
   * Requeues a dead letter with a fresh set of attempts: the asset goes back to `processing` and the work request
   * is written in the same transaction (the outbox relay replaces the failed job).
   */
  async retry(id: string): Promise<{ id: string; assetId: string; status: AssetStatus }> {
    const job = await this.processing.getJob(id);
    if (!job || !(await job.isFailed())) throw Errors.notFound(`No dead letter has id ${id}`);
    const asset = await this.assets.findForProcessing(job.data.assetId);
    if (!asset || asset.status === AssetStatus.Deleted) throw Errors.assetNotFound(job.data.assetId);
    if (asset.status === AssetStatus.Processing) {
      // The job died without the asset being marked (a crash at the wrong moment): enqueue it again.
      await this.processing.enqueue(ProcessingService.jobData(asset));
    } else {
      await this.assets.reopenFailed(asset.assetId, (m, a) => this.processing.request(m, a));
    }
    return { id, assetId: asset.assetId, status: AssetStatus.Processing };
  }
}
