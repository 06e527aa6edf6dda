import { Inject, Injectable } from '@nestjs/common';
import { AssetAccess, assertAssetAccess, Errors, Principal, principalKeys, STORAGE_CONFIG, StorageConfig } from '@app/core';
import { AssetCache, AssetCachePart, PartLoaders } from '@app/asset-cache';
import { MetadataService } from '@app/metadata';
import { CdnService } from '@app/cdn';
import { EntityManager } from 'typeorm';
import { AssetListFilters, buildListQuery, decodeCursor, DEFAULT_LIST_LIMIT, encodeCursor, parseTagFilter } from './asset-list.query';
import { assetSummary, reviveAsset } from './asset-record';
import { AssetPageDto, AssetViewDto, DownloadLinkDto, StoredObjectViewDto } from './asset-view.dto';
import { AssetsRepository } from './assets.repository';
import { ListAssetsQueryDto } from './list-assets.dto';
import { AssetStatus, MediaAsset } from './media-asset.entity';
import { ObjectAccessTracker } from './object-access.tracker';

/**
 * Reading assets: the record through the hot cache, the client's view of one asset, pages of the assets a caller
 * can read, download links, and the operators' view of a stored object. Nothing here changes an asset.
 */
@Injectable()
export class AssetQueryService {
  constructor(
    private readonly repo: AssetsRepository,
    private readonly metadata: MetadataService,
    private readonly cache: AssetCache,
    @Inject(STORAGE_CONFIG) private readonly storageConfig: StorageConfig,
    private readonly cdn: CdnService,
    private readonly access: ObjectAccessTracker,
  ) {}

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

  async view(access: AssetAccess): Promise<AssetViewDto> {
    assertAssetAccess(access, 'read');
    const { record: a, metadata } = await this.getRecordWith<{ metadata: Record<string, string> }>(access.assetId, {
      metadata: () => this.metadata.getMap(access.assetId),
    });
    if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(access.assetId);
    return this.toView(a, metadata ?? {});
  }

  /** One page of the assets the caller can read (owned, or granted `read` to its user, a group or `*`). */
  async list(q: ListAssetsQueryDto, principal: Principal): Promise<AssetPageDto> {
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
    const rows = await this.repo.list(
      buildListQuery({ userId: principal.userId, principals: principalKeys(principal) }, filters, limit, after),
    );
    const page = rows.slice(0, limit);
    const [metadata, classes] = await Promise.all([
      this.metadata.getMaps(page.map((r) => r.assetId)),
      this.repo.storageClasses([...new Set(page.map((r) => r.storedObjectSha256).filter((x): x is string => !!x))]),
    ]);
    const last = page[page.length - 1];
    return {
      items: page.map((r) =>
        this.toView(
          reviveAsset({ ...r, storageClass: r.storedObjectSha256 ? (classes.get(r.storedObjectSha256) ?? null) : null }),
          metadata.get(r.assetId) ?? {},
        ),
      ),
      nextCursor: rows.length > limit && last ? encodeCursor({ us: last.cursorUs, id: last.assetId }, filters) : null,
    };
  }

  private toView(a: MediaAsset, metadata: Record<string, string>): AssetViewDto {
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

  async downloadLink(access: AssetAccess): Promise<DownloadLinkDto> {
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
    return {
      url: link.url,
      expiresAt: (link.expiresAt ?? new Date(Date.now() + this.storageConfig.DOWNLOAD_URL_TTL_SECONDS * 1000)).toISOString(),
    };
  }

  /** The stored object with this checksum, for operators; 404 when there is none. */
  async storedObjectView(sha256: string): Promise<StoredObjectViewDto> {
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

  /** Whether the owner still has a ready asset with these bytes (what keeps an owner's renditions of them). */
  ownerHoldsReady(ownerId: string, sha256: string): Promise<boolean> {
    return this.repo.ownerHoldsReady(ownerId, sha256);
  }

  /**
   * The storage key of the asset's bytes when it is ready (what a CDN may have cached), else null. Read in the
   * caller's transaction `m`, so that an invalidation it writes commits with the change that needs it.
   */
  readyObjectKey(m: EntityManager, assetId: string): Promise<string | null> {
    return this.repo.readyObjectKey(m, assetId);
  }
}
