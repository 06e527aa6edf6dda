import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig, AssetAccess, assertAssetAccess, Errors, Principal } from '@app/core';
import { AclService, checkAclList } from '@app/acl';
import { AssetsService, AssetStatus } from '@app/assets';
import { checkUserMetadataMap, MetadataService } from '@app/metadata';
import { ProcessingService } from '@app/processing';
import { ObjectKeyLayout, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import { DataSource } from 'typeorm';
import { InjectDataSource } from '@nestjs/typeorm';
import { CreateUploadUrlDto } from './create-upload-url.dto';
import { QuotaService } from './quota/quota.service';

export interface UploadUrlResponse {
  assetId: string;
  method: 'PUT' | 'POST';
  uploadUrl: string;
  /** For PUT: send exactly these headers. */
  headers?: Record<string, string>;
  /** For POST: send these form fields, then the file as field "file". */
  fields?: Record<string, string>;
  expiresAt: string;
}

/** Step 1 of the pipeline: check the request, create the pending asset, sign where the bytes go. */
@Injectable()
export class UploadUrlService {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly assets: AssetsService,
    private readonly processing: ProcessingService,
    private readonly metadata: MetadataService,
    private readonly acl: AclService,
    private readonly quota: QuotaService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(dto: CreateUploadUrlDto, principal: Principal): Promise<UploadUrlResponse> {
    const checked = this.checkRequest(dto);
    const assetId = randomUUID();
    const key = ObjectKeyLayout.upload(principal.userId, assetId);
    const ttl = Math.min(dto.expiresInSeconds ?? this.config.UPLOAD_URL_TTL_SECONDS, this.config.UPLOAD_URL_TTL_SECONDS);
    const expiresAt = new Date(Date.now() + ttl * 1000);
    // Sign first (no I/O for either driver), then record: a row never exists without a URL the client got.
    const target =
      dto.mode === 'post'
        ? await this.storage.presignPost({ key, contentType: dto.mimeType, minBytes: dto.sizeBytes, maxBytes: dto.sizeBytes, expiresInSeconds: ttl })
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
   * Step 1 for uploads whose bytes arrive some other way (tus): the same checks (size limit, metadata, ACL, quota)
   * and the same pending asset, under a caller-chosen id and expiry, without a signed URL.
   */
  async createPendingUpload(
    dto: CreateUploadUrlDto,
    principal: Principal,
    opts: { assetId: string; expiresAt: Date },
  ): Promise<{ assetId: string; objectKey: string }> {
    const checked = this.checkRequest(dto);
    const objectKey = ObjectKeyLayout.upload(principal.userId, opts.assetId);
    await this.recordPending(dto, principal, checked, { assetId: opts.assetId, objectKey, expiresAt: opts.expiresAt });
    return { assetId: opts.assetId, objectKey };
  }

  private checkRequest(dto: CreateUploadUrlDto): { metadata: ReturnType<typeof checkUserMetadataMap>; grants: ReturnType<typeof checkAclList> } {
    if (dto.sizeBytes > this.config.MAX_UPLOAD_BYTES) {
      throw Errors.payloadTooLarge(`sizeBytes ${dto.sizeBytes} exceeds the largest upload allowed (${this.config.MAX_UPLOAD_BYTES} bytes)`, {
        field: 'sizeBytes',
        limit: this.config.MAX_UPLOAD_BYTES,
      });
    }
    return { metadata: checkUserMetadataMap(dto.metadata, 'metadata'), grants: checkAclList(dto.acl, 'acl') };
  }

  private async recordPending(
    dto: CreateUploadUrlDto,
    principal: Principal,
    checked: ReturnType<UploadUrlService['checkRequest']>,
    at: { assetId: string; objectKey: string; expiresAt: Date },
  ): Promise<void> {
    // Quota check + pending asset + its metadata and grants: one transaction, one database round trip.
    await this.quota.createPendingWithQuota({
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
    });
  }

  /** Step 3: the client says the bytes are there (needs `write`). Idempotent; the work request is committed with the status change. */
  async complete(access: AssetAccess): Promise<{ assetId: string; status: AssetStatus }> {
    assertAssetAccess(access, 'write');
    return { assetId: access.assetId, status: await this.completeUpload(access.assetId) };
  }

  /** The completion itself, for callers that already decided who may finish the upload (tus, sweeps). Idempotent. */
  completeUpload(assetId: string): Promise<AssetStatus> {
    return this.assets.beginProcessing(assetId, (m, a) => this.processing.request(m, a));
  }
}
