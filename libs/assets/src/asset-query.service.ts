import { Inject, Injectable } from '@nestjs/common';
import {
  AssetAccess,
  assertAssetAccess,
  Errors,
  handOffAssetParts,
  Principal,
  principalKeys,
  STORAGE_CONFIG,
  StorageConfig,
  takeAssetParts,
} from '@app/core';
import { AssetCache, PartLoaders } from '@app/asset-cache';
import { MetadataService } from '@app/metadata';
import { CdnService } from '@app/cdn';
import { EntityManager } from 'typeorm';
import {
  AssetListFilters,
  buildListQuery,
  tieDistance,
  tiedPage,
  decodeCursor,
  DEFAULT_LIST_LIMIT,
  encodeCursor,
  parseTagFilter,
  rankedPage,
} from './asset-list.query';
import { assetSummary, reviveAsset } from './asset-record';
import { AssetPageDto, AssetViewDto, DownloadLinkDto, StoredObjectViewDto, UploadAssemblyDto } from './asset-view.dto';
import { AssetParts, AssetsRepository } from './assets.repository';
import { ListAssetsQueryDto } from './list-assets.dto';
import { AssetStatus, MediaAsset } from './media-asset.entity';
import { ObjectAccessTracker } from './object-access.tracker';

/**
 * Reading assets: the record through the hot cache, the client's view of one asset, pages of the assets a caller
 * can read, download links, and the operators' view of a stored object. Nothing here changes an asset.
 */
@Injectable()
export class AssetQueryService {
  /** Where a pending asset's multipart upload stands (registered by the upload module; null: not multipart). */
  private uploadState?: (assetId: string) => Promise<UploadAssemblyDto | null>;

  constructor(
    private readonly repo: AssetsRepository,
    private readonly metadata: MetadataService,
    private readonly cache: AssetCache,
    @Inject(STORAGE_CONFIG) private readonly storageConfig: StorageConfig,
    private readonly cdn: CdnService,
    private readonly access: ObjectAccessTracker,
  ) {}

  /** The upload module tells pending assets' views where their multipart upload stands. */
  registerUploadState(source: (assetId: string) => Promise<UploadAssemblyDto | null>): void {
    this.uploadState = source;
  }

  /**
   * The asset record through the hot cache, or null when there is none (deleted assets are returned, with their
   * status). No access check: who may see it is the access policy's business (see @RequireAssetAccess).
   */
  async getRecord(assetId: string): Promise<MediaAsset | null> {
    return (await this.getRecordWith(assetId)).record;
  }

  /**
   * The record plus other cached parts of the asset (its ACL for the access policy, its metadata for the view) in one
   * cache round trip. Whatever is not cached comes from ONE query (AssetsRepository.findWithParts: record, metadata
   * and grants together), whose parts are then handed to the next read of the same HTTP request: the access check
   * and the view of GET /media/{id} cost one query together when the cache is off or cold. `handOff`: the access
   * check's read, whose parts the next read of this request takes (once).
   */
  async getRecordWith<P extends 'acl' | 'metadata' = never>(
    assetId: string,
    others: readonly P[] = [],
    opts: { handOff?: boolean } = {},
  ): Promise<{ record: MediaAsset | null } & { [K in P]: AssetParts[K] | null }> {
    // What the access check of this request read (once: later reads, e.g. a long-poll's, read afresh). Answered as
    // it is and never written to the cache: the asset may have changed since it was read, and a fill now would
    // carry that old state past the invalidation (under the generation read now), where no later reader sees
    // through it until the entry expires.
    const handed = takeAssetParts<AssetParts | null>(assetId);
    if (handed !== undefined) {
      const got: Record<string, unknown> = { record: handed?.record ? reviveAsset(handed.record) : null };
      for (const p of others) got[p] = handed?.[p] ?? null;
      return got as { record: MediaAsset | null } & { [K in P]: AssetParts[K] | null };
    }
    let parts: Promise<AssetParts | null> | undefined;
    const load = () => {
      if (!parts) {
        parts = this.repo.findWithParts(assetId);
        if (opts.handOff)
          void parts.then(
            (p) => handOffAssetParts(assetId, p),
            () => undefined,
          );
      }
      return parts;
    };
    const loaders: PartLoaders<AssetParts> = {
      record: () => load().then((p) => p?.record ?? null),
      metadata: () => load().then((p) => p?.metadata ?? null),
      acl: () => load().then((p) => p?.acl ?? null),
    };
    const wanted = { record: loaders.record } as PartLoaders<Partial<AssetParts>>;
    for (const p of others) (wanted as Record<string, unknown>)[p] = loaders[p];
    const got = await this.cache.getMany<Partial<AssetParts>>(assetId, wanted, { requires: 'record' });
    return { ...got, record: got.record ? reviveAsset(got.record) : null } as { record: MediaAsset | null } & {
      [K in P]: AssetParts[K] | null;
    };
  }

