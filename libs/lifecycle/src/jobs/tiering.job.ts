import { Inject, Injectable, Logger } from '@nestjs/common';
import { LIFECYCLE_CONFIG, LifecycleConfig } from '@app/core';
import { AssetLifecycleService } from '@app/assets';
import { canTier, RegionRouter } from '@app/storage';
import { errorMessage } from '../concurrency';
import { REPORT_LIST_LIMIT } from '../lifecycle.constants';
import { LifecycleJob, LifecycleRunContext } from '../lifecycle-job';
import { targetStorageClass } from '../lifecycle-rules';

export interface TieringReport extends Record<string, unknown> {
  coldAfterDays: number;
  archiveAfterDays: number;
  /** Objects moved (or, in a dry run, to be moved) per target class. */
  moved: Record<string, number>;
  objects: { assetId: string; sha256: string; objectKey: string; from: string; to: string; lastUsedAt: string }[];
  /** Objects whose move failed in some region (tried again next run). */
  failed: { assetId: string; sha256: string; error: string }[];
}

const DAY_MS = 24 * 3600 * 1000;
const BATCH = 1000;

/**
 * tiering: assets' own objects not read (downloaded) for TIERING_COLD_AFTER_DAYS move to STANDARD_IA, and after
 * TIERING_ARCHIVE_AFTER_DAYS to GLACIER_IR (instant retrieval, so reads keep working), in every region that holds
 * them (s3: CopyObject in place with the new class; local: a per-class directory the driver also reads from).
 * Reads are tracked cheaply (ObjectAccessTracker, flushed before the decision). Up to 1000 objects per class per run.
 */
@Injectable()
export class TieringJob implements LifecycleJob<TieringReport> {
  readonly name = 'tiering' as const;
  private readonly logger = new Logger('Lifecycle');

  constructor(
    private readonly assets: AssetLifecycleService,
    private readonly router: RegionRouter,
    @Inject(LIFECYCLE_CONFIG) private readonly lifecycle: LifecycleConfig,
  ) {}

  async run({ now, dryRun }: LifecycleRunContext): Promise<TieringReport> {
    const cold = this.lifecycle.TIERING_COLD_AFTER_DAYS;
    const archive = this.lifecycle.TIERING_ARCHIVE_AFTER_DAYS;
    const report: TieringReport = { coldAfterDays: cold, archiveAfterDays: archive, moved: {}, objects: [], failed: [] };
    const steps: [string, number][] = [
      ['STANDARD_IA', archive],
      ['STANDARD', cold],
    ];
    for (const [fromClass, days] of steps) {
      const candidates = await this.assets.tieringCandidates(fromClass, new Date(now.getTime() - days * DAY_MS), BATCH);
      for (const o of candidates) {
        const to = targetStorageClass(o.storageClass, new Date(o.lastUsedAt), now, cold, archive);
        if (!to) continue;
        if (!dryRun) {
          try {
            for (const region of this.router.regions) {
              const driver = region.driver;
              if (!canTier(driver)) continue;
              if (!this.router.isUsable(region.name)) throw new Error(`region ${region.name} is down`);
              if (!(await this.router.call(region, (d) => d.head(o.objectKey)))) continue;
              await this.router.call(region, () => driver.setStorageClass({ key: o.objectKey, storageClass: to }));
            }
            await this.assets.setStorageClass(o.assetId, to);
          } catch (e) {
            report.failed.push({ assetId: o.assetId, sha256: o.sha256, error: errorMessage(e) });
            this.logger.warn(`tiering ${o.objectKey} to ${to} failed: ${errorMessage(e)}`);
            continue;
          }
        }
        report.moved[to] = (report.moved[to] ?? 0) + 1;
        if (report.objects.length < REPORT_LIST_LIMIT) {
          report.objects.push({
            assetId: o.assetId,
            sha256: o.sha256,
            objectKey: o.objectKey,
            from: o.storageClass,
            to,
            lastUsedAt: new Date(o.lastUsedAt).toISOString(),
          });
        }
      }
    }
    return report;
  }

  summarize(r: TieringReport): string {
    const moved = Object.entries(r.moved).map(([c, n]) => `${n} to ${c}`);
    return `${moved.length ? moved.join(', ') : 'nothing'} moved (cold after ${r.coldAfterDays} d, archive after ${r.archiveAfterDays} d unread)${r.failed.length ? `; ${r.failed.length} failed` : ''}`;
  }
}
