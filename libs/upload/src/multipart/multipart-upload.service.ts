import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AssetAccess, assertAssetAccess, Errors, UPLOAD_CONFIG, UploadConfig } from '@app/core';
import { AssetEventsService, AssetStateService, AssetStatus } from '@app/assets';
import { ProcessingService } from '@app/processing';
import {
  canMultipart,
  InvalidPartError,
  MultipartCapableStorage,
  STORAGE_DRIVER,
  StorageDriver,
  StorageNotFoundError,
  StoredPart,
} from '@app/storage';
import { PartListDto, SignedPartDto, SignedPartsDto } from '../upload-url.dto';
import { CompletedPartDto } from './multipart.dto';
import { INITIAL_SIGNED_PARTS, MAX_PARTS_PER_SIGN_REQUEST, partLength, PartPlan } from './part-plan';
import { UploadSession, UploadSessionRepository } from './upload-session.repository';

/**
 * Multipart uploads (S3 semantics, on any driver that has the capability): a session per pending asset, part URLs
 * signed on demand, the part list checked against what storage holds before the object is assembled, then the
 * ordinary completion pipeline. Bytes go from the client to storage; this service only signs and checks.
 */
@Injectable()
export class MultipartUploadService implements OnModuleInit {
  private readonly logger = new Logger('Multipart');

  constructor(
    private readonly sessions: UploadSessionRepository,
    private readonly assets: AssetStateService,
    private readonly events: AssetEventsService,
    private readonly processing: ProcessingService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(UPLOAD_CONFIG) private readonly upload: UploadConfig,
  ) {}

  /**
   * An asset deleted while its multipart upload was open (DELETE /media/{id} on a pending asset, or the abort route)
   * leaves parts in storage: drop them after the deletion committed. A store that refuses is logged, not retried
   * here (the outbox would redeliver forever); the lifecycle sweep of unfinished uploads gets it.
   */
  onModuleInit() {
    this.events.subscribe('multipart-uploads', async (event) => {
      if (event.type !== 'asset.deleted') return;
      const session = await this.sessions.find(event.asset.assetId);
      if (!session || session.storageReleased || session.state === 'completed' || session.state === 'completing') return;
      if (session.state === 'active') await this.sessions.transition(session.assetId, ['active'], 'aborted');
      try {
        await this.driver.abortMultipartUpload({ key: session.objectKey, uploadId: session.uploadId });
        await this.sessions.markStorageReleased(session.assetId);
      } catch (e) {
        this.logger.warn(
          { assetId: session.assetId, err: e instanceof Error ? e.message : String(e) },
          'storage did not abort the multipart upload of a deleted asset; the lifecycle job will retry',
        );
      }
    });
  }

  get supported(): boolean {
    return canMultipart(this.storage);
  }

  private get driver(): StorageDriver & MultipartCapableStorage {
    if (!canMultipart(this.storage)) throw Errors.invalid(`The ${this.storage.kind} storage driver does not support multipart uploads`);
    return this.storage;
  }

  findSession(assetId: string): Promise<UploadSession | null> {
    return this.sessions.find(assetId);
  }

  /** Starts the upload in storage (before anything is recorded: an upload nobody records is the lifecycle job's to abort). */
  start(key: string, contentType: string): Promise<{ uploadId: string; region?: string }> {
    return this.driver.createMultipartUpload({ key, contentType });
  }

  /** Best-effort cleanup of an upload that was started but never recorded (the request failed after `start`). */
  async discard(key: string, uploadId: string): Promise<void> {
    await this.driver
      .abortMultipartUpload({ key, uploadId })
      .catch((e) =>
        this.logger.warn(
          { key, err: e instanceof Error ? e.message : String(e) },
          'could not abort an unrecorded multipart upload; the lifecycle job will',
        ),
      );
  }

  /** Signs part URLs for an active session (each bound to its part's exact size). */
  async signParts(
    session: Pick<UploadSession, 'assetId' | 'uploadId' | 'objectKey' | 'partSize' | 'partCount' | 'declaredSize' | 'expiresAt'>,
    partNumbers: number[],
  ): Promise<SignedPartDto[]> {
    const plan: PartPlan = { partSize: session.partSize, partCount: session.partCount };
    const remaining = Math.floor((session.expiresAt.getTime() - Date.now()) / 1000);
    const ttl = Math.min(this.upload.UPLOAD_URL_TTL_SECONDS, remaining);
    if (ttl < 1)
      throw Errors.stateConflict(`The multipart upload of asset ${session.assetId} expired at ${session.expiresAt.toISOString()}`);
    const expiresAt = new Date(Date.now() + ttl * 1000).toISOString();
    const unique = [...new Set(partNumbers)].sort((a, b) => a - b);
    for (const n of unique) {
      if (n > plan.partCount) {
        throw Errors.validation(`Part ${n} does not exist: this upload has ${plan.partCount} part(s)`, {
          field: 'partNumbers',
          partNumber: n,
        });
      }
    }
    return Promise.all(
      unique.map(async (partNumber) => {
        const size = partLength(plan, session.declaredSize, partNumber);
        const p = await this.driver.presignUploadPart({
          key: session.objectKey,
          uploadId: session.uploadId,
          partNumber,
          contentLength: size,
          expiresInSeconds: ttl,
        });
        return { partNumber, url: p.url, method: p.method, headers: p.headers, size, expiresAt };
      }),
    );
  }

