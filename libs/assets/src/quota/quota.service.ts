import { Inject, Injectable } from '@nestjs/common';
import { MetricsService, UPLOAD_CONFIG, UploadConfig } from '@app/core';
import { EntityManager } from 'typeorm';
import { checkQuota, effectiveLimits, QuotaOverride } from './quota-rules';
import { QuotaLimitsDto, QuotaViewDto } from './quota-view.dto';
import { BatchTiming, GroupCommit } from './group-commit';
import { WalFlush } from './wal-flush';
import { NewPendingAsset, PendingInsertOutcome, QuotaRepository } from './quota.repository';

/**
 * Up to 256 pending assets per statement, and two statements at once per process. Two batches of one owner
 * serialise on that owner's usage row until the first commits; the commit is asynchronous and the WAL flush that
 * makes it durable happens after the row is free (WalFlush, shared by the batches that commit meanwhile), so the
 * owner's next batch does not wait for the disk. Nobody is answered before that flush.
 */
const PENDING_BATCHES = { maxBatch: 256, maxInFlight: 2 };

const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const BATCH_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * Per-owner limits on bytes and asset count. Usage = processing/ready assets (a counter kept in the same
 * transaction as every status change, by a trigger) + pending uploads until they expire.
 */
@Injectable()
export class QuotaService {
  /** Pending assets written by group commit (one statement and one commit per batch; see GroupCommit). */
  private readonly batches: GroupCommit<NewPendingAsset, PendingInsertOutcome>;

  constructor(
    private readonly repo: QuotaRepository,
    @Inject(UPLOAD_CONFIG) private readonly upload: UploadConfig,
    metrics: MetricsService,
  ) {
    const flush = new WalFlush(() => this.repo.flushWal());
    this.batches = new GroupCommit(
      (assets) => this.repo.insertPendingBatch(assets, this.defaultLimits()),
      (asset) => this.repo.insertPendingWithQuota(asset, this.defaultLimits()),
      { ...PENDING_BATCHES, durable: () => flush.wait(), onBatch: batchMetrics(metrics) },
    );
  }

  /**
   * Creates the pending asset (with its metadata and grants) when one more asset of its size fits the owner's
   * quota, else throws 413/429 from checkQuota. One database round trip: the database function applies the same
   * comparison as checkQuota under the owner's lock (see migration 1764000008000); a refusal is explained by
   * checkQuota on the figures the database decided on, and a disagreement between the two is a loud 500.
   * Inside the caller's transaction when given `m` (the multipart session is written with the asset).
   */
  async createPendingWithQuota(a: NewPendingAsset, m?: EntityManager): Promise<void> {
    const defaults = this.defaultLimits();
    // In the caller's transaction: alone. Otherwise: group commit with the requests arriving meanwhile.
    const outcome = m ? await this.repo.insertPendingWithQuota(a, defaults, m) : await this.batches.submit(a);
    if (outcome.created) return;
    checkQuota(a.ownerId, effectiveLimits(defaults, outcome.override), outcome.usage, a.sizeBytes);
    throw new Error(
      `quota: the database refused ${a.sizeBytes} bytes for owner ${a.ownerId} but quota-rules.ts allows it; create_pending_asset and checkQuota disagree`,
    );
  }

  async view(ownerId: string): Promise<QuotaViewDto> {
    const [limits, usage] = await Promise.all([this.limits(ownerId), this.repo.usage(ownerId)]);
    return { ownerId, limits, usage };
  }

  async setOverride(ownerId: string, o: QuotaOverride): Promise<QuotaViewDto> {
    if (o.maxBytes === null && o.maxAssets === null) await this.repo.deleteOverride(ownerId);
    else await this.repo.upsertOverride(ownerId, o);
    return this.view(ownerId);
  }

  private async limits(ownerId: string): Promise<QuotaLimitsDto> {
    return effectiveLimits(this.defaultLimits(), await this.repo.findOverride(ownerId));
  }

  private defaultLimits(): { maxBytes: number; maxAssets: number } {
    return { maxBytes: this.upload.QUOTA_MAX_BYTES_PER_OWNER, maxAssets: this.upload.QUOTA_MAX_ASSETS_PER_OWNER };
  }
}

/**
 * media_pending_batch_size and media_pending_batch_seconds{phase}: how many upload-url requests each group commit
 * wrote, and where a batch's time went (wait: for a slot and the next turn; write: statement and asynchronous
 * commit; durable: the shared WAL flush). Requests answered from a batch waited wait + write + durable.
 */
function batchMetrics(metrics: MetricsService): (t: BatchTiming) => void {
  const size = metrics.histogram({
    name: 'media_pending_batch_size',
    help: 'Pending assets (POST /media/upload-url) written per group-commit batch',
    buckets: BATCH_SIZE_BUCKETS,
  });
  const seconds = metrics.histogram({
    name: 'media_pending_batch_seconds',
    help: "Where a group-commit batch's time went: wait (first request to the write's start), write (statement and asynchronous commit), durable (shared WAL flush)",
    labelNames: ['phase'],
    buckets: BATCH_SECONDS_BUCKETS,
  });
  const wait = seconds.labels('wait');
  const write = seconds.labels('write');
  const durable = seconds.labels('durable');
  return (t) => {
    size.observe(t.size);
    wait.observe(t.waitMs / 1000);
    write.observe(t.writeMs / 1000);
    durable.observe(t.durableMs / 1000);
  };
}
