import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  ASSET_ACCESS_POLICY,
  AssetAccess,
  AssetAccessPolicy,
  assertAssetAccess,
  AppError,
  Errors,
  OutboxService,
  Principal,
} from '@app/core';
import { AssetCache } from '@app/asset-cache';
import { AssetQueryService, AssetStateService, AssetStatus, AssetViewDto, checkQuota, QuotaService } from '@app/assets';
import { CdnService } from '@app/cdn';
import { checkBucketName, checkPath, DEFAULT_BUCKET } from './bucket-rules';
import { BucketsRepository } from './buckets.repository';
import { BucketsService } from './buckets.service';
import { AssetAddressDto, BatchDeleteDto, BatchDeleteResultDto, MAX_BATCH_DELETE } from './asset-moves.dto';

const BATCH_CHUNK = 100;

/** Move (rename), copy and batch delete: metadata operations, the bytes stay where they are. */
@Injectable()
export class AssetMovesService {
  constructor(
    private readonly repo: BucketsRepository,
    private readonly buckets: BucketsService,
    private readonly assets: AssetQueryService,
    private readonly state: AssetStateService,
    private readonly cache: AssetCache,
    private readonly cdn: CdnService,
    private readonly outbox: OutboxService,
    private readonly quota: QuotaService,
    @Inject(ASSET_ACCESS_POLICY) private readonly policy: AssetAccessPolicy,
  ) {}

  /** New address for the asset (needs `write` on it and on the target bucket); cache and CDN copies are dropped. */
  async move(access: AssetAccess, dto: AssetAddressDto, principal: Principal): Promise<AssetViewDto> {
    assertAssetAccess(access, 'write');
    const record = await this.assets.getRecord(access.assetId);
    if (!record) throw Errors.assetNotFound(access.assetId);
    const target = await this.checkTarget(principal, dto, record.container, record.mimeType, Number(record.sizeBytes));
    await this.repo.transaction(async (m) => {
      const a = await this.repo.lockAsset(m, access.assetId);
      if (!a || a.status === 'deleted') throw Errors.assetNotFound(access.assetId);
      await this.buckets.assignAddress(m, access.assetId, target);
      if (a.status === 'ready') await this.cdn.requestInvalidation(m, [a.objectKey]);
    });
    await this.cache.invalidate(access.assetId);
    this.outbox.kick();
    return this.assets.view(await this.policy.authorize(access.assetId, principal, 'read'));
  }

  /** A new ready asset owned by the caller sharing the stored object (needs `read` on the source, `write` on the target bucket). */
  async copy(access: AssetAccess, dto: AssetAddressDto, principal: Principal): Promise<AssetViewDto> {
    assertAssetAccess(access, 'read');
    const record = await this.assets.getRecord(access.assetId);
    if (!record || record.status === AssetStatus.Deleted) throw Errors.assetNotFound(access.assetId);
    const target = await this.checkTarget(
      principal,
      dto,
      record.container,
      record.detectedMimeType ?? record.mimeType,
      Number(record.sizeBytes),
    );
    // The copy counts against the caller's quota like an upload of its size (413/429 when it does not fit).
    const { limits, usage } = await this.quota.view(principal.userId);
    checkQuota(principal.userId, limits, usage, Number(record.sizeBytes));
    const newId = randomUUID();
    await this.repo.transaction(async (m) => {
      const a = await this.repo.lockAsset(m, access.assetId);
      if (!a || a.status === 'deleted') throw Errors.assetNotFound(access.assetId);
      if (a.status !== 'ready' || !a.storedObjectSha256) throw Errors.assetNotReady(access.assetId, a.status);
      if (!(await this.buckets.bucketExistsLocked(m, target.container))) throw Errors.bucketNotFound(target.container);
      const copied = await this.repo.copyReady(m, {
        sourceId: access.assetId,
        sha256: a.storedObjectSha256,
        newId,
        ownerId: principal.userId,
        container: target.container,
        path: target.path,
      });
      if (!copied) throw Errors.assetNotReady(access.assetId, 'deleted');
    });
    return this.assets.view(await this.policy.authorize(newId, principal, 'read'));
  }

  private checkTarget(principal: Principal, dto: AssetAddressDto, current: string, mimeType: string, sizeBytes: number) {
    const bucket = dto.bucket === undefined ? current : checkBucketName(dto.bucket, 'bucket');
    return this.buckets.checkUpload(principal, { bucket, path: dto.path, mimeType, sizeBytes }).then((t) => t!);
  }

  /**
   * Deletes each entry the caller may delete, independently: 204 deleted, 403 readable but not deletable, 404 not
   * found or not readable. Chunks of 100 are deleted in one transaction each, through the normal delete path.
   */
  async batchDelete(dto: BatchDeleteDto, principal: Principal): Promise<BatchDeleteResultDto[]> {
    const ids = dto.ids ?? [];
    const paths = dto.paths ?? [];
    if (!ids.length && !paths.length) throw Errors.validation('Give ids and/or paths (with bucket) to delete', { field: 'ids' });
    if (ids.length + paths.length > MAX_BATCH_DELETE) {
      throw Errors.validation(`At most ${MAX_BATCH_DELETE} entries per batch (ids and paths together)`, { limit: MAX_BATCH_DELETE });
    }
    const bucket = dto.bucket === undefined ? DEFAULT_BUCKET : checkBucketName(dto.bucket, 'bucket');
    const checkedPaths = paths.map((p, i) => checkPath(p, `paths[${i}]`));
    const entries: { result: BatchDeleteResultDto; assetId: string | null }[] = [
      ...ids.map((id) => ({ result: { id, status: 404 as const }, assetId: id.toLowerCase() })),
      ...checkedPaths.map((path) => ({ result: { path, status: 404 as const }, assetId: null as string | null })),
    ];
    for (const e of entries) {
      if (e.result.path !== undefined) e.assetId = (await this.repo.findLiveByPath(bucket, e.result.path))?.assetId ?? null;
    }
    for (let i = 0; i < entries.length; i += BATCH_CHUNK) {
      const chunk = entries.slice(i, i + BATCH_CHUNK);
      const allowed: { entry: (typeof entries)[number]; access: AssetAccess }[] = [];
      for (const entry of chunk) {
        if (!entry.assetId) continue;
        try {
          allowed.push({ entry, access: await this.policy.authorize(entry.assetId, principal, 'delete') });
        } catch (e) {
          if (!(e instanceof AppError) || (e.statusCode !== 403 && e.statusCode !== 404)) throw e;
          entry.result.status = e.statusCode;
        }
      }
      if (!allowed.length) continue;
      const deleted = await this.state.deleteMany(allowed.map((a) => a.access));
      for (const { entry } of allowed) entry.result.status = deleted.has(entry.assetId!) ? 204 : 404;
    }
    return entries.map((e) => e.result);
  }
}
