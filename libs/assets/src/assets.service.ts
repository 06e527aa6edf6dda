import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig, Errors, OutboxService, Principal } from '@app/core';
import { MetadataService } from '@app/metadata';
import { STORAGE_DRIVER, StorageDriver } from '@app/storage';
import { EntityManager } from 'typeorm';
import { AssetsRepository, NewAsset } from './assets.repository';
import { AssetStatus, MediaAsset } from './media-asset.entity';
import { OBJECT_DELETE_TOPIC } from './topics';

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
}

/** What processing found out about the stored bytes. */
export interface InspectionResult {
  sha256: string;
  size: number;
  detectedMimeType: string | null;
  metadata: Record<string, string>;
}

export interface DownloadLink {
  url: string;
  expiresAt: string;
}

/** Asset records and stored objects: the rules for reading, finishing and deleting assets. */
@Injectable()
export class AssetsService implements OnModuleInit {
  private readonly logger = new Logger('Assets');

  constructor(
    private readonly repo: AssetsRepository,
    private readonly metadata: MetadataService,
    private readonly outbox: OutboxService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit() {
    // Deleting a blob is follow-up work of a committed delete/dedup; skip keys a stored object still uses.
    this.outbox.register(OBJECT_DELETE_TOPIC, async ({ bucket, objectKey }: { bucket: string; objectKey: string }) => {
      if (bucket !== this.storage.bucket) throw new Error(`object.delete for unknown bucket ${bucket}`);
      if (await this.repo.isStoredObjectKey(bucket, objectKey)) return;
      await this.storage.delete(objectKey);
    });
  }

  createPending(m: EntityManager, a: NewAsset): Promise<MediaAsset> {
    return this.repo.insert(m, a);
  }

  /** The asset as its owner sees it; anyone else gets 404 (existence is not leaked). */
  async getOwned(assetId: string, principal: Principal): Promise<MediaAsset> {
    const a = await this.repo.find(assetId);
    if (!a || a.status === AssetStatus.Deleted || a.ownerId !== principal.userId) throw Errors.assetNotFound(assetId);
    return a;
  }

  async view(assetId: string, principal: Principal): Promise<AssetView> {
    const a = await this.getOwned(assetId, principal);
    return this.toView(a, await this.metadata.getMap(a.assetId));
  }

  toView(a: MediaAsset, metadata: Record<string, string>): AssetView {
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
      metadata,
      createdAt: a.createdAt.toISOString(),
      updatedAt: a.updatedAt.toISOString(),
      readyAt: a.readyAt?.toISOString() ?? null,
      uploadExpiresAt: a.status === AssetStatus.Pending ? a.uploadExpiresAt.toISOString() : null,
    };
  }

  async downloadLink(assetId: string, principal: Principal): Promise<DownloadLink> {
    const a = await this.getOwned(assetId, principal);
    if (a.status !== AssetStatus.Ready) throw Errors.assetNotReady(a.assetId, a.status);
    const ttl = this.config.DOWNLOAD_URL_TTL_SECONDS;
    const url = await this.storage.presignGet({
      key: a.objectKey,
      expiresInSeconds: ttl,
      downloadFilename: a.filename,
      contentType: a.detectedMimeType ?? a.mimeType,
    });
    return { url, expiresAt: new Date(Date.now() + ttl * 1000).toISOString() };
  }

  /**
   * Marks the asset deleted and releases its bytes: the stored object loses one reference and is removed
   * (through the outbox, after commit) only when none are left.
   */
  async delete(assetId: string, principal: Principal): Promise<void> {
    await this.getOwned(assetId, principal);
    await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || a.status === AssetStatus.Deleted || a.ownerId !== principal.userId) throw Errors.assetNotFound(assetId);
      await this.repo.update(m, assetId, { status: AssetStatus.Deleted, deletedAt: new Date(), storedObjectSha256: null });
      if (a.storedObjectSha256) {
        const released = await this.repo.dereference(m, a.storedObjectSha256);
        if (released) await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: released.bucket, objectKey: released.objectKey });
      } else {
        await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: a.bucket, objectKey: a.objectKey });
      }
    });
    this.outbox.kick();
  }

  /**
   * pending → processing, with the processing request written in the same transaction (`enqueue`).
   * Idempotent: an asset already processing or finished is left as it is. Returns the resulting status.
   */
  async beginProcessing(
    assetId: string,
    principal: Principal,
    enqueue: (m: EntityManager, a: MediaAsset) => Promise<void>,
  ): Promise<AssetStatus> {
    const current = await this.getOwned(assetId, principal);
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
  async completeProcessing(assetId: string, result: InspectionResult): Promise<boolean> {
    const changed = await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || a.status !== AssetStatus.Processing) return false;
      const obj = await this.repo.reference(m, result.sha256, { bucket: a.bucket, objectKey: a.objectKey, sizeBytes: String(result.size) });
      if (obj.bucket !== a.bucket || obj.objectKey !== a.objectKey) {
        await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: a.bucket, objectKey: a.objectKey });
      }
      await this.metadata.replaceExtracted(m, assetId, result.metadata);
      await this.repo.update(m, assetId, {
        status: AssetStatus.Ready,
        checksumSha256: result.sha256,
        detectedMimeType: result.detectedMimeType,
        storedObjectSha256: result.sha256,
        bucket: obj.bucket,
        objectKey: obj.objectKey,
        readyAt: new Date(),
        failureReason: null,
      });
      return true;
    });
    if (changed) this.outbox.kick();
    return changed;
  }

  /** processing → failed (or quarantined) with a reason; the rejected upload is removed. */
  async failProcessing(
    assetId: string,
    reason: string,
    opts: { status?: AssetStatus.Failed | AssetStatus.Quarantined; detectedMimeType?: string | null; checksumSha256?: string } = {},
  ): Promise<boolean> {
    const changed = await this.repo.transaction(async (m) => {
      const a = await this.repo.lock(m, assetId);
      if (!a || a.status !== AssetStatus.Processing) return false;
      await this.repo.update(m, assetId, {
        status: opts.status ?? AssetStatus.Failed,
        failureReason: reason.slice(0, 2000),
        ...(opts.detectedMimeType !== undefined ? { detectedMimeType: opts.detectedMimeType } : {}),
      });
      await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: a.bucket, objectKey: a.objectKey });
      return true;
    });
    if (changed) {
      this.logger.warn({ assetId, reason }, `Asset ${assetId} failed processing`);
      this.outbox.kick();
    }
    return changed;
  }
}
