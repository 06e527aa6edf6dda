import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { LIFECYCLE_CONFIG, LifecycleConfig } from '@app/core';
import { AssetLifecycleService, StoredObjectRef } from '@app/assets';
import { canTier, isRegionOutage, RegionRouter, StorageClassName, StorageRegion, STORAGE_CLASSES } from '@app/storage';
import { errorMessage } from '../concurrency';
import { LifecycleEvents } from '../lifecycle.events';
import { REPORT_LIST_LIMIT } from '../lifecycle.constants';
import { LifecycleJob, LifecycleRunContext } from '../lifecycle-job';

export interface CorruptFinding {
  sha256: string;
  objectKey: string;
  /** Regions whose copy hashed to something else. */
  corruptIn: string[];
  /** The region whose verified copy replaced them (null: none held a healthy copy, or a dry run). */
  restoredFrom: string | null;
  restored: boolean;
}

export interface IntegrityScanReport extends Record<string, unknown> {
  /** Stored objects looked at this run (INTEGRITY_SCAN_BATCH_SIZE, least recently verified first; 0 = all). */
  checked: number;
  /** Copies (object × region) hashed. */
  copiesHashed: number;
  bytesHashed: number;
  /** Objects with at least one copy that did not match its SHA-256 (the figure metrics export). */
  corrupt: number;
  /** … of which every bad copy was replaced by a verified copy from another region. */
  restored: number;
  /** … of which no region held a healthy copy: marked `corrupt`. */
  unrecoverable: number;
  findings: CorruptFinding[];
  /** Objects no usable region holds (marked `missing`). */
  missing: string[];
  missingCount: number;
  /** Objects that could not be read in some region (it was down or failed); verified next run. */
  unreadable: number;
}

type CopyState =
  | { region: StorageRegion; state: 'ok' }
  | { region: StorageRegion; state: 'corrupt'; actual: string }
  | { region: StorageRegion; state: 'absent' };

/**
 * integrity-scan: re-hashes stored objects (streamed, one at a time) in every usable region and compares with the
 * SHA-256 they are stored under. A mismatch marks the object `corrupt` (written down before anything else), is
 * logged, counted and announced (LifecycleEvents.onCorruptObject); when another region holds a copy whose hash
 * verifies, that copy is streamed over the bad one, re-verified, and the object is marked `ok` again.
 * Records last_verified_at, so a partial batch per run rolls over the whole store.
 */
@Injectable()
export class IntegrityScanJob implements LifecycleJob<IntegrityScanReport> {
  readonly name = 'integrity-scan' as const;
  private readonly logger = new Logger('Lifecycle');

  constructor(
    private readonly assets: AssetLifecycleService,
    private readonly router: RegionRouter,
    private readonly events: LifecycleEvents,
    @Inject(LIFECYCLE_CONFIG) private readonly lifecycle: LifecycleConfig,
  ) {}

  async run({ now, dryRun }: LifecycleRunContext): Promise<IntegrityScanReport> {
    const report: IntegrityScanReport = {
      checked: 0,
      copiesHashed: 0,
      bytesHashed: 0,
      corrupt: 0,
      restored: 0,
      unrecoverable: 0,
      findings: [],
      missing: [],
      missingCount: 0,
      unreadable: 0,
    };
    const batch = this.lifecycle.INTEGRITY_SCAN_BATCH_SIZE;
    if (batch > 0) {
      for (const o of await this.assets.objectsToVerify(batch)) {
        report.checked++;
        await this.verify(o, now, dryRun, report);
      }
      return report;
    }
    // All of them: page through in checksum order (verifying moves last_verified_at, so that order would shift).
    let after = '';
    for (;;) {
      const page = await this.assets.storedObjectsAfter(after, 500);
      for (const o of page) {
        report.checked++;
        await this.verify(o, now, dryRun, report);
      }
      if (page.length < 500) break;
      after = page[page.length - 1].sha256;
    }
    return report;
  }

  summarize(r: IntegrityScanReport): string {
    return `${r.checked} stored object(s) verified (${r.copiesHashed} copies, ${r.bytesHashed} bytes); ${r.corrupt} corrupt, ${r.restored} restored from another region, ${r.unrecoverable} unrecoverable; ${r.missingCount} missing; ${r.unreadable} unreadable`;
  }

