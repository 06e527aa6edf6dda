import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import {
  AssetAccess,
  assertAssetAccess,
  Errors,
  PROCESSING_CONFIG,
  ProcessingConfig,
  STORAGE_CONFIG,
  StorageConfig,
  TRANSFORM_CONFIG,
  TransformConfig,
} from '@app/core';
import { AssetEventsService, AssetQueryService, AssetStatus, DownloadLinkDto, MediaAsset } from '@app/assets';
import { CdnService } from '@app/cdn';
import { canGiveLocalFile, ObjectKeyLayout, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import { RenderLimiter } from '@app/transform';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DERIVATIVE_KINDS, DerivativeKind } from '../processing.constants';
import { DerivativeRow, DerivedMediaRepository } from './derived-media.repository';
import { DERIVABLE_IMAGE_TYPES, ImageSource, PixelLimitError, renderDerivatives } from './derived-media.renderer';

/** Images whose on-demand render failed (libvips cannot decode them), remembered so they are not decoded again. */
const UNRENDERABLE_MEMORY = 10_000;

/**
 * Thumbnails and previews. The kinds in DERIVED_MEDIA_EAGER are made by the processing job before the asset becomes
 * ready (objects written first, rows linked in the `ready` transaction); any other kind is rendered on its first
 * request, stored at the same key and linked the same way, so every later request finds it like an eager one.
 * Served through short-lived signed URLs, removed with the asset.
 */
@Injectable()
export class DerivedMediaService implements OnModuleInit {
  private readonly logger = new Logger('DerivedMedia');
  /** Kinds processing makes before `ready`. */
  readonly eager: readonly DerivativeKind[];
  /** On-demand renders: bounded like the transform route's (TRANSFORM_CONCURRENCY, queue, wait), 503 beyond. */
  private readonly limiter: RenderLimiter;
  /** One render per asset and kind at a time in this process: concurrent first requests wait for the same one. */
  private readonly inFlight = new Map<string, Promise<DerivativeRow | null>>();
  private readonly unrenderable = new Set<string>();

  constructor(
    private readonly repo: DerivedMediaRepository,
    private readonly assets: AssetQueryService,
    private readonly events: AssetEventsService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(PROCESSING_CONFIG) private readonly processing: ProcessingConfig,
    @Inject(STORAGE_CONFIG) private readonly storageConfig: StorageConfig,
    @Inject(TRANSFORM_CONFIG) transform: TransformConfig,
    private readonly cdn: CdnService,
    @InjectDataSource() private readonly ds: DataSource,
  ) {
    this.eager =
      processing.DERIVED_MEDIA_EAGER === 'none'
        ? []
        : DERIVATIVE_KINDS.filter((k) => processing.DERIVED_MEDIA_EAGER.split(',').includes(k));
    this.limiter = new RenderLimiter(transform.transformConcurrency, transform.TRANSFORM_QUEUE_SIZE, transform.TRANSFORM_QUEUE_WAIT_MS);
  }

  onModuleInit() {
    this.events.subscribe('derived-media', async (event) => {
      if (event.type === 'asset.deleted') await this.removeAll(event.asset.assetId);
    });
  }

  /** Renders the eager derivatives of the stored image and writes the objects; returns the rows to link. */
  async generate(asset: MediaAsset): Promise<DerivativeRow[]> {
    if (!this.eager.length) return [];
    return this.renderAndStore(asset, this.eager);
  }

  private async renderAndStore(asset: MediaAsset, kinds: readonly DerivativeKind[]): Promise<DerivativeRow[]> {
    const rendered = await renderDerivatives(await this.source(asset), kinds, this.processing.IMAGE_MAX_PIXELS);
    const rows: DerivativeRow[] = [];
    for (const d of rendered) {
      const objectKey = ObjectKeyLayout.derived(asset.assetId, d.kind);
      // Not flushed to disk before it appears (durable: false): a derivative is made again from its image.
      await this.storage.write({
        key: objectKey,
        body: Readable.from([d.data]),
        contentType: 'image/webp',
        contentLength: d.data.length,
        durable: false,
      });
      rows.push({
        assetId: asset.assetId,
        kind: d.kind,
        bucket: this.storage.bucket,
        objectKey,
        mimeType: 'image/webp',
        width: d.width,
        height: d.height,
        sizeBytes: d.data.length,
      });
    }
    return rows;
  }

  /** The local driver's file is opened by libvips itself (seekable, shrink-on-load); other stores are streamed. */
  private async source(asset: MediaAsset): Promise<ImageSource> {
    const file = canGiveLocalFile(this.storage) ? await this.storage.localFilePath({ key: asset.objectKey }) : null;
    return file ? { file } : { stream: await this.storage.read(asset.objectKey) };
  }

