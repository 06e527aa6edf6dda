import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { MetricsService, OutboxService } from '@app/core';
import { canCopy, ObjectInfo, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import type { Counter } from 'prom-client';
import { EntityManager } from 'typeorm';
import { AssetsRepository } from './assets.repository';
import { AssetStatus } from './media-asset.entity';
import { StoredObject } from './stored-object.entity';
import { DEDUP_SETTLE_TOPIC } from './topics';

/** What completeProcessing asks for, after commit, for every asset that becomes ready (new bytes or known). */
export interface DedupSettleRequest {
  sha256: string;
  assetId: string;
  /** The asset's own key, holding its verified bytes. */
  objectKey: string;
  /**
   * The stored object was created by this very transition, at `objectKey`: there is no other copy to check or to
   * share, so settling is a no-op (a stored object's key never changes while an asset references it). Written all
   * the same, so that new and known bytes take the same steps before `ready`.
   */
  created?: boolean;
}

/** Other assets of the same bytes checked (and restored when their own object is gone) by one heal. */
const HEAL_OTHER_ASSETS_LIMIT = 100;

/**
 * The background half of dedup, delivered by the outbox after an asset became ready (so that the time to `ready`
 * is the same for new and known bytes). Under the asset row (FOR SHARE: a delete waits) and the stored object row
 * (FOR UPDATE: a release waits):
 *
 * - The stored object with these bytes is checked before anything is linked to it (its integrity state, and one
 *   HEAD: present, the right size, and — where the store reports one — the right SHA-256). When it is missing (lost
 *   bucket, an operator's mistake, a region restored from an old backup) or known corrupt, the new asset's bytes
 *   (verified by processing) become the stored object again: they are copied to its key, every other ready asset of these bytes whose own object is gone is restored too, and the
 *   stored object is marked healed (`integrity` ok with a note, `healed_at`; counted in
 *   media_integrity_corrupt_objects_total as found missing and in media_integrity_healed_objects_total).
 * - Where the store shares bytes between keys invisibly (the local driver: a hard link), the asset's own key is
 *   re-pointed at the stored object's bytes, so identical bytes are held once. Elsewhere (S3) the asset keeps its
 *   own copy: a presigned GET shows its object's own Last-Modified, ETag and storage class, which must not be
 *   another owner's.
 *
 * Idempotent: every step is a replace (a link renamed over the key, a copy onto a key), re-checked on redelivery.
 */
@Injectable()
export class DedupSettleHandler implements OnModuleInit {
  private readonly logger = new Logger('Dedup');
  private healed?: Counter;

  constructor(
    private readonly repo: AssetsRepository,
    private readonly outbox: OutboxService,
    private readonly metrics: MetricsService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
  ) {}

  onModuleInit() {
    this.healed = this.metrics.counter({
      name: 'media_integrity_healed_objects_total',
      help: 'Stored objects found missing when identical bytes were uploaded again, and restored from the new upload',
    });
    this.healed.inc(0);
    this.outbox.register(DEDUP_SETTLE_TOPIC, (r: DedupSettleRequest) => this.settle(r));
  }

  /** Asks for the settle step once `m` commits. */
  async request(m: EntityManager, r: DedupSettleRequest): Promise<void> {
    await this.outbox.append(m, DEDUP_SETTLE_TOPIC, { sha256: r.sha256, assetId: r.assetId, objectKey: r.objectKey, created: !!r.created });
  }

  async settle(r: DedupSettleRequest): Promise<void> {
    // New bytes: the stored object is this asset's own object (what the check below would find, without the locks).
    if (r.created) return;
    const healed = await this.repo.transaction(async (m) => {
      const asset = await this.repo.lockShared(m, r.assetId);
      // Deleted (or changed) meanwhile: its own object is (being) released by that change.
      if (asset?.status !== AssetStatus.Ready || asset.objectKey !== r.objectKey || asset.storedObjectSha256 !== r.sha256) return false;
      const obj = await this.repo.lockStoredObject(m, r.sha256);
      if (!obj || obj.objectKey === r.objectKey) return false; // these bytes are stored at this asset's own key
      // Known corrupt (integrity scan) or missing (reconcile), or not there now: these verified bytes replace it.
      if (obj.integrity !== 'ok' || !holds(await this.storage.head(obj.objectKey), obj)) {
        await this.heal(m, obj, r);
        return true;
      }
      // Share the bytes where the store can do it invisibly (a hard link keeps the asset's key, size and type).
      if (this.sharesBytes && asset.storageClass === 'STANDARD') await this.copy(obj.objectKey, r.objectKey, Number(obj.sizeBytes));
      return false;
    });
    if (healed) {
      this.metrics.recordCorrupt();
      this.healed?.inc();
    }
  }

  /** The stored object is gone: these bytes (verified by processing) take its place, and other assets' lost copies. */
  private async heal(m: EntityManager, obj: StoredObject, r: DedupSettleRequest): Promise<void> {
    this.logger.warn(
      { sha256: obj.checksumSha256, objectKey: obj.objectKey, assetId: r.assetId, integrity: obj.integrity },
      'stored object missing or corrupt; restoring it from a new upload of the same bytes',
    );
    await this.copy(r.objectKey, obj.objectKey, Number(obj.sizeBytes));
    // Other assets of these bytes: a lost copy is restored; locally, where they were links to a corrupt file, too.
    const relinkAll = obj.integrity === 'corrupt' && this.sharesBytes;
    let restored = 0;
    for (const other of await this.repo.readyKeysWithContent(m, obj.checksumSha256, HEAL_OTHER_ASSETS_LIMIT)) {
      if (other.objectKey === obj.objectKey || other.objectKey === r.objectKey) continue;
      if (!relinkAll && holds(await this.storage.head(other.objectKey), obj)) continue;
      await this.copy(r.objectKey, other.objectKey, Number(obj.sizeBytes));
      restored++;
    }
    const was = obj.integrity === 'corrupt' ? 'corrupt' : 'missing from storage';
    await this.repo.markHealed(
      m,
      obj.checksumSha256,
      `${was}; restored from asset ${r.assetId} (same SHA-256, verified by processing)` +
        (restored ? `, with ${restored} other asset object(s)` : ''),
    );
  }

  /** The local driver's copy is a hard link: two keys share one file, and its one date is never served. */
  private get sharesBytes(): boolean {
    return this.storage.kind === 'local' && canCopy(this.storage);
  }

  private async copy(fromKey: string, toKey: string, size: number): Promise<void> {
    if (canCopy(this.storage)) return this.storage.copy({ fromKey, toKey });
    const info = await this.storage.head(fromKey);
    await this.storage.write({
      key: toKey,
      body: await this.storage.read(fromKey),
      contentType: info?.contentType ?? 'application/octet-stream',
      contentLength: size,
    });
  }
}

/** Present, of the stored size, and (where the store reports the SHA-256 as its ETag: local) of the stored content. */
function holds(info: ObjectInfo | null, obj: StoredObject): boolean {
  if (!info || info.size !== Number(obj.sizeBytes)) return false;
  const etag = /^"([0-9a-f]{64})"$/.exec(info.etag ?? '')?.[1];
  return etag === undefined || etag === obj.checksumSha256;
}