  private async verify(o: StoredObjectRef, now: Date, dryRun: boolean, report: IntegrityScanReport): Promise<void> {
    const copies: CopyState[] = [];
    let unreadable = false;
    for (const region of this.router.preferenceOrder()) {
      if (!this.router.isUsable(region.name)) {
        unreadable = true;
        continue;
      }
      try {
        const actual = await this.hashCopy(region, o.objectKey);
        if (actual === null) copies.push({ region, state: 'absent' });
        else {
          report.copiesHashed++;
          report.bytesHashed += o.sizeBytes;
          copies.push(actual === o.sha256 ? { region, state: 'ok' } : { region, state: 'corrupt', actual });
        }
      } catch (e) {
        unreadable = true;
        if (!isRegionOutage(e)) this.logger.warn(`integrity scan could not read ${o.objectKey} in ${region.name}: ${errorMessage(e)}`);
      }
    }
    if (unreadable) report.unreadable++;
    const healthy = copies.filter((c) => c.state === 'ok');
    const corrupt = copies.filter((c): c is Extract<CopyState, { state: 'corrupt' }> => c.state === 'corrupt');

    if (!healthy.length && !corrupt.length) {
      if (unreadable) return; // not known to be gone: verify next run
      report.missingCount++;
      if (report.missing.length < REPORT_LIST_LIMIT) report.missing.push(o.sha256);
      if (!dryRun) await this.assets.setIntegrity(o.sha256, 'missing', `no storage region holds ${o.objectKey} (integrity scan)`, now);
      return;
    }
    if (!corrupt.length) {
      if (!dryRun) {
        if (o.integrity !== 'ok' && !unreadable) await this.assets.setIntegrity(o.sha256, 'ok', null, now);
        await this.assets.recordVerified(o.sha256, now);
      }
      return;
    }

    report.corrupt++;
    const finding: CorruptFinding = {
      sha256: o.sha256,
      objectKey: o.objectKey,
      corruptIn: corrupt.map((c) => c.region.name),
      restoredFrom: null,
      restored: false,
    };
    const note = `bytes in ${corrupt.map((c) => `${c.region.name} hash to ${c.actual.slice(0, 12)}…`).join(', ')} (integrity scan)`;
    this.logger.error(
      { sha256: o.sha256, key: o.objectKey, corruptIn: finding.corruptIn, healthyIn: healthy.map((h) => h.region.name) },
      `Stored object ${o.objectKey} is corrupt: ${note}`,
    );
    if (!dryRun) {
      // Written down before acting: if the restore below dies half-way, the object is still known to be corrupt.
      await this.assets.setIntegrity(o.sha256, 'corrupt', note, now);
      if (healthy.length) {
        const source = healthy[0].region;
        finding.restoredFrom = source.name;
        let all = true;
        for (const bad of corrupt) {
          try {
            await this.restore(source, bad.region, o);
          } catch (e) {
            all = false;
            this.logger.error(
              { sha256: o.sha256, key: o.objectKey, region: bad.region.name },
              `Restoring ${o.objectKey} in ${bad.region.name} from ${source.name} failed: ${errorMessage(e)}`,
            );
          }
        }
        finding.restored = all;
        if (all) {
          await this.assets.setIntegrity(o.sha256, 'ok', `restored from ${source.name} at ${now.toISOString()} after ${note}`, now);
          this.logger.warn(
            { sha256: o.sha256, key: o.objectKey, from: source.name, to: finding.corruptIn },
            `Stored object ${o.objectKey} restored from region ${source.name}`,
          );
        }
      }
      await this.assets.recordVerified(o.sha256, now);
    }
    if (finding.restored) report.restored++;
    else report.unrecoverable++;
    if (report.findings.length < REPORT_LIST_LIMIT) report.findings.push(finding);
    // Dry runs report findings without counting them (the real run that follows would count them again).
    if (!dryRun)
      this.events.emitCorruptObject({ sha256: o.sha256, objectKey: o.objectKey, regions: finding.corruptIn, restored: finding.restored });
  }

  /** SHA-256 of one region's copy, streamed; null when the region does not hold it. */
  private async hashCopy(region: StorageRegion, key: string): Promise<string | null> {
    const info = await this.router.call(region, (d) => d.head(key));
    if (!info) return null;
    const body = await this.router.call(region, (d) => d.read(key));
    const hash = createHash('sha256');
    try {
      for await (const chunk of body) hash.update(chunk as Buffer);
    } finally {
      if (!body.destroyed) body.destroy();
    }
    return hash.digest('hex');
  }

  /** Streams the verified copy over the bad one, keeps its storage class, and re-verifies it. */
  private async restore(from: StorageRegion, to: StorageRegion, o: StoredObjectRef): Promise<void> {
    const info = await this.router.call(from, (d) => d.head(o.objectKey));
    if (!info) throw new Error(`the healthy copy in ${from.name} is gone`);
    const body = await this.router.call(from, (d) => d.read(o.objectKey));
    try {
      await this.router.call(to, (d) =>
        d.write({ key: o.objectKey, body, contentType: info.contentType ?? 'application/octet-stream', contentLength: info.size }),
      );
    } finally {
      if (!body.destroyed) body.destroy();
    }
    const cls = o.storageClass as StorageClassName;
    if (cls !== 'STANDARD' && STORAGE_CLASSES.includes(cls) && canTier(to.driver)) {
      const driver = to.driver;
      await this.router.call(to, () => driver.setStorageClass({ key: o.objectKey, storageClass: cls }));
    }
    const again = await this.hashCopy(to, o.objectKey);
    if (again !== o.sha256) throw new Error(`the restored copy hashes to ${again?.slice(0, 12) ?? 'nothing'}…`);
  }
}