  /** The first part URLs handed out with a new session. */
  initialParts(session: Parameters<MultipartUploadService['signParts']>[0]): Promise<SignedPartDto[]> {
    const n = Math.min(session.partCount, INITIAL_SIGNED_PARTS);
    return this.signParts(
      session,
      Array.from({ length: n }, (_, i) => i + 1),
    );
  }

  /** POST /media/{id}/parts */
  async signMore(access: AssetAccess, partNumbers: number[]): Promise<SignedPartsDto> {
    assertAssetAccess(access, 'write');
    const session = await this.activeSession(access.assetId);
    if (partNumbers.length > MAX_PARTS_PER_SIGN_REQUEST)
      throw Errors.validation(`At most ${MAX_PARTS_PER_SIGN_REQUEST} part URLs are signed per request`);
    return { assetId: access.assetId, parts: await this.signParts(session, partNumbers) };
  }

  /** GET /media/{id}/parts: what storage holds so far, so a client can resume. */
  async listParts(access: AssetAccess): Promise<PartListDto> {
    assertAssetAccess(access, 'write');
    const session = await this.activeSession(access.assetId);
    const parts = await this.storedParts(session);
    if (!parts) throw Errors.stateConflict(`The multipart upload of asset ${access.assetId} no longer exists in storage`);
    return {
      assetId: access.assetId,
      uploadId: session.uploadId,
      partSize: session.partSize,
      partCount: session.partCount,
      parts: parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag, size: p.size })),
    };
  }

  /**
   * POST /media/{id}/complete for a multipart asset: checks the part list against storage (every part present, each
   * ETag the stored one, sizes adding up to the declared size), assembles the object, then starts processing.
   * Idempotent: once assembled, a repeat answers like the single-PUT complete (the asset's current status).
   */
  async complete(
    access: AssetAccess,
    session: UploadSession,
    parts: CompletedPartDto[] | undefined,
  ): Promise<{ assetId: string; status: AssetStatus }> {
    assertAssetAccess(access, 'write');
    const assetId = access.assetId;
    if (session.state === 'aborted')
      throw Errors.stateConflict(`The multipart upload of asset ${assetId} was aborted`, { state: session.state });
    if (session.state !== 'completed') {
      if (!parts?.length)
        throw Errors.validation('parts is required: the list of { partNumber, etag } of every uploaded part', { field: 'parts' });
      const list = this.checkRequestedParts(session, parts);
      const stored = await this.storedParts(session);
      if (stored === null) {
        // Assembled by an earlier request that did not get to record it (or the upload is gone).
        if (!(await this.storage.head(session.objectKey)))
          throw Errors.stateConflict(`The multipart upload of asset ${assetId} no longer exists in storage`);
      } else {
        this.checkAgainstStored(session, list, stored);
        // Written down before acting: a crash after assembling is recognised by the next complete (object present).
        await this.sessions.transition(assetId, ['active', 'completing'], 'completing');
        try {
          await this.driver.completeMultipartUpload({ key: session.objectKey, uploadId: session.uploadId, parts: list });
        } catch (e) {
          if (e instanceof InvalidPartError) {
            throw Errors.uploadMismatch(
              `Storage refused the part list: ${e.message}`,
              e.partNumber ? { partNumber: e.partNumber } : undefined,
            );
          }
          if (!(e instanceof StorageNotFoundError) || !(await this.storage.head(session.objectKey))) throw e;
        }
      }
      await this.sessions.transition(assetId, ['active', 'completing'], 'completed');
    }
    const status = await this.assets.beginProcessing(assetId, (m, a) => this.processing.request(m, a));
    return { assetId, status };
  }

  /**
   * DELETE /media/{id}/upload: the asset is deleted (it leaves the quota) and the session marked aborted in one
   * transaction, then storage drops the parts. When the store refuses or fails the abort, the session stays
   * `aborted` with storage not released, and the lifecycle job's sweep of unfinished uploads aborts it later.
   */
  async abort(access: AssetAccess): Promise<void> {
    assertAssetAccess(access, 'write');
    const assetId = access.assetId;
    const session = await this.sessions.find(assetId);
    if (!session) throw Errors.stateConflict(`Asset ${assetId} has no multipart upload to abort`);
    if (session.state === 'completed' || session.state === 'completing') {
      throw Errors.stateConflict(
        `The multipart upload of asset ${assetId} is ${session.state}; delete the asset instead (DELETE /media/${assetId})`,
        {
          state: session.state,
        },
      );
    }
    if (session.state === 'active') {
      await this.assets.abandonUpload(assetId, async (m) => {
        if (!(await this.sessions.transition(assetId, ['active'], 'aborted', m))) {
          throw Errors.stateConflict(`The multipart upload of asset ${assetId} changed state meanwhile; retry`);
        }
      });
    }
    if (session.storageReleased) return;
    try {
      await this.driver.abortMultipartUpload({ key: session.objectKey, uploadId: session.uploadId });
      await this.sessions.markStorageReleased(assetId);
    } catch (e) {
      this.logger.warn(
        { assetId, err: e instanceof Error ? e.message : String(e) },
        'storage did not abort the multipart upload; the session is aborted and the lifecycle job will retry',
      );
    }
  }

  private async activeSession(assetId: string): Promise<UploadSession> {
    const session = await this.sessions.find(assetId);
    if (!session) throw Errors.stateConflict(`Asset ${assetId} is not a multipart upload`);
    if (session.state !== 'active' && session.state !== 'completing') {
      throw Errors.stateConflict(`The multipart upload of asset ${assetId} is ${session.state}`, { state: session.state });
    }
    return session;
  }

  /** Parts in storage, or null when storage no longer knows the upload (completed or aborted). */
  private async storedParts(session: UploadSession): Promise<StoredPart[] | null> {
    try {
      return await this.driver.listParts({ key: session.objectKey, uploadId: session.uploadId });
    } catch (e) {
      if (e instanceof StorageNotFoundError) return null;
      throw e;
    }
  }

  /** The request names each part 1..partCount exactly once; returns it in ascending order. */
  private checkRequestedParts(session: UploadSession, parts: CompletedPartDto[]): Array<{ partNumber: number; etag: string }> {
    const byNumber = new Map<number, string>();
    for (const p of parts) {
      if (p.partNumber > session.partCount) {
        throw Errors.uploadMismatch(`Part ${p.partNumber} does not exist: this upload has ${session.partCount} part(s)`, {
          partNumber: p.partNumber,
        });
      }
      if (byNumber.has(p.partNumber)) throw Errors.uploadMismatch(`Part ${p.partNumber} is listed twice`, { partNumber: p.partNumber });
      byNumber.set(p.partNumber, p.etag);
    }
    for (let n = 1; n <= session.partCount; n++) {
      if (!byNumber.has(n))
        throw Errors.uploadMismatch(`Part ${n} is missing from parts: all ${session.partCount} parts are required`, { partNumber: n });
    }
    return [...byNumber.entries()].sort((a, b) => a[0] - b[0]).map(([partNumber, etag]) => ({ partNumber, etag: quote(etag) }));
  }

  private checkAgainstStored(session: UploadSession, list: Array<{ partNumber: number; etag: string }>, stored: StoredPart[]): void {
    const have = new Map(stored.map((p) => [p.partNumber, p]));
    const plan = { partSize: session.partSize, partCount: session.partCount };
    let total = 0;
    for (const p of list) {
      const s = have.get(p.partNumber);
      if (!s)
        throw Errors.uploadMismatch(`Part ${p.partNumber} has not been uploaded (storage holds no such part)`, {
          partNumber: p.partNumber,
        });
      if (quote(s.etag) !== p.etag) {
        throw Errors.uploadMismatch(`Part ${p.partNumber}: ETag ${p.etag} does not match the stored part's ETag`, {
          partNumber: p.partNumber,
        });
      }
      const expected = partLength(plan, session.declaredSize, p.partNumber);
      if (s.size !== expected) {
        throw Errors.uploadMismatch(`Part ${p.partNumber} has ${s.size} bytes; it must have ${expected}`, {
          partNumber: p.partNumber,
          size: s.size,
          expected,
        });
      }
      total += s.size;
    }
    if (total !== session.declaredSize) {
      throw Errors.uploadMismatch(`The parts add up to ${total} bytes, not the declared ${session.declaredSize}`, {
        size: total,
        expected: session.declaredSize,
      });
    }
  }
}

function quote(etag: string): string {
  return `"${etag.replace(/"/g, '')}"`;
}
