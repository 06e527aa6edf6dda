import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AssetAccess, assertAssetAccess, Errors, Principal, UPLOAD_CONFIG, UploadConfig } from '@app/core';
import { checkAclList } from '@app/acl';
import { AssetStateService, AssetStatus, QuotaService } from '@app/assets';
import { BucketsService } from '@app/buckets';
import { checkUserMetadataMap } from '@app/metadata';
import { ProcessingService } from '@app/processing';
import { ObjectKeyLayout, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import { DataSource, EntityManager } from 'typeorm';
import { InjectDataSource } from '@nestjs/typeorm';
import { CreateUploadUrlDto } from './create-upload-url.dto';
import { CompleteUploadResultDto, MultipartUploadDto, UploadUrlDto } from './upload-url.dto';
import { CompleteUploadDto } from './multipart/multipart.dto';
import { MultipartUploadService } from './multipart/multipart-upload.service';
import { planParts } from './multipart/part-plan';
import { UploadSessionRepository } from './multipart/upload-session.repository';

/** Step 1 of the pipeline: check the request, create the pending asset, sign where the bytes go. */
@Injectable()
export class UploadUrlService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly assets: AssetStateService,
    private readonly processing: ProcessingService,
    private readonly quota: QuotaService,
    private readonly multipart: MultipartUploadService,
    private readonly sessions: UploadSessionRepository,
    private readonly buckets: BucketsService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(UPLOAD_CONFIG) private readonly upload: UploadConfig,
  ) {}

  /** Whether this request gets a multipart session (explicitly, or by size when no single-request mode was asked for). */
  private wantsMultipart(dto: CreateUploadUrlDto): boolean {
    if (dto.multipart !== undefined) return dto.multipart;
    return dto.mode === undefined && dto.sizeBytes > this.upload.MULTIPART_THRESHOLD_BYTES && this.multipart.supported;
  }

  async create(dto: CreateUploadUrlDto, principal: Principal): Promise<UploadUrlDto | MultipartUploadDto> {
    if (this.wantsMultipart(dto)) return this.createMultipart(dto, principal);
    const checked = await this.checkAddressed(dto, principal);
    const assetId = randomUUID();
    const key = ObjectKeyLayout.upload(principal.userId, assetId);
    const ttl = Math.min(dto.expiresInSeconds ?? this.upload.UPLOAD_URL_TTL_SECONDS, this.upload.UPLOAD_URL_TTL_SECONDS);
    const expiresAt = new Date(Date.now() + ttl * 1000);
    // Sign first (no I/O for either driver), then record: a row never exists without a URL the client got.
    const target =
      dto.mode === 'post'
        ? await this.storage.presignPost({
            key,
            contentType: dto.mimeType,
            minBytes: dto.sizeBytes,
            maxBytes: dto.sizeBytes,
            expiresInSeconds: ttl,
          })
        : await this.storage.presignPut({
            key,
            contentType: dto.mimeType,
            contentLength: dto.sizeBytes,
            checksumSha256: dto.checksumSha256,
            expiresInSeconds: ttl,
          });
    await this.recordPending(dto, principal, checked, { assetId, objectKey: key, expiresAt });
    return target.method === 'PUT'
      ? { assetId, method: 'PUT', uploadUrl: target.url, headers: target.headers, expiresAt: expiresAt.toISOString() }
      : { assetId, method: 'POST', uploadUrl: target.url, fields: target.fields, expiresAt: expiresAt.toISOString() };
  }

  /**
   * Step 1 for large files: start a multipart upload in storage, then record the pending asset and its session
   * (quota reserved for the whole declared size until the session expires) and sign the first part URLs.
   */
  private async createMultipart(dto: CreateUploadUrlDto, principal: Principal): Promise<MultipartUploadDto> {
    if (dto.mode === 'post') throw Errors.validation('mode "post" cannot be combined with multipart: parts are PUT', { field: 'mode' });
    if (!this.multipart.supported) throw Errors.invalid(`The ${this.storage.kind} storage driver does not support multipart uploads`);
    if (dto.sizeBytes < 1) throw Errors.validation('A multipart upload needs sizeBytes of at least 1', { field: 'sizeBytes' });
    const checked = await this.checkAddressed(dto, principal, this.upload.MAX_MULTIPART_UPLOAD_BYTES, 'multipart upload');
    const plan = planParts(dto.sizeBytes, this.upload.MULTIPART_PART_SIZE_BYTES, this.upload.MULTIPART_MIN_PART_SIZE_BYTES);
    const assetId = randomUUID();
    const key = ObjectKeyLayout.upload(principal.userId, assetId);
    const ttl = Math.min(dto.expiresInSeconds ?? this.upload.MULTIPART_SESSION_TTL_SECONDS, this.upload.MULTIPART_SESSION_TTL_SECONDS);
    const expiresAt = new Date(Date.now() + ttl * 1000);
    const { uploadId, region } = await this.multipart.start(key, dto.mimeType, { partSize: plan.partSize, size: dto.sizeBytes });
    const session = {
      assetId,
      uploadId,
      objectKey: key,
      region: region ?? null,
      partSize: plan.partSize,
      partCount: plan.partCount,
      declaredSize: dto.sizeBytes,
      contentType: dto.mimeType,
      expiresAt,
    };
    try {
      // The pending asset (quota checked under the owner's lock) and its session commit together.
      await this.ds.transaction(async (m) => {
        await this.recordPending(dto, principal, checked, { assetId, objectKey: key, expiresAt }, m);
        await this.sessions.insert(m, session);
      });
    } catch (e) {
      await this.multipart.discard(key, uploadId);
      throw e;
    }
    return {
      assetId,
      method: 'MULTIPART',
      uploadId,
      partSize: plan.partSize,
      partCount: plan.partCount,
      parts: await this.multipart.initialParts(session),
      expiresAt: expiresAt.toISOString(),
    };
  }

  /**
   * Step 1 for uploads whose bytes arrive some other way (tus): the same checks (size limit, metadata, ACL, quota)
   * and the same pending asset, under a caller-chosen id and expiry, without a signed URL.
   */
  async createPendingUpload(
    dto: CreateUploadUrlDto,
    principal: Principal,
    opts: { assetId: string; expiresAt: Date },
  ): Promise<{ assetId: string; objectKey: string }> {
    const checked = await this.checkAddressed(dto, principal);
    const objectKey = ObjectKeyLayout.upload(principal.userId, opts.assetId);
    await this.recordPending(dto, principal, checked, { assetId: opts.assetId, objectKey, expiresAt: opts.expiresAt });
    return { assetId: opts.assetId, objectKey };
  }

  /** checkRequest plus the bucket's rules for the (bucket, path) asked for (see BucketsService.checkUpload). */
  private async checkAddressed(dto: CreateUploadUrlDto, principal: Principal, maxBytes?: number, what?: string) {
    const checked = this.checkRequest(dto, maxBytes, what);
    const address = await this.buckets.checkUpload(principal, dto);
    return { ...checked, address };
  }

  private checkRequest(
    dto: CreateUploadUrlDto,
    maxBytes = this.upload.MAX_UPLOAD_BYTES,
    what = 'upload',
  ): { metadata: ReturnType<typeof checkUserMetadataMap>; grants: ReturnType<typeof checkAclList> } {
    if (dto.sizeBytes > maxBytes) {
      throw Errors.payloadTooLarge(`sizeBytes ${dto.sizeBytes} exceeds the largest ${what} allowed (${maxBytes} bytes)`, {
        field: 'sizeBytes',
        limit: maxBytes,
      });
    }
    return { metadata: checkUserMetadataMap(dto.metadata, 'metadata'), grants: checkAclList(dto.acl, 'acl') };
  }

  private async recordPending(
    dto: CreateUploadUrlDto,
    principal: Principal,
    checked: Awaited<ReturnType<UploadUrlService['checkAddressed']>>,
    at: { assetId: string; objectKey: string; expiresAt: Date },
    m?: EntityManager,
  ): Promise<void> {
    const address = checked.address;
    // With a (bucket, path): the pending asset and its address commit together (409 PathTaken rolls both back).
    if (address && !m) return this.ds.transaction((tm) => this.recordPending(dto, principal, checked, at, tm));
    // Quota check + pending asset + its metadata and grants: one transaction, one database round trip.
    await this.quota.createPendingWithQuota(
      {
        assetId: at.assetId,
        ownerId: principal.userId,
        bucket: this.storage.bucket,
        objectKey: at.objectKey,
        mimeType: dto.mimeType,
        sizeBytes: dto.sizeBytes,
        filename: dto.filename,
        declaredChecksumSha256: dto.checksumSha256 ?? null,
        uploadExpiresAt: at.expiresAt,
        metadata: checked.metadata,
        acl: checked.grants,
      },
      m,
    );
    if (address && m) await this.buckets.assignAddress(m, at.assetId, address);
  }

  /**
   * Step 3: the client says the bytes are there (needs `write`). Idempotent; the work request is committed with the
   * status change. A multipart asset is assembled from `dto.parts` in the background first (MultipartUploadService.complete).
   */
  async complete(access: AssetAccess, dto: CompleteUploadDto = {}): Promise<CompleteUploadResultDto> {
    assertAssetAccess(access, 'write');
    const session = await this.multipart.findSession(access.assetId);
    if (session) return this.multipart.complete(access, session, dto.parts);
    return { assetId: access.assetId, status: await this.completeUpload(access.assetId) };
  }

  /** The completion itself, for callers that already decided who may finish the upload (tus, sweeps). Idempotent. */
  completeUpload(assetId: string): Promise<AssetStatus> {
    return this.assets.beginProcessing(assetId, (m, a) => this.processing.request(m, a));
  }
}