  link(m: EntityManager, rows: DerivativeRow[]): Promise<void> {
    return this.repo.upsert(m, rows);
  }

  /** Removes objects written for an asset that did not become ready after all. */
  async discard(rows: DerivativeRow[]): Promise<void> {
    for (const r of rows)
      await this.storage
        .delete(r.objectKey)
        .catch((e: Error) => this.logger.warn(`could not remove ${r.kind} of ${r.assetId}: ${e.message}`));
  }

  /** Objects first, then rows: a retry after a failure finds the rows and finishes the job. */
  async removeAll(assetId: string): Promise<void> {
    const rows = await this.repo.list(assetId);
    // The CDN may hold thumbnail links handed out before: invalidate them (durably, through the outbox) first.
    if (rows.length)
      await this.ds.transaction((m) =>
        this.cdn.requestInvalidation(
          m,
          rows.map((r) => r.objectKey),
        ),
      );
    for (const r of rows) await this.storage.delete(r.objectKey);
    if (rows.length) await this.repo.removeAll(assetId);
  }

  /**
   * A signed URL for the asset's derivative; 409 unless ready, 404 when the asset has none (not an image, or one
   * libvips cannot decode). A derivative not made yet (not eager) is rendered now, stored and linked.
   */
  async signedUrl(access: AssetAccess, kind: DerivativeKind): Promise<DownloadLinkDto> {
    assertAssetAccess(access, 'read');
    const a = await this.assets.getRecord(access.assetId);
    if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(access.assetId);
    if (a.status !== AssetStatus.Ready) throw Errors.assetNotReady(a.assetId, a.status);
    let d = await this.repo.find(a.assetId, kind);
    // Written without fsync on the local driver: after a power loss its file may be short or gone; made again.
    if (d && !(await this.intact(d))) d = await this.renderOnDemand(a, kind, true);
    d ??= await this.renderOnDemand(a, kind);
    if (!d) throw Errors.notFound(`Asset ${a.assetId} has no ${kind} (only images get one)`);
    // CloudFront signed URL (plain for public assets), or a storage-signed URL without a CDN.
    const link = await this.cdn.readUrl({ key: d.objectKey, contentType: d.mimeType, publicRead: access.principal === null });
    return {
      url: link.url,
      expiresAt: (link.expiresAt ?? new Date(Date.now() + this.storageConfig.DOWNLOAD_URL_TTL_SECONDS * 1000)).toISOString(),
    };
  }

  /**
   * On the local driver (the one that writes derivatives without fsync), the file holds the size the row recorded.
   * Other stores make a write durable before they acknowledge it.
   */
  private async intact(d: DerivativeRow): Promise<boolean> {
    if (!canGiveLocalFile(this.storage)) return true;
    const file = await this.storage.localFilePath({ key: d.objectKey });
    const st = file ? await stat(file).catch(() => null) : null;
    return st?.size === d.sizeBytes;
  }

  /**
   * null when the asset gets no such derivative: not a derivable image, derived media off, or undecodable. `again`:
   * the linked object is damaged, render it anew even though a row exists.
   */
  private renderOnDemand(asset: MediaAsset, kind: DerivativeKind, again = false): Promise<DerivativeRow | null> {
    const key = `${asset.assetId}:${kind}`;
    if (!this.processing.DERIVED_MEDIA_ENABLED || !asset.detectedMimeType || !DERIVABLE_IMAGE_TYPES.has(asset.detectedMimeType))
      return Promise.resolve(null);
    if (this.unrenderable.has(key)) return Promise.resolve(null);
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.limiter.run(() => this.renderAndLink(asset, kind, again)).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async renderAndLink(asset: MediaAsset, kind: DerivativeKind, again: boolean): Promise<DerivativeRow | null> {
    // Another process (or a request just before) may have made it meanwhile.
    const existing = await this.repo.find(asset.assetId, kind);
    if (existing && (!again || (await this.intact(existing)))) return existing;
    let row: DerivativeRow;
    try {
      [row] = await this.renderAndStore(asset, [kind]);
    } catch (e) {
      if ((e as Error).name?.startsWith('Storage')) throw e; // the store is unreachable: 503, not "no preview"
      if (!(e instanceof PixelLimitError)) this.logger.warn({ assetId: asset.assetId }, `no ${kind}: ${(e as Error).message}`);
      if (this.unrenderable.size >= UNRENDERABLE_MEMORY) this.unrenderable.clear();
      this.unrenderable.add(`${asset.assetId}:${kind}`);
      return null;
    }
    // Linked only while the asset is still ready (its row locked against a delete meanwhile); else the object goes.
    if (!(await this.repo.insertIfReady(row))) {
      await this.storage.delete(row.objectKey).catch(() => undefined);
      throw Errors.assetNotFound(asset.assetId);
    }
    return row;
  }
}
