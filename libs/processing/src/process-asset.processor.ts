import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/core';
import { AssetsService, AssetStatus } from '@app/assets';
import { STORAGE_DRIVER, StorageDriver } from '@app/storage';
import type { Job, Queue } from 'bull';
import { detectMimeType, extractImageMetadata, scanStream } from './asset-inspector';
import { judgeContent } from './content-policy';
import { PROCESS_ASSET_JOB, PROCESSING_QUEUE, ProcessAssetJobData } from './processing.constants';

/**
 * Streams the stored object once: SHA-256, magic-byte type, EXIF and dimensions; then ready or failed.
 * Idempotent: an asset that is no longer `processing` is left alone, and the final transition locks the row.
 * Infrastructure errors throw, so Bull retries with backoff; verdicts about the bytes do not.
 */
@Injectable()
export class ProcessAssetProcessor implements OnModuleInit {
  private readonly logger = new Logger('ProcessAsset');

  constructor(
    private readonly assets: AssetsService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectQueue(PROCESSING_QUEUE) private readonly queue: Queue<ProcessAssetJobData>,
  ) {}

  onModuleInit() {
    // Registered here rather than with @Process so the configured concurrency applies.
    void this.queue.process(PROCESS_ASSET_JOB, this.config.PROCESSING_CONCURRENCY, (job) => this.process(job));
    this.queue.on('failed', (job: Job<ProcessAssetJobData>, err: Error) => void this.onFailed(job, err));
  }

  async process(job: Job<ProcessAssetJobData>): Promise<{ outcome: string }> {
    const { assetId } = job.data;
    const asset = await this.assets.findForProcessing(assetId);
    if (!asset || asset.status !== AssetStatus.Processing) return { outcome: `skipped (${asset?.status ?? 'missing'})` };

    const info = await this.storage.head(asset.objectKey);
    if (!info) {
      await this.assets.failProcessing(assetId, 'the uploaded object is missing from storage');
      return { outcome: 'failed: missing object' };
    }
    const facts = await scanStream(await this.storage.read(asset.objectKey));
    const declaredSize = Number(asset.sizeBytes);
    if (facts.size !== declaredSize) {
      await this.assets.failProcessing(assetId, `size mismatch: declared ${declaredSize} bytes, stored ${facts.size}`);
      return { outcome: 'failed: size' };
    }
    if (asset.declaredChecksumSha256 && asset.declaredChecksumSha256 !== facts.sha256) {
      await this.assets.failProcessing(assetId, `checksum mismatch: declared ${asset.declaredChecksumSha256}, computed ${facts.sha256}`);
      return { outcome: 'failed: checksum' };
    }
    const detected = await detectMimeType(facts.head);
    const verdict = judgeContent(asset.mimeType, detected);
    if (!verdict.accepted) {
      await this.assets.failProcessing(assetId, `content rejected: ${verdict.reason}`, { detectedMimeType: detected });
      return { outcome: 'failed: content' };
    }
    const metadata: Record<string, string> = {};
    if (detected) metadata['media:detected_type'] = detected;
    if (verdict.mismatch) metadata['media:type_mismatch'] = `declared ${asset.mimeType}, detected ${detected}`;
    if ((detected ?? asset.mimeType).startsWith('image/')) Object.assign(metadata, await extractImageMetadata(facts.head));
    await this.assets.completeProcessing(assetId, { sha256: facts.sha256, size: facts.size, detectedMimeType: detected, metadata });
    return { outcome: 'ready' };
  }

  /** Out of attempts: the asset shows `failed` with the last error; the job stays in Bull's failed set. */
  async onFailed(job: Job<ProcessAssetJobData>, err: Error) {
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade < attempts) {
      this.logger.warn({ assetId: job.data.assetId, attempt: job.attemptsMade, err: err.message }, 'processing attempt failed; will retry');
      return;
    }
    this.logger.error({ assetId: job.data.assetId, err: err.message }, 'processing failed after all attempts');
    await this.assets
      .failProcessing(job.data.assetId, `processing failed after ${job.attemptsMade} attempts: ${err.message}`)
      .catch((e) => this.logger.error(`could not mark ${job.data.assetId} failed: ${e.message}`));
  }
}
