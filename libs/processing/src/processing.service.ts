import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig, OutboxService } from '@app/core';
import type { MediaAsset } from '@app/assets';
import type { Queue } from 'bull';
import { EntityManager } from 'typeorm';
import { ASSET_PROCESS_TOPIC, PROCESS_ASSET_JOB, PROCESSING_QUEUE, ProcessAssetJobData, processAssetJobId } from './processing.constants';

/**
 * Requests processing through the outbox: `request` runs inside the transaction that moves the asset to
 * `processing`; the relay then adds the Bull job, keyed by asset id and checksum so repeats are one job.
 */
@Injectable()
export class ProcessingService implements OnModuleInit {
  constructor(
    @InjectQueue(PROCESSING_QUEUE) private readonly queue: Queue<ProcessAssetJobData>,
    private readonly outbox: OutboxService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit() {
    this.outbox.register(ASSET_PROCESS_TOPIC, (data: ProcessAssetJobData) => this.enqueue(data));
  }

  async request(m: EntityManager, asset: MediaAsset): Promise<void> {
    const data: ProcessAssetJobData = { assetId: asset.assetId, checksum: asset.declaredChecksumSha256 ?? '' };
    await this.outbox.append(m, ASSET_PROCESS_TOPIC, data as unknown as Record<string, unknown>);
  }

  async enqueue(data: ProcessAssetJobData): Promise<void> {
    await this.queue.add(PROCESS_ASSET_JOB, data, {
      jobId: processAssetJobId(data),
      attempts: this.config.PROCESSING_ATTEMPTS,
      backoff: { type: 'exponential', delay: this.config.PROCESSING_BACKOFF_MS },
      timeout: this.config.PROCESSING_TIMEOUT_MS,
      removeOnComplete: true,
      removeOnFail: false,
    });
  }
}