  /** The record of an asset the caller was granted access to; 404 when it has gone meanwhile. */
  private async getAccessible(access: AssetAccess): Promise<MediaAsset> {
    const a = await this.getRecord(access.assetId);
    if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(access.assetId);
    return a;
  }

  async view(access: AssetAccess): Promise<AssetViewDto> {
    assertAssetAccess(access, 'read');
    const { record: a, metadata } = await this.getRecordWith(access.assetId, ['metadata']);
    if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(access.assetId);
    const view = this.toView(a, metadata ?? {});
    // Only while pending (one more query): afterwards the asset's status tells the rest.
    if (a.status === AssetStatus.Pending && this.uploadState) {
      const upload = await this.uploadState(a.assetId);
      if (upload) view.upload = upload;
    }
    return view;
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
      q: q.q,
    };
    const limit = q.limit ?? DEFAULT_LIST_LIMIT;
    const after = q.cursor ? decodeCursor(q.cursor, filters) : undefined;
    const query = buildListQuery({ userId: principal.userId, principals: principalKeys(principal) }, filters, limit, after);
    let rows = await this.repo.list(query);
    if (query.ranked) {
      const ranked = rankedPage(rows, limit, query.ranked.nearest);
      const distance = ranked ? null : tieDistance(rows, limit);
      rows =
        ranked ??
        (distance !== null
          ? tiedPage(rows, await this.repo.list(query.ranked.ties(distance)), distance, limit)
          : await this.repo.list(query.ranked.exact));
    }
    const page = rows.slice(0, limit);
    const metadata = await this.metadata.getMaps(page.map((r) => r.assetId));
    const last = page[page.length - 1];
    return {
      items: page.map((r) => this.toView(reviveAsset(r), metadata.get(r.assetId) ?? {})),
      nextCursor:
        rows.length > limit && last
          ? encodeCursor(
              { us: last.cursorUs, id: last.assetId, dist: last.distance === undefined ? undefined : String(last.distance) },
              filters,
            )
          : null,
    };
  }

  private toView(a: MediaAsset, metadata: Record<string, string>): AssetViewDto {
    return {
      ...assetSummary(a),
      bucket: a.container,
      path: a.path,
      metadata,
      createdAt: a.createdAt.toISOString(),
      updatedAt: a.updatedAt.toISOString(),
      readyAt: a.readyAt?.toISOString() ?? null,
      uploadExpiresAt: a.status === AssetStatus.Pending ? a.uploadExpiresAt.toISOString() : null,
      // The asset's own object's class (tiered by this asset's own reads), never the shared object's.
      storageClass: a.status === AssetStatus.Ready ? (a.storageClass ?? 'STANDARD') : null,
    };
  }

  async downloadLink(access: AssetAccess): Promise<DownloadLinkDto> {
    assertAssetAccess(access, 'read');
    const a = await this.getAccessible(access);
    if (a.status !== AssetStatus.Ready) throw Errors.assetNotReady(a.assetId, a.status);
    // CloudFront signed URL, or (CDN_PROVIDER=none) a content-addressed storage URL in a healthy region holding it.
    // An anonymous caller got here only through a `*` read grant: the asset is public (plain CDN URL, shared-cacheable).
    // Reads keep the asset's object warm (tiering): a cheap, deduplicated touch, flushed in batches.
    this.access.touch(a.assetId, a.storedObjectSha256);
    const link = await this.cdn.readUrl({
      key: a.objectKey,
      filename: a.filename,
      contentType: a.detectedMimeType ?? a.mimeType,
      sha256: a.checksumSha256,
      publicRead: access.principal === null,
      // The asset's own date: deduplicated bytes share one file (and its modification time) on the local driver.
      lastModified: a.readyAt ?? a.createdAt,
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
