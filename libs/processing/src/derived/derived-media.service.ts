import { Readable } from 'node:stream';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AssetAccess, assertAssetAccess, Errors, PROCESSING_CONFIG, ProcessingConfig, STORAGE_CONFIG, StorageConfig } from '@app/core';
import { AssetEventsService, AssetQueryService, AssetStatus, DownloadLinkDto, MediaAsset } from '@app/assets';
import { CdnService } from '@app/cdn';
import { ObjectKeyLayout, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DerivativeKind } from '../processing.constants';
import { DerivativeRow, DerivedMediaRepository } from './derived-media.repository';
import { renderDerivatives } from './derived-media.renderer';

/**
 * Thumbnails and previews: made by the processing job before the asset becomes ready (objects written first,
 * rows linked in the `ready` transaction), served through short-lived signed URLs, removed with the asset.
 */
@Injectable()
export class DerivedMediaService implements OnModuleInit {
  private readonly logger = new Logger('DerivedMedia');

  constructor(
    private readonly repo: DerivedMediaRepository,
    private readonly assets: AssetQueryService,
    private readonly events: AssetEventsService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(PROCESSING_CONFIG) private readonly processing: ProcessingConfig,
    @Inject(STORAGE_CONFIG) private readonly storageConfig: StorageConfig,
    private readonly cdn: CdnService,
    @InjectDataSource() private readonly ds: DataSource,
  ) {}

  onModuleInit() {
    this.events.subscribe('derived-media', async (event) => {
      if (event.type === 'asset.deleted') await this.removeAll(event.asset.assetId);
    });
  }

  /** Renders every derivative of the stored image and writes the objects; returns the rows to link. */
  async generate(asset: MediaAsset): Promise<DerivativeRow[]> {
    const rendered = await renderDerivatives(await this.storage.read(asset.objectKey), this.processing.IMAGE_MAX_PIXELS);
    const rows: DerivativeRow[] = [];
    for (const d of rendered) {
      const objectKey = ObjectKeyLayout.derived(asset.assetId, d.kind);
      await this.storage.write({ key: objectKey, body: Readable.from([d.data]), contentType: 'image/webp', contentLength: d.data.length });
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

  /** A signed URL for the asset's derivative; 409 unless ready, 404 when the asset has none (not an image). */
  async signedUrl(access: AssetAccess, kind: DerivativeKind): Promise<DownloadLinkDto> {
    assertAssetAccess(access, 'read');
    const a = await this.assets.getRecord(access.assetId);
    if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(access.assetId);
    if (a.status !== AssetStatus.Ready) throw Errors.assetNotReady(a.assetId, a.status);
    const d = await this.repo.find(a.assetId, kind);
    if (!d) throw Errors.notFound(`Asset ${a.assetId} has no ${kind} (only images get one)`);
    // CloudFront signed URL (plain for public assets), or a storage-signed URL without a CDN.
    const link = await this.cdn.readUrl({ key: d.objectKey, contentType: d.mimeType, publicRead: access.principal === null });
    return {
      url: link.url,
      expiresAt: (link.expiresAt ?? new Date(Date.now() + this.storageConfig.DOWNLOAD_URL_TTL_SECONDS * 1000)).toISOString(),
    };
  }
}
