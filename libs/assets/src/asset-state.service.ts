import { Inject, Injectable, Logger } from '@nestjs/common';
import { AssetAccess, assertAssetAccess, Errors, MetricsService, OutboxService } from '@app/core';
import { AssetCache } from '@app/asset-cache';
import { MetadataService } from '@app/metadata';
import { ReplicationService, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import { CdnService } from '@app/cdn';
import { EntityManager } from 'typeorm';
import { AssetEventsService } from './asset-events.service';
import { AssetsRepository } from './assets.repository';
import { AssetStatus, MediaAsset } from './media-asset.entity';
import { DedupSettleHandler } from './dedup-settle.handler';
import { ObjectDeletionHandler } from './object-deletion.handler';
import { isExpiredPending } from './pending-expiry';

/** What processing found out about the stored bytes. */
export interface InspectionResult {
  sha256: string;
  size: number;
  detectedMimeType: string | null;
  metadata: Record<string, string>;
  /**
   * The asset's own key (ObjectKeyLayout.stored of the asset) where processing put the verified bytes: the asset is
   * served from there, whether or not identical bytes were stored before (so nothing a user sees depends on another
   * owner's copy). Omitted: the upload itself stays where it is and is served from there.
   */
  storedAt?: { objectKey: string };
}

/** How failProcessing treats the uploaded object. */
export type FailedObjectDisposition =
  /** Remove it (the default: a rejected upload). */
  | 'delete'
  /** Keep it, so that an operator can retry (a dead-lettered job). */
  | 'keep'
  /** The job already copied it to `relocatedTo` (quarantine); the asset points there and the upload is removed. */
  | { relocatedTo: string };

/**
 * The asset state machine: `pending` → `processing` → `ready` (or `failed`, `quarantined`), `failed` → `processing`
 * (an operator's retry), and → `deleted` (a delete, an abandoned or expired upload). Every transition locks the
 * asset row, writes its follow-up work (object deletions, the asset event, CDN invalidation, replication) to the
 * outbox in the same transaction, and drops the cached record after commit. It also answers the state as the
 * transitions see it (from Postgres, not the cache) to processing and the sweeps.
 */
@Injectable()
export class AssetStateService {
  private readonly logger = new Logger('Assets');

  constructor(
    private readonly repo: AssetsRepository,
    private readonly metadata: MetadataService,
    private readonly cache: AssetCache,
    private readonly outbox: OutboxService,
    private readonly events: AssetEventsService,
    private readonly objects: ObjectDeletionHandler,
    private readonly dedup: DedupSettleHandler,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    private readonly cdn: CdnService,
    private readonly replication: ReplicationService,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Marks the asset deleted and releases its bytes: the stored object loses one reference and is removed
   * (through the outbox, after commit) only when none are left.
   */
  async delete(access: AssetAccess): Promise<void> {
    assertAssetAccess(access, 'delete');
    const assetId = access.assetId;
    await this.repo.transaction(async (m) => {
      if (!(await this.deleteInTransaction(m, assetId))) throw Errors.assetNotFound(assetId);
    });
    await this.cache.invalidate(assetId);
    this.outbox.kick();
  }

  /**
   * The same delete for many assets in ONE transaction (a batch delete's chunk). Answers the ids it deleted; the
   * others were already deleted (or never existed).
   */
  async deleteMany(accesses: AssetAccess[]): Promise<Set<string>> {
    for (const a of accesses) assertAssetAccess(a, 'delete');
    // Locks in one order (by id) so that two overlapping batches cannot deadlock.
    const ids = [...new Set(accesses.map((a) => a.assetId))].sort();
    const deleted = new Set<string>();
    await this.repo.transaction(async (m) => {
      for (const id of ids) if (await this.deleteInTransaction(m, id)) deleted.add(id);
    });
    for (const id of deleted) await this.cache.invalidate(id);
    this.outbox.kick();
    return deleted;
  }

  /** Locks, marks deleted and queues the follow-up work; false when the asset is missing or already deleted. */
  private async deleteInTransaction(m: EntityManager, assetId: string): Promise<boolean> {
    const a = await this.repo.lock(m, assetId);
    if (!a || a.status === AssetStatus.Deleted) return false;
    await this.repo.update(m, assetId, { status: AssetStatus.Deleted, deletedAt: new Date(), storedObjectSha256: null });
    // Links handed out for it may sit in the CDN: drop those copies once this commits (no-op without a CDN).
    if (a.status === AssetStatus.Ready) await this.cdn.requestInvalidation(m, [a.objectKey]);
    if (a.storedObjectSha256) {
      const released = await this.repo.dereference(m, a.storedObjectSha256);
      if (released) await this.objects.request(m, released);
      // The asset's own object, unless it is the one just released or a live asset still reads it (a copy shares
      // its source's key: POST /media/{id}/copy).
      if (released?.objectKey !== a.objectKey && !(await this.repo.objectKeyInUse(m, a.storedObjectSha256, a.objectKey, assetId)))
        await this.objects.request(m, a);
    } else {
      await this.objects.request(m, a);
    }
    await this.events.append(m, 'asset.deleted', Object.assign(a, { status: AssetStatus.Deleted }));
    return true;
  }

  /**
   * pending → deleted for an upload its client gave up (a multipart abort): the asset leaves the quota at once.
   * `alsoInTransaction` records the caller's own state change in the same transaction. Returns false when the asset
   * was already deleted; an asset that is no longer pending cannot be abandoned (409).
   */
  async abandonUpload(assetId: string, alsoInTransaction: (m: EntityManager) => Promise<void>): Promise<boolean> {
    const changed = await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || a.status === AssetStatus.Deleted) return false;
      if (a.status !== AssetStatus.Pending) {
        throw Errors.stateConflict(
          `Asset ${assetId} is ${a.status}: its upload is finished and can no longer be aborted (DELETE /media/${assetId} removes it)`,
          {
            status: a.status,
          },
        );
      }
      await this.repo.update(m, assetId, { status: AssetStatus.Deleted, deletedAt: new Date() });
      await alsoInTransaction(m);
      await this.events.append(m, 'asset.deleted', Object.assign(a, { status: AssetStatus.Deleted }));
      return true;
    });
    if (changed) {
      await this.cache.invalidate(assetId);
      this.outbox.kick();
    }
    return changed;
  }

  /**
   * pending → deleted for an upload nobody can complete any more (older than `ttlSeconds`, its URL expired), with
   * the removal of its partial object in the same transaction. Re-checks under the row lock: an asset that moved on
   * (completed meanwhile) is left alone. Returns whether this call expired it.
   */
  async expirePending(assetId: string, now: Date, ttlSeconds: number): Promise<boolean> {
    const expired = await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || !isExpiredPending(a, now, ttlSeconds)) return false;
      await this.repo.update(m, assetId, { status: AssetStatus.Deleted, deletedAt: now });
      await this.objects.request(m, a);
      await this.events.append(m, 'asset.deleted', a, {
        occurredAt: now,
        overrides: { status: AssetStatus.Deleted, failureReason: 'upload never completed' },
      });
      return true;
    });
    if (!expired) return false;
    await this.cache.invalidate(assetId);
    this.outbox.kick();
    return true;
  }

  /**
   * pending → processing, with the processing request (`enqueue`, which may only append outbox messages) written in
   * the same statement.
   * Idempotent: an asset already processing or finished is left as it is. Returns the resulting status.
   * No access check here: the route (`write` on the asset) or the system (sweeps) decides who may call it.
   */
  async beginProcessing(assetId: string, enqueue: (m: EntityManager, a: MediaAsset) => Promise<void>): Promise<AssetStatus> {
    return (await this.startProcessing(assetId, enqueue)).status;
  }

  /**
   * beginProcessing, also telling whether this very call moved the asset out of `pending` (`started`). What the
   * caller knows already is not asked again: `record`, the asset as it has just read it from Postgres
   * (findForProcessing; the transition re-checks under the row lock either way), and `objectStored`, when this very
   * process has just stored the upload's bytes (the local driver's own storage event).
   */
  async startProcessing(
    assetId: string,
    enqueue: (m: EntityManager, a: MediaAsset) => Promise<void>,
    known: { record?: MediaAsset; objectStored?: boolean } = {},
  ): Promise<{ status: AssetStatus; started: boolean }> {
    const current = known.record?.assetId === assetId ? known.record : await this.repo.find(assetId);
    if (!current || current.status === AssetStatus.Deleted) throw Errors.assetNotFound(assetId);
    if (current.status !== AssetStatus.Pending) return { status: current.status, started: false };
    if (!known.objectStored && !(await this.storage.head(current.objectKey))) throw Errors.objectNotUploaded(assetId);
    // One statement in the transaction: the UPDATE checks the status under its own row lock and the outbox INSERT
    // (the processing request) is a CTE of the same statement, written exactly when the row changed. The request is
    // built from the record read above (its id and declared facts, which a transition does not change). The
    // transaction stays: without its COMMIT round trip, a statement sent by a process killed while it waited for the
    // row lock would still commit once the lock was free.
    const messages = await this.outbox.gather((m) => enqueue(m, current));
    const started = await this.repo.transaction(async (m) => {
      const a = await this.repo.updateIfStatusWith(
        m,
        assetId,
        AssetStatus.Pending,
        { status: AssetStatus.Processing, processingStartedAt: new Date() },
        (changed, first) => this.outbox.insertClause(messages, first, changed),
      );
      if (a) return { status: AssetStatus.Processing, started: true };
      const now = await this.repo.find(assetId, m); // not pending (any more): as it is now
      if (!now || now.status === AssetStatus.Deleted) throw Errors.assetNotFound(assetId);
      return { status: now.status, started: false };
    });
    if (started.started) await this.cache.invalidate(assetId);
    this.outbox.kick();
    return started;
  }

  /**
   * pending → failed with a reason, for an upload storage reports as unusable before processing started (a storage
   * event whose size differs from the declared one). The uploaded object is removed. Idempotent: an asset that is no
   * longer pending (processing started, or it is gone) is left alone; returns whether this call failed it.
   */
  async failPendingUpload(assetId: string, reason: string): Promise<boolean> {
    const changed = await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || a.status !== AssetStatus.Pending) return false;
      const patch = { status: AssetStatus.Failed, failureReason: reason.slice(0, 2000) };
      await this.repo.update(m, assetId, patch);
      await this.objects.request(m, a);
      await this.events.append(m, 'asset.failed', Object.assign(a, patch));
      return true;
    });
    if (changed) {
      this.metrics.recordUpload('failed');
      await this.cache.invalidate(assetId);
      this.logger.warn({ assetId, reason }, `Asset ${assetId} failed before processing`);
      this.outbox.kick();
    }
    return changed;
  }

  /** The asset as processing sees it: from Postgres, not the cache (no owner check). */
  findForProcessing(assetId: string): Promise<MediaAsset | null> {
    return this.repo.find(assetId);
  }

  /**
   * processing → ready. The asset keeps its own object (`storedAt`, where processing copied the verified bytes);
   * the stored object with its checksum gains one reference (dedup), created at this asset's key when the bytes are
   * new. New and known bytes take exactly the same steps here: sharing the bytes (a hard link where the store has
   * them) and checking that the shared object still exists (healing it from these bytes when it does not) happen
   * after commit, through the outbox (DedupSettleHandler). Runs at most once per asset however often it is called.
   */
  async completeProcessing(
    assetId: string,
    result: InspectionResult,
    /** More work for the same transaction (e.g. linking derived media); runs only when the asset becomes ready. */
    alsoInTransaction?: (m: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    // The transition's outbox messages (upload key deletion, dedup settle, replication, the event) in one INSERT.
    const changed = await this.repo.transaction((m) =>
      this.outbox.collect(m, async () => {
        const a = await this.repo.lock(m, assetId);
        if (!a || a.status !== AssetStatus.Processing) return false;
        const obj = { bucket: a.bucket, objectKey: result.storedAt?.objectKey ?? a.objectKey };
        const patch = {
          status: AssetStatus.Ready,
          checksumSha256: result.sha256,
          detectedMimeType: result.detectedMimeType,
          storedObjectSha256: result.sha256,
          bucket: obj.bucket,
          objectKey: obj.objectKey,
          readyAt: new Date(),
          storageClass: 'STANDARD',
          lastAccessedAt: null,
          failureReason: null,
          // CDN registration: the URL the CDN serves the object under (null without a CDN).
          cdnUrl: this.cdn.registrationUrl(obj.objectKey),
        };
        // The stored object's reference and the asset's new state in one statement. The row lock taken by the
        // upsert serialises us with a concurrent release of the same stored object.
        const stored = await this.repo.referenceAndUpdate(m, result.sha256, { ...obj, sizeBytes: String(result.size) }, assetId, patch);
        if (obj.objectKey !== a.objectKey) await this.objects.request(m, a); // the upload key
        await this.dedup.request(m, { sha256: result.sha256, assetId, objectKey: obj.objectKey, created: stored.created });
        await this.metadata.replaceExtracted(m, assetId, result.metadata);
        // Copy the object to every other storage region once this commits (no-op with one region).
        await this.replication.requestReplication(m, { bucket: obj.bucket, key: obj.objectKey, sizeBytes: String(result.size) });
        await alsoInTransaction?.(m);
        await this.events.append(m, 'asset.ready', Object.assign(a, patch));
        return true;
      }),
    );
    if (changed) {
      this.metrics.recordUpload('ready');
      await this.cache.invalidate(assetId);
      this.outbox.kick();
    }
    return changed;
  }

  /**
   * processing → failed (or quarantined) with a reason. The upload is removed unless `object` says otherwise
   * (kept for a retry, or already copied to quarantine); `metadata` replaces the extracted metadata (e.g. `scan:*`).
   */
  async failProcessing(
    assetId: string,
    reason: string,
    opts: {
      status?: AssetStatus.Failed | AssetStatus.Quarantined;
      detectedMimeType?: string | null;
      checksumSha256?: string;
      metadata?: Record<string, string>;
      object?: FailedObjectDisposition;
    } = {},
  ): Promise<boolean> {
    const changed = await this.repo.transaction((m) =>
      this.outbox.collect(m, async () => {
        const a = await this.repo.lock(m, assetId);
        if (!a || a.status !== AssetStatus.Processing) return false;
        const disposition = opts.object ?? 'delete';
        const patch = {
          status: opts.status ?? AssetStatus.Failed,
          failureReason: reason.slice(0, 2000),
          ...(opts.detectedMimeType !== undefined ? { detectedMimeType: opts.detectedMimeType } : {}),
          ...(typeof disposition === 'object' ? { objectKey: disposition.relocatedTo } : {}),
        };
        await this.repo.update(m, assetId, patch);
        if (opts.metadata) await this.metadata.replaceExtracted(m, assetId, opts.metadata);
        if (disposition !== 'keep') await this.objects.request(m, a);
        await this.events.append(
          m,
          patch.status === AssetStatus.Quarantined ? 'asset.quarantined' : 'asset.failed',
          Object.assign(a, patch),
        );
        return true;
      }),
    );
    if (changed) {
      const status = opts.status ?? AssetStatus.Failed;
      // `keep` is the dead-letter path (out of attempts: the object stays for an operator's retry).
      this.metrics.recordUpload(status === AssetStatus.Quarantined ? 'quarantined' : opts.object === 'keep' ? 'dead_lettered' : 'failed');
      await this.cache.invalidate(assetId);
      this.logger.warn({ assetId, reason }, `Asset ${assetId} failed processing`);
      this.outbox.kick();
    }
    return changed;
  }

  /** failed → processing for an operator's retry (dead letters), with the work request in the same transaction. */
  async reopenFailed(assetId: string, enqueue: (m: EntityManager, a: MediaAsset) => Promise<void>): Promise<MediaAsset> {
    const current = await this.repo.find(assetId);
    if (!current || current.status === AssetStatus.Deleted) throw Errors.assetNotFound(assetId);
    if (current.status !== AssetStatus.Failed) {
      throw Errors.stateConflict(`Asset ${assetId} is ${current.status}; only a failed asset can be retried`, { status: current.status });
    }
    if (!(await this.storage.head(current.objectKey))) {
      throw Errors.stateConflict(`The uploaded object of asset ${assetId} is no longer stored; it cannot be processed again`);
    }
    const reopened = await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || a.status !== AssetStatus.Failed) {
        throw Errors.stateConflict(`Asset ${assetId} is ${a?.status ?? 'gone'}; only a failed asset can be retried`, { status: a?.status });
      }
      await this.repo.update(m, assetId, { status: AssetStatus.Processing, failureReason: null, processingStartedAt: new Date() });
      await enqueue(m, a);
      return Object.assign(a, { status: AssetStatus.Processing, failureReason: null });
    });
    await this.cache.invalidate(assetId);
    this.outbox.kick();
    return reopened;
  }

  /** `pending` assets created at least `olderThanMs` ago whose upload URL is not long expired (reconciliation). */
  findPendingForReconcile(olderThanMs: number, limit: number): Promise<MediaAsset[]> {
    return this.repo.findPendingOlderThan(olderThanMs, limit);
  }

  /** `processing` assets unchanged for `olderThanMs` (their job may be lost). */
  findStuckProcessing(olderThanMs: number, limit: number): Promise<MediaAsset[]> {
    return this.repo.findProcessingOlderThan(olderThanMs, limit);
  }

  /** Removes an object that processing wrote but no transition linked (e.g. its asset was deleted meanwhile). */
  releaseStrayObject(objectKey: string): Promise<void> {
    return this.objects.deleteUnlessStored(objectKey);
  }
}
