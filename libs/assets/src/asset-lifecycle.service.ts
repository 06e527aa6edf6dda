import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { OutboxService } from '@app/core';
import { AssetCache } from '@app/metadata';
import { AssetLifecycleRepository, StoredObjectRef } from './asset-lifecycle.repository';
import { AssetEvent } from './asset-events';
import { AssetsRepository } from './assets.repository';
import { AssetStatus, MediaAsset } from './media-asset.entity';
import { ObjectAccessTracker } from './object-access.tracker';
import { isExpiredPending } from './pending-expiry';
import { ASSET_EVENT_TOPIC, OBJECT_DELETE_TOPIC } from './topics';

export type { StoredObjectRef } from './asset-lifecycle.repository';

/**
 * What the lifecycle jobs may do to assets and stored objects, with the rules kept here (the assets lib owns
 * its tables): expire uploads that never completed, tell which storage keys a row still uses, record integrity
 * findings and storage classes. Every age is measured against the `now` the caller passes (its Clock).
 */
@Injectable()
export class AssetLifecycleService {
  constructor(
    private readonly repo: AssetLifecycleRepository,
    private readonly assets: AssetsRepository,
    private readonly outbox: OutboxService,
    private readonly cache: AssetCache,
    private readonly access: ObjectAccessTracker,
  ) {}

  /**
   * `pending` assets older than `ttlSeconds` whose upload URL has expired: nobody can complete them any more.
   * (Uploads whose bytes did arrive are processed by the reconciliation sweep while their URL is fresh.)
   */
  findExpiredPending(now: Date, ttlSeconds: number, limit: number): Promise<MediaAsset[]> {
    return this.repo.findExpiredPending(now, new Date(now.getTime() - ttlSeconds * 1000), limit);
  }

  /**
   * pending → deleted, with the removal of its partial object written to the outbox in the same transaction.
   * Re-checks under the row lock: an asset that moved on (completed meanwhile) is left alone. Returns whether
   * it was expired by this call. Its quota share is freed with the status change (pending counts until expiry).
   */
  async expirePending(assetId: string, now: Date, ttlSeconds: number): Promise<boolean> {
    const expired = await this.assets.transaction(async (m) => {
      const a = await this.assets.lock(m, assetId);
      if (!a || !isExpiredPending(a, now, ttlSeconds)) return null;
      await this.assets.update(m, assetId, { status: AssetStatus.Deleted, deletedAt: now });
      await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: a.bucket, objectKey: a.objectKey });
      const event: AssetEvent = {
        id: randomUUID(),
        type: 'asset.deleted',
        occurredAt: now.toISOString(),
        asset: {
          assetId: a.assetId,
          ownerId: a.ownerId,
          filename: a.filename,
          status: AssetStatus.Deleted,
          mimeType: a.mimeType,
          detectedMimeType: a.detectedMimeType,
          sizeBytes: Number(a.sizeBytes),
          checksumSha256: a.checksumSha256,
          failureReason: 'upload never completed',
        },
      };
      await this.outbox.append(m, ASSET_EVENT_TOPIC, event as unknown as Record<string, unknown>);
      return a;
    });
    if (!expired) return false;
    await this.cache.invalidate(assetId);
    this.outbox.kick();
    return true;
  }

  /** Of these storage keys, the ones a row still uses (everything else under our prefixes is an orphan). */
  keysInUse(bucket: string, keys: string[]): Promise<Set<string>> {
    return this.repo.keysInUse(bucket, keys);
  }

  storedObjectsAfter(afterSha: string, limit: number): Promise<StoredObjectRef[]> {
    return this.repo.storedObjectsAfter(afterSha, limit);
  }

  objectsToVerify(limit: number): Promise<StoredObjectRef[]> {
    return this.repo.objectsToVerify(limit);
  }

  /** Records an integrity finding (`ok` clears one); returns whether it changed anything. */
  setIntegrity(sha256: string, integrity: 'ok' | 'missing' | 'corrupt', note: string | null, now: Date): Promise<boolean> {
    return this.repo.setIntegrity(sha256, integrity, note, now);
  }

  recordVerified(sha256: string, now: Date): Promise<void> {
    return this.repo.recordVerified(sha256, now);
  }

  /** Writes buffered reads to last_accessed_at first, so the tiering decision sees every read so far. */
  async tieringCandidates(fromClass: string, unreadSince: Date, limit: number) {
    await this.access.flush();
    return this.repo.tieringCandidates(fromClass, unreadSince, limit);
  }

  /** Records an object's new storage class and drops the cached views that show it. */
  async setStorageClass(sha256: string, storageClass: string): Promise<void> {
    const assetIds = await this.repo.setStorageClass(sha256, storageClass);
    for (const id of assetIds) await this.cache.invalidate(id);
  }
}
