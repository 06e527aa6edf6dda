import { Injectable } from '@nestjs/common';
import { AssetCache } from '@app/asset-cache';
import { AssetLifecycleRepository, StoredObjectRef } from './asset-lifecycle.repository';
import { AssetStateService } from './asset-state.service';
import { MediaAsset } from './media-asset.entity';
import { ObjectAccessTracker } from './object-access.tracker';

export type { StoredObjectRef, TieringCandidate } from './asset-lifecycle.repository';

/**
 * What the lifecycle jobs may do to assets and stored objects, with the rules kept here (the assets lib owns
 * its tables): expire uploads that never completed, tell which storage keys a row still uses, record integrity
 * findings and storage classes. Every age is measured against the `now` the caller passes (its Clock).
 */
@Injectable()
export class AssetLifecycleService {
  constructor(
    private readonly repo: AssetLifecycleRepository,
    private readonly state: AssetStateService,
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
   * pending → deleted (see AssetStateService.expirePending): re-checked under the row lock, the partial object's
   * removal written in the same transaction. Returns whether it was expired by this call. Its quota share is freed
   * with the status change (pending counts until expiry).
   */
  expirePending(assetId: string, now: Date, ttlSeconds: number): Promise<boolean> {
    return this.state.expirePending(assetId, now, ttlSeconds);
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

  /** Records an asset's new storage class and drops its cached view. */
  async setStorageClass(assetId: string, storageClass: string): Promise<void> {
    await this.repo.setStorageClass(assetId, storageClass);
    await this.cache.invalidate(assetId);
  }
}
