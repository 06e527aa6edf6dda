import { Inject, Injectable, Logger } from '@nestjs/common';
import { LIFECYCLE_CONFIG, LifecycleConfig, UPLOAD_CONFIG, UploadConfig } from '@app/core';
import { AssetLifecycleService } from '@app/assets';
import { canList, canMultipart, isRegionOutage, keepsUsedUploadMarkers, RegionRouter, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import { errorMessage, forEachLimited } from '../concurrency';
import { REPORT_LIST_LIMIT } from '../lifecycle.constants';
import { LifecycleJob, LifecycleRunContext } from '../lifecycle-job';
import { LifecycleEvents } from '../lifecycle.events';
import { isOrphanCandidate, isStaleMultipart, markerPurgeCutoff, ORPHAN_PREFIXES } from '../lifecycle-rules';

export interface ReconcileReport extends Record<string, unknown> {
  graceSeconds: number;
  /** Objects listed, per region. */
  listed: Record<string, number>;
  /** Objects no row uses, older than the grace period: deleted (or, in a dry run, to be deleted). */
  orphansDeleted: number;
  orphans: { region: string; key: string; sizeBytes: number; lastModified: string }[];
  /** Objects no row uses but younger than the grace period: kept. */
  orphansTooYoung: number;
  /** Multipart uploads older than PENDING_UPLOAD_TTL_SECONDS, aborted. */
  multipartAborted: number;
  multipart: { region: string; key: string; uploadId: string }[];
  /** Stored objects no region holds: marked `missing` (rows are never deleted). */
  missing: { sha256: string; objectKey: string; refCount: number }[];
  missingCount: number;
  /** Stored objects marked missing earlier that are back (marked `ok` again). */
  recovered: string[];
  /** Stored objects whose presence could not be established (a region was down). */
  unverifiable: number;
  /** Local used-upload-key markers whose URLs can no longer be valid: removed. */
  markersPurged: number;
  /** Regions that could not be (fully) reconciled, with why. */
  regionErrors: Record<string, string>;
}

const PAGE = 1000;
const HEAD_PARALLEL = 8;

/**
 * reconcile: database and storage, compared both ways.
 * - storage → database: every object under uploads/, objects/, derived/, quarantine/ in every region that no row
 *   uses (a stored object, a live asset, a live asset's derived media) and older than ORPHAN_GRACE_SECONDS is
 *   deleted from that region, and so is every object under another module's registered prefix (ObjectKeyOwner, e.g.
 *   renditions/) that module's rows do not name; multipart uploads older than the pending TTL are aborted; the local driver's
 *   used-upload-key markers are purged once every URL for their key has expired.
 * - database → storage: every stored object (which every ready asset points at) is looked for; one that no region
 *   holds is marked `missing` and reported (the row stays; operators decide).
 * A dry run reports exactly the same sets and changes nothing.
 */
@Injectable()
export class ReconcileJob implements LifecycleJob<ReconcileReport> {
  readonly name = 'reconcile' as const;
  private readonly logger = new Logger('Lifecycle');

  constructor(
    private readonly assets: AssetLifecycleService,
    private readonly router: RegionRouter,
    private readonly events: LifecycleEvents,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(LIFECYCLE_CONFIG) private readonly lifecycle: LifecycleConfig,
    @Inject(UPLOAD_CONFIG) private readonly upload: UploadConfig,
  ) {}

  async run({ now, dryRun }: LifecycleRunContext): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      graceSeconds: this.lifecycle.ORPHAN_GRACE_SECONDS,
      listed: {},
      orphansDeleted: 0,
      orphans: [],
      orphansTooYoung: 0,
      multipartAborted: 0,
      multipart: [],
      missing: [],
      missingCount: 0,
      recovered: [],
      unverifiable: 0,
      markersPurged: 0,
      regionErrors: {},
    };
    for (const region of this.router.regions) {
      if (!this.router.isUsable(region.name)) {
        report.regionErrors[region.name] = 'region is down';
        continue;
      }
      try {
        await this.reconcileRegion(region.name, region.driver, now, dryRun, report);
      } catch (e) {
        report.regionErrors[region.name] = errorMessage(e);
        if (isRegionOutage(e)) this.router.recordLiveFailure(region, e);
        this.logger.warn(`reconcile of region ${region.name} stopped: ${errorMessage(e)}`);
      }
    }
    await this.findMissing(now, dryRun, report);
    return report;
  }

  summarize(r: ReconcileReport): string {
    const listed = Object.values(r.listed).reduce((a, b) => a + b, 0);
    const errors = Object.keys(r.regionErrors);
    return (
      `${listed} object(s) listed; ${r.orphansDeleted} orphan(s) deleted, ${r.orphansTooYoung} younger than ${r.graceSeconds} s kept; ` +
      `${r.multipartAborted} stale multipart upload(s) aborted; ${r.missingCount} stored object(s) missing, ${r.recovered.length} back; ` +
      `${r.markersPurged} upload marker(s) purged${r.unverifiable ? `; ${r.unverifiable} unverifiable` : ''}${errors.length ? `; region errors: ${errors.join(', ')}` : ''}`
    );
  }

  private async reconcileRegion(
    regionName: string,
    driver: StorageDriver,
    now: Date,
    dryRun: boolean,
    report: ReconcileReport,
  ): Promise<void> {
    const grace = this.lifecycle.ORPHAN_GRACE_SECONDS;
    report.listed[regionName] = 0;
    if (!canList(driver)) {
      report.regionErrors[regionName] = `the ${driver.kind} driver cannot list objects`;
    } else {
      const owners = this.events.objectKeyOwners();
      const prefixes = [
        ...ORPHAN_PREFIXES.map((prefix) => ({ prefix, keysInUse: (b: string, k: string[]) => this.assets.keysInUse(b, k) })),
        ...owners,
      ];
      const extra = owners.map((o) => o.prefix);
      for (const owner of prefixes) {
        for await (const page of driver.listObjects({ prefix: owner.prefix, pageSize: PAGE })) {
          report.listed[regionName] += page.length;
          const used = await owner.keysInUse(
            this.storage.bucket,
            page.map((o) => o.key),
          );
          for (const o of page) {
            if (used.has(o.key)) continue;
            if (!isOrphanCandidate(o, now, grace, extra)) {
              report.orphansTooYoung++;
              continue;
            }
            if (!dryRun) await driver.delete(o.key);
            report.orphansDeleted++;
            if (report.orphans.length < REPORT_LIST_LIMIT) {
              report.orphans.push({ region: regionName, key: o.key, sizeBytes: o.size, lastModified: o.lastModified.toISOString() });
            }
          }
        }
      }
    }
    if (canMultipart(driver)) {
      // A store that cannot list or abort multipart uploads (some emulators answer 405) must not stop the rest.
      try {
        const uploads = await driver.listMultipartUploads({ prefix: '' });
        for (const u of uploads) {
          if (!isStaleMultipart(u.initiated, now, this.lifecycle.PENDING_UPLOAD_TTL_SECONDS)) continue;
          if (!dryRun) await driver.abortMultipartUpload({ key: u.key, uploadId: u.uploadId });
          report.multipartAborted++;
          if (report.multipart.length < REPORT_LIST_LIMIT) report.multipart.push({ region: regionName, key: u.key, uploadId: u.uploadId });
        }
      } catch (e) {
        if (isRegionOutage(e)) throw e;
        report.regionErrors[`${regionName} (multipart)`] = errorMessage(e);
      }
    }
    if (keepsUsedUploadMarkers(driver)) {
      const purged = await driver.purgeConsumedMarkers({ olderThan: markerPurgeCutoff(now, this.upload.UPLOAD_URL_TTL_SECONDS), dryRun });
      report.markersPurged += purged.length;
    }
  }

  /** Looks for every stored object in the regions (bounded parallel HEADs, one page of rows at a time). */
  private async findMissing(now: Date, dryRun: boolean, report: ReconcileReport): Promise<void> {
    let after = '';
    for (;;) {
      const rows = await this.assets.storedObjectsAfter(after, PAGE);
      if (!rows.length) break;
      after = rows[rows.length - 1].sha256;
      await forEachLimited(rows, HEAD_PARALLEL, async (o) => {
        let present: boolean;
        try {
          present = (await this.storage.head(o.objectKey)) !== null;
        } catch {
          report.unverifiable++;
          return;
        }
        if (!present) {
          if (!dryRun) await this.assets.setIntegrity(o.sha256, 'missing', `no storage region holds ${o.objectKey} (reconcile)`, now);
          report.missingCount++;
          if (report.missing.length < REPORT_LIST_LIMIT)
            report.missing.push({ sha256: o.sha256, objectKey: o.objectKey, refCount: o.refCount });
          if (o.integrity !== 'missing')
            this.logger.error(
              { sha256: o.sha256, key: o.objectKey, refCount: o.refCount },
              `Stored object ${o.objectKey} is missing from every region`,
            );
        } else if (o.integrity === 'missing') {
          if (!dryRun) await this.assets.setIntegrity(o.sha256, 'ok', null, now);
          report.recovered.push(o.sha256);
        }
      });
      if (rows.length < PAGE) break;
    }
  }
}
