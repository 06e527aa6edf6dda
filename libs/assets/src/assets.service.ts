import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig, AssetAccess, assertAssetAccess, Errors, MetricsService, OutboxService, Principal, principalKeys } from '@app/core';
import { AssetCache, AssetCachePart, MetadataService, PartLoaders } from '@app/metadata';
import { ReplicationService, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import { CdnService } from '@app/cdn';
import { EntityManager } from 'typeorm';
import { AssetListFilters, buildListQuery, decodeCursor, DEFAULT_LIST_LIMIT, encodeCursor, parseTagFilter } from './asset-list.query';
import { reviveAsset } from './asset-record';
import { AssetsRepository, NewPendingAsset, OwnerUsage, PendingInsertOutcome } from './assets.repository';
import { ListAssetsQueryDto } from './list-assets.dto';
import { AssetStatus, MediaAsset } from './media-asset.entity';
import { ASSET_EVENT_TOPIC, OBJECT_DELETE_TOPIC } from './topics';
import { ObjectAccessTracker } from './object-access.tracker';
import { AssetEvent, AssetEventSubscriber, AssetEventType, StoredObjectGoneError } from './asset-events';

export interface AssetView {
  assetId: string;
  ownerId: string;
  filename: string;
  status: AssetStatus;
  mimeType: string;
  detectedMimeType: string | null;
  sizeBytes: number;
  checksumSha256: string | null;
  failureReason: string | null;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  readyAt: string | null;
  uploadExpiresAt: string | null;
  /** Storage class of the bytes (`STANDARD`, then `STANDARD_IA`, `GLACIER_IR` as they cool down); null until ready. */
  storageClass: string | null;
}

/** What processing found out about the stored bytes. */
export interface InspectionResult {
  sha256: string;
  size: number;
  detectedMimeType: string | null;
  metadata: Record<string, string>;
  /**
   * Where the verified bytes live from now on (a key of ObjectKeyLayout.stored). `fresh`: this job copied them
   * there, so the stored object is created at that key unless an identical one already exists (then the copy is
   * dropped). Not fresh: the job expects an identical stored object to exist and only adds a reference. Omitted:
   * the upload itself becomes the stored object (the foundation's behaviour).
   */
  storedAt?: { objectKey: string; fresh: boolean };
}

/** How failProcessing treats the uploaded object. */
export type FailedObjectDisposition =
  /** Remove it (the default: a rejected upload). */
  | 'delete'
  /** Keep it, so that an operator can retry (a dead-lettered job). */
  | 'keep'
  /** The job already copied it to `relocatedTo` (quarantine); the asset points there and the upload is removed. */
  | { relocatedTo: string };

/** What an operator sees of a stored object (GET /admin/objects/:sha256). */
export interface StoredObjectView {
  sha256: string;
  sizeBytes: number;
  refCount: number;
  storageClass: string;
  regions: { bucket: string; objectKey: string }[];
  createdAt: string;
  updatedAt: string;
  lastVerifiedAt: string | null;
  lastAccessedAt: string | null;
  /** `ok`, `missing` (reconcile found no region holding it) or `corrupt` (integrity scan); with why and since when. */
  integrity: string;
  integrityNote: string | null;
  integrityChangedAt: string | null;
}

export interface DownloadLink {
  url: string;
  expiresAt: string;
}

export interface AssetPage {
  items: AssetView[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** Asset records and stored objects: the rules for reading, finishing and deleting assets. */
/** The fields of an asset every client-facing shape shares (the API view, webhook event payloads). */
function assetSummary(a: MediaAsset): AssetEvent['asset'] & { status: AssetStatus } {
  return {
    assetId: a.assetId,
    ownerId: a.ownerId,
    filename: a.filename,
    status: a.status,
    mimeType: a.mimeType,
    detectedMimeType: a.detectedMimeType,
    sizeBytes: Number(a.sizeBytes),
    checksumSha256: a.checksumSha256,
    failureReason: a.failureReason,
  };
}

@Injectable()
export class AssetsService implements OnModuleInit {
  private readonly logger = new Logger('Assets');

  constructor(
    private readonly repo: AssetsRepository,
    private readonly metadata: MetadataService,
    private readonly cache: AssetCache,
    private readonly outbox: OutboxService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cdn: CdnService,
    private readonly replication: ReplicationService,
    private readonly metrics: MetricsService,
    private readonly access: ObjectAccessTracker,
  ) {}

  onModuleInit() {
    // Deleting a blob is follow-up work of a committed delete/dedup; skip keys a stored object still uses.
    this.outbox.register(OBJECT_DELETE_TOPIC, async ({ bucket, objectKey }: { bucket: string; objectKey: string }) => {
      if (bucket !== this.storage.bucket) throw new Error(`object.delete for unknown bucket ${bucket}`);
      if (await this.repo.isStoredObjectKey(bucket, objectKey)) return;
      await this.storage.delete(objectKey);
    });
    // Asset events: every subscriber, in registration order; a throw redelivers the whole message later.
    this.outbox.register(ASSET_EVENT_TOPIC, async (event: AssetEvent) => {
      for (const subscriber of this.eventSubscribers.values()) await subscriber(event);
    });
  }

  private readonly eventSubscribers = new Map<string, AssetEventSubscriber>();

  /** Registers an idempotent handler for asset events (see asset-events.ts); one per name. */
  subscribe(name: string, subscriber: AssetEventSubscriber): void {
    if (this.eventSubscribers.has(name)) throw new Error(`asset event subscriber "${name}" is registered twice`);
    this.eventSubscribers.set(name, subscriber);
  }

  /** Writes an asset event to the outbox inside the transaction that made the change. */
  private async appendEvent(m: EntityManager, type: AssetEventType, a: MediaAsset): Promise<void> {
    const event: AssetEvent = {
      id: randomUUID(),
      type,
      occurredAt: new Date().toISOString(),
      asset: assetSummary(a),
    };
    await this.outbox.append(m, ASSET_EVENT_TOPIC, event as unknown as Record<string, unknown>);
  }

  /**
   * Creates the pending asset with its metadata and grants if it fits the owner's quota, atomically and in one
   * database round trip (see AssetsRepository.insertPendingWithQuota); the quota rules are the caller's.
   */
  createPendingWithQuota(a: NewPendingAsset, defaultLimits: { maxBytes: number; maxAssets: number }, m?: EntityManager): Promise<PendingInsertOutcome> {
    return this.repo.insertPendingWithQuota(a, defaultLimits, m);
  }

  /**
   * The asset record through the hot cache, or null when there is none (deleted assets are returned, with their
   * status). No access check: who may see it is the access policy's business (see @RequireAssetAccess).
   */
  async getRecord(assetId: string): Promise<MediaAsset | null> {
    return (await this.getRecordWith(assetId, {})).record;
  }

  /**
   * The record plus other cached parts of the asset (e.g. its ACL, for the access policy) in one cache round trip;
   * `others` load each part from Postgres on a miss.
   */
  async getRecordWith<T extends Partial<Record<Exclude<AssetCachePart, 'record'>, unknown>>>(
    assetId: string,
    others: PartLoaders<T>,
  ): Promise<{ record: MediaAsset | null } & { [K in keyof T]: T[K] | null }> {
    const parts = await this.cache.getMany<T & { record: MediaAsset }>(
      assetId,
      { ...others, record: () => this.repo.findForView(assetId) } as PartLoaders<T & { record: MediaAsset }>,
      { requires: 'record' }, // nothing is cached about an asset that does not exist
    );
    return { ...parts, record: parts.record ? reviveAsset(parts.record) : null };
  }

  /** The record of an asset the caller was granted access to; 404 when it has gone meanwhile. */
  private async getAccessible(access: AssetAccess): Promise<MediaAsset> {
    const a = await this.getRecord(access.assetId);
    if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(access.assetId);
    return a;
  }

  async view(access: AssetAccess): Promise<AssetView> {
    assertAssetAccess(access, 'read');
    const { record: a, metadata } = await this.getRecordWith<{ metadata: Record<string, string> }>(access.assetId, {
      metadata: () => this.metadata.getMap(access.assetId),
    });
    if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(access.assetId);
    return this.toView(a, metadata ?? {});
  }

  /** One page of the assets the caller can read (owned, or granted `read` to its user, a group or `*`). */
  async list(q: ListAssetsQueryDto, principal: Principal): Promise<AssetPage> {
    const filters: AssetListFilters = {
      owner: q.owner,
      statuses: q.status as AssetStatus[] | undefined,
      mimeTypePrefix: q.mimeType,
      tags: q.tag?.map(parseTagFilter),
      createdFrom: q.createdFrom,
      createdTo: q.createdTo,
    };
    const limit = q.limit ?? DEFAULT_LIST_LIMIT;
    const after = q.cursor ? decodeCursor(q.cursor, filters) : undefined;
    const rows = await this.repo.list(buildListQuery({ userId: principal.userId, principals: principalKeys(principal) }, filters, limit, after));
    const page = rows.slice(0, limit);
    const [metadata, classes] = await Promise.all([
      this.metadata.getMaps(page.map((r) => r.assetId)),
      this.repo.storageClasses([...new Set(page.map((r) => r.storedObjectSha256).filter((x): x is string => !!x))]),
    ]);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => this.toView(reviveAsset({ ...r, storageClass: r.storedObjectSha256 ? (classes.get(r.storedObjectSha256) ?? null) : null }), metadata.get(r.assetId) ?? {})),
      nextCursor: rows.length > limit && last ? encodeCursor({ us: last.cursorUs, id: last.assetId }, filters) : null,
    };
  }

  /** What counts against the owner's quota; inside a transaction (`m`) the owner's usage stays locked until commit. */
  usage(ownerId: string, m?: EntityManager): Promise<OwnerUsage> {
    return this.repo.usage(ownerId, m);
  }

  toView(a: MediaAsset, metadata: Record<string, string>): AssetView {
    return {
      ...assetSummary(a),
      metadata,
      createdAt: a.createdAt.toISOString(),
      updatedAt: a.updatedAt.toISOString(),
      readyAt: a.readyAt?.toISOString() ?? null,
      uploadExpiresAt: a.status === AssetStatus.Pending ? a.uploadExpiresAt.toISOString() : null,
      storageClass: a.status === AssetStatus.Ready ? (a.storageClass ?? 'STANDARD') : null,
    };
  }

  async downloadLink(access: AssetAccess): Promise<DownloadLink> {
    assertAssetAccess(access, 'read');
    const a = await this.getAccessible(access);
    if (a.status !== AssetStatus.Ready) throw Errors.assetNotReady(a.assetId, a.status);
    // CloudFront signed URL, or (CDN_PROVIDER=none) a content-addressed storage URL in a healthy region holding it.
    // An anonymous caller got here only through a `*` read grant: the asset is public (plain CDN URL, shared-cacheable).
    // Reads keep objects warm (tiering): a cheap, deduplicated touch, flushed to stored_objects in batches.
    if (a.storedObjectSha256) this.access.touch(a.storedObjectSha256);
    const link = await this.cdn.readUrl({
      key: a.objectKey,
      filename: a.filename,
      contentType: a.detectedMimeType ?? a.mimeType,
      sha256: a.checksumSha256,
      publicRead: access.principal === null,
    });
    // A plain CDN URL does not expire; it is promised for the usual download lifetime.
    return { url: link.url, expiresAt: (link.expiresAt ?? new Date(Date.now() + this.config.DOWNLOAD_URL_TTL_SECONDS * 1000)).toISOString() };
  }

  /**
   * Marks the asset deleted and releases its bytes: the stored object loses one reference and is removed
   * (through the outbox, after commit) only when none are left.
   */
  async delete(access: AssetAccess): Promise<void> {
    assertAssetAccess(access, 'delete');
    const assetId = access.assetId;
    await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(assetId);
      await this.repo.update(m, assetId, { status: AssetStatus.Deleted, deletedAt: new Date(), storedObjectSha256: null });
      // Links handed out for it may sit in the CDN: drop those copies once this commits (no-op without a CDN).
      if (a.status === AssetStatus.Ready) await this.cdn.requestInvalidation(m, [a.objectKey]);
      if (a.storedObjectSha256) {
        const released = await this.repo.dereference(m, a.storedObjectSha256);
        if (released) await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: released.bucket, objectKey: released.objectKey });
      } else {
        await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: a.bucket, objectKey: a.objectKey });
      }
      await this.appendEvent(m, 'asset.deleted', Object.assign(a, { status: AssetStatus.Deleted }));
    });
    await this.cache.invalidate(assetId);
    this.outbox.kick();
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
        throw Errors.stateConflict(`Asset ${assetId} is ${a.status}: its upload is finished and can no longer be aborted (DELETE /media/${assetId} removes it)`, {
          status: a.status,
        });
      }
      await this.repo.update(m, assetId, { status: AssetStatus.Deleted, deletedAt: new Date() });
      await alsoInTransaction(m);
      await this.appendEvent(m, 'asset.deleted', Object.assign(a, { status: AssetStatus.Deleted }));
      return true;
    });
    if (changed) {
      await this.cache.invalidate(assetId);
      this.outbox.kick();
    }
    return changed;
  }

  /**
   * pending → processing, with the processing request written in the same transaction (`enqueue`).
   * Idempotent: an asset already processing or finished is left as it is. Returns the resulting status.
   * No access check here: the route (`write` on the asset) or the system (sweeps) decides who may call it.
   */
  async beginProcessing(assetId: string, enqueue: (m: EntityManager, a: MediaAsset) => Promise<void>): Promise<AssetStatus> {
    const current = await this.repo.find(assetId);
    if (!current || current.status === AssetStatus.Deleted) throw Errors.assetNotFound(assetId);
    if (current.status !== AssetStatus.Pending) return current.status;
    const info = await this.storage.head(current.objectKey);
    if (!info) throw Errors.objectNotUploaded(assetId);
    const status = await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(assetId);
      if (a.status !== AssetStatus.Pending) return a.status;
      await this.repo.update(m, assetId, { status: AssetStatus.Processing, processingStartedAt: new Date() });
      await enqueue(m, a);
      return AssetStatus.Processing;
    });
    if (status === AssetStatus.Processing) await this.cache.invalidate(assetId);
    this.outbox.kick();
    return status;
  }

  /** The asset as processing sees it (no owner check). */
  findForProcessing(assetId: string): Promise<MediaAsset | null> {
    return this.repo.find(assetId);
  }

  /**
   * processing → ready: links the asset to the stored object with its checksum (dedup: when identical bytes
   * are already stored, the asset points at them and its own upload is deleted), writes extracted metadata.
   * Runs at most once per asset however often it is called.
   */
  async completeProcessing(
    assetId: string,
    result: InspectionResult,
    /** More work for the same transaction (e.g. linking derived media); runs only when the asset becomes ready. */
    alsoInTransaction?: (m: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    const changed = await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || a.status !== AssetStatus.Processing) return false;
      const storedAt = result.storedAt;
      let obj: { bucket: string; objectKey: string };
      if (storedAt && !storedAt.fresh) {
        // Share an existing object; the row lock taken by the increment serialises us with a concurrent release.
        const shared = await this.repo.referenceExisting(m, result.sha256);
        if (!shared) throw new StoredObjectGoneError(result.sha256);
        obj = shared;
        // An earlier run of this job (killed after copying) may have left a copy at this asset's key.
        if (shared.objectKey !== storedAt.objectKey) await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: a.bucket, objectKey: storedAt.objectKey });
      } else {
        const location = storedAt?.objectKey ?? a.objectKey;
        obj = await this.repo.reference(m, result.sha256, { bucket: a.bucket, objectKey: location, sizeBytes: String(result.size) });
        if (storedAt && (obj.bucket !== a.bucket || obj.objectKey !== storedAt.objectKey)) {
          // An identical object won the race: our copy is not needed.
          await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: a.bucket, objectKey: storedAt.objectKey });
        }
      }
      if (obj.bucket !== a.bucket || obj.objectKey !== a.objectKey) {
        await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: a.bucket, objectKey: a.objectKey });
      }
      await this.metadata.replaceExtracted(m, assetId, result.metadata);
      const patch = {
        status: AssetStatus.Ready,
        checksumSha256: result.sha256,
        detectedMimeType: result.detectedMimeType,
        storedObjectSha256: result.sha256,
        bucket: obj.bucket,
        objectKey: obj.objectKey,
        readyAt: new Date(),
        failureReason: null,
        // CDN registration: the URL the CDN serves the object under (null without a CDN).
        cdnUrl: this.cdn.registrationUrl(obj.objectKey),
      };
      await this.repo.update(m, assetId, patch);
      // Copy the object to every other storage region once this commits (no-op with one region).
      await this.replication.requestReplication(m, { bucket: obj.bucket, key: obj.objectKey, sizeBytes: String(result.size) });
      await alsoInTransaction?.(m);
      await this.appendEvent(m, 'asset.ready', Object.assign(a, patch));
      return true;
    });
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
    const changed = await this.repo.transaction(async (m) => {
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
      if (disposition !== 'keep') await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: a.bucket, objectKey: a.objectKey });
      await this.appendEvent(m, patch.status === AssetStatus.Quarantined ? 'asset.quarantined' : 'asset.failed', Object.assign(a, patch));
      return true;
    });
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

  // ---- operators and sweeps (issue 4) ----------------------------------------------------------------

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

  /** Removes an object that processing wrote but nothing references (e.g. its asset was deleted meanwhile). */
  async releaseStrayObject(objectKey: string): Promise<void> {
    if (await this.repo.isStoredObjectKey(this.storage.bucket, objectKey)) return;
    await this.storage.delete(objectKey);
  }

  /** Whether an object with these bytes is stored (a hint: completeProcessing re-checks under lock). */
  async hasStoredObject(sha256: string): Promise<boolean> {
    return (await this.repo.findStoredObject(sha256)) !== null;
  }

  /** The stored object with this checksum, for operators; 404 when there is none. */
  async storedObjectView(sha256: string): Promise<StoredObjectView> {
    const o = await this.repo.findStoredObject(sha256);
    if (!o) throw Errors.notFound(`No stored object has SHA-256 ${sha256}`);
    return {
      sha256: o.checksumSha256,
      sizeBytes: Number(o.sizeBytes),
      refCount: o.refCount,
      storageClass: o.storageClass,
      regions: [{ bucket: o.bucket, objectKey: o.objectKey }],
      createdAt: o.createdAt.toISOString(),
      updatedAt: o.updatedAt.toISOString(),
      lastVerifiedAt: o.lastVerifiedAt?.toISOString() ?? null,
      lastAccessedAt: o.lastAccessedAt?.toISOString() ?? null,
      integrity: o.integrity,
      integrityNote: o.integrityNote,
      integrityChangedAt: o.integrityChangedAt?.toISOString() ?? null,
    };
  }
}
