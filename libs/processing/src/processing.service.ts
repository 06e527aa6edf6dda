import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { OutboxService, PROCESSING_CONFIG, ProcessingConfig, withRequestId } from '@app/core';
import type { MediaAsset } from '@app/assets';
import type { Job, Queue } from 'bull';
import { EntityManager } from 'typeorm';
import {
  ASSET_PROCESS_TOPIC,
  PROCESS_ASSET_JOB,
  PROCESSING_QUEUE,
  ProcessAssetJobData,
  processAssetJobId,
  processAssetJobOptions,
} from './processing.constants';

/** What the reconciliation sweep found for one asset's job. */
export type JobState = 'queued' | 'missing' | 'dead' | 'stalled-out';

/**
 * Requests processing through the outbox: `request` runs inside the transaction that moves the asset to
 * `processing`; the relay then adds the Bull job, keyed by asset id and checksum so repeats are one job.
 */
@Injectable()
export class ProcessingService implements OnModuleInit {
  constructor(
    @InjectQueue(PROCESSING_QUEUE) private readonly queue: Queue<ProcessAssetJobData>,
    private readonly outbox: OutboxService,
    @Inject(PROCESSING_CONFIG) private readonly processing: ProcessingConfig,
  ) {}

  onModuleInit() {
    this.outbox.register(ASSET_PROCESS_TOPIC, (data: ProcessAssetJobData) => this.enqueue(data));
  }

  static jobData(asset: MediaAsset): ProcessAssetJobData {
    return { assetId: asset.assetId, checksum: asset.declaredChecksumSha256 ?? '' };
  }

  async request(m: EntityManager, asset: MediaAsset): Promise<void> {
    await this.outbox.append(m, ASSET_PROCESS_TOPIC, ProcessingService.jobData(asset) as unknown as Record<string, unknown>);
  }

  /**
   * Adds the job unless it is already waiting, delayed or running (same jobId: Bull keeps one). A job left in the
   * failed set (dead letter, or stalled out) would swallow the add, so it is removed first: the asset was moved
   * back to `processing` on purpose, by a retry or a sweep, and a fresh job with all its attempts is wanted.
   */
  async enqueue(data: ProcessAssetJobData): Promise<void> {
    const existing = await this.queue.getJob(processAssetJobId(data));
    if (existing && ((await existing.isFailed()) || (await existing.isCompleted()))) await existing.remove();
    await this.queue.add(PROCESS_ASSET_JOB, withRequestId(data), processAssetJobOptions(this.processing, data));
  }

  /** For the sweep: where the job of a `processing` asset is. */
  async jobState(asset: MediaAsset): Promise<{ state: JobState; job?: Job<ProcessAssetJobData> }> {
    const job = await this.queue.getJob(processAssetJobId(ProcessingService.jobData(asset)));
    if (!job) return { state: 'missing' };
    if (await job.isFailed()) {
      return { state: job.attemptsMade >= (job.opts.attempts ?? 1) ? 'dead' : 'stalled-out', job };
    }
    if (await job.isCompleted()) return { state: 'missing', job };
    return { state: 'queued', job };
  }

  /** Dead letters: process-asset jobs that used up their attempts (Bull's failed set), newest first. */
  async deadLetters(offset: number, limit: number): Promise<{ jobs: Job<ProcessAssetJobData>[]; total: number }> {
    const total = await this.queue.getFailedCount();
    const jobs = (await this.queue.getFailed(offset, offset + limit - 1)).filter((j) => j && j.name === PROCESS_ASSET_JOB);
    return { jobs, total };
  }

  getJob(id: string): Promise<Job<ProcessAssetJobData> | null> {
    return this.queue.getJob(id);
  }
}
