import { Inject, Injectable, Logger } from '@nestjs/common';
import { LIFECYCLE_CONFIG, LifecycleConfig } from '@app/core';
import { AssetLifecycleService } from '@app/assets';
import { canMultipart, isRegionOutage, RegionRouter } from '@app/storage';
import { LifecycleEvents } from '../lifecycle.events';
import { REPORT_LIST_LIMIT } from '../lifecycle.constants';
import { LifecycleJob, LifecycleRunContext } from '../lifecycle-job';

export interface ExpirePendingReport extends Record<string, unknown> {
  ttlSeconds: number;
  /** Assets expired (or, in a dry run, that would be). */
  expired: number;
  /** Bytes of quota they held (pending uploads count against the owner's quota). */
  freedBytes: number;
  assets: { assetId: string; ownerId: string; sizeBytes: number; createdAt: string }[];
  /** Multipart uploads of those assets aborted (drivers with multipart only). */
  multipartAborted: number;
  /** Expirers other modules registered: what each removed, or why it did not run. */
  extra: Record<string, { removed: number } | { error: string } | { skipped: string }>;
  /** Dry run only: more candidates exist than one report lists. */
  truncated?: boolean;
}

const BATCH = 200;
const MAX_ROUNDS = 50;

/**
 * expire-pending: `pending` assets older than PENDING_UPLOAD_TTL_SECONDS whose upload URL has expired are
 * deleted (status `deleted`, which frees their quota) with their partial object (through the outbox, in the same
 * transaction) and any multipart upload under their key; then every registered extra expirer runs.
 * Never touches an asset in any other status (the row is re-checked under lock).
 *
 * Division of work with the processing reconciliation sweep: the sweep starts processing for a pending upload whose
 * bytes arrived but whose client never called complete, while its URL is fresh (up to an hour after expiry);
 * this job removes what is still pending long after that.
 */
@Injectable()
export class ExpirePendingJob implements LifecycleJob<ExpirePendingReport> {
  readonly name = 'expire-pending' as const;
  private readonly logger = new Logger('Lifecycle');

  constructor(
    private readonly assets: AssetLifecycleService,
    private readonly router: RegionRouter,
    private readonly events: LifecycleEvents,
    @Inject(LIFECYCLE_CONFIG) private readonly lifecycle: LifecycleConfig,
  ) {}

  async run({ now, dryRun }: LifecycleRunContext): Promise<ExpirePendingReport> {
    const ttl = this.lifecycle.PENDING_UPLOAD_TTL_SECONDS;
    const report: ExpirePendingReport = { ttlSeconds: ttl, expired: 0, freedBytes: 0, assets: [], multipartAborted: 0, extra: {} };
    const seen = new Set<string>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // A dry run changes nothing, so it asks once for as many as a report lists.
      const batch = (await this.assets.findExpiredPending(now, ttl, dryRun ? REPORT_LIST_LIMIT : BATCH)).filter(
        (a) => !seen.has(a.assetId),
      );
      if (!batch.length) break;
      for (const a of batch) {
        seen.add(a.assetId);
        if (!dryRun) {
          if (!(await this.assets.expirePending(a.assetId, now, ttl))) continue;
          report.multipartAborted += await this.abortMultipart(a.objectKey);
        }
        report.expired++;
        report.freedBytes += Number(a.sizeBytes);
        if (report.assets.length < REPORT_LIST_LIMIT) {
          report.assets.push({
            assetId: a.assetId,
            ownerId: a.ownerId,
            sizeBytes: Number(a.sizeBytes),
            createdAt: a.createdAt.toISOString(),
          });
        }
      }
      if (dryRun) {
        report.truncated = batch.length >= REPORT_LIST_LIMIT;
        break;
      }
    }
    for (const [name, expirer] of this.events.extraExpirers()) {
      if (dryRun) {
        report.extra[name] = { skipped: 'dry run' };
        continue;
      }
      try {
        report.extra[name] = await expirer.purgeExpired(now);
      } catch (e) {
        report.extra[name] = { error: e instanceof Error ? e.message : String(e) };
        this.logger.warn(`expirer ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return report;
  }

  summarize(r: ExpirePendingReport): string {
    const extra = Object.entries(r.extra).map(([n, v]) => `${n}: ${'removed' in v ? v.removed : 'error' in v ? 'error' : 'skipped'}`);
    return `${r.expired} pending upload(s) older than ${r.ttlSeconds} s expired, ${r.freedBytes} bytes of quota freed, ${r.multipartAborted} multipart upload(s) aborted${extra.length ? `; ${extra.join(', ')}` : ''}`;
  }

  /** Aborts the multipart uploads under the asset's upload key in every region that has the capability. */
  private async abortMultipart(objectKey: string): Promise<number> {
    let aborted = 0;
    for (const region of this.router.regions) {
      const driver = region.driver;
      if (!canMultipart(driver)) continue;
      try {
        const uploads = await this.router.call(region, () => driver.listMultipartUploads({ prefix: objectKey }));
        for (const u of uploads) {
          if (u.key !== objectKey) continue;
          await this.router.call(region, () => driver.abortMultipartUpload({ key: u.key, uploadId: u.uploadId }));
          aborted++;
        }
      } catch (e) {
        // Reconcile aborts stale multipart uploads later; the asset is already expired.
        if (!isRegionOutage(e))
          this.logger.warn(
            `could not abort multipart uploads of ${objectKey} in ${region.name}: ${e instanceof Error ? e.message : String(e)}`,
          );
      }
    }
    return aborted;
  }
}
