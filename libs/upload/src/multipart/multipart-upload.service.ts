import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  AppError,
  AssetAccess,
  assertAssetAccess,
  ErrorCode,
  Errors,
  OutboxService,
  PROCESSING_CONFIG,
  ProcessingConfig,
  UPLOAD_CONFIG,
  UploadConfig,
  withRequestId,
} from '@app/core';
import { AssetEventsService, AssetQueryService, AssetStateService, AssetStatus } from '@app/assets';
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
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import { PartListDto, SignedPartDto, SignedPartsDto, UploadAssemblyDto } from '../upload-url.dto';
import { CompletedPartDto } from './multipart.dto';
import {
  ASSEMBLE_JOB,
  AssembleJobData,
  assembleJobId,
  assembleJobOptions,
  MULTIPART_ASSEMBLE_TOPIC,
  MULTIPART_QUEUE,
} from './multipart-assembly.constants';
import { INITIAL_SIGNED_PARTS, MAX_PARTS_PER_SIGN_REQUEST, partLength, PartPlan } from './part-plan';
import { CompletionPart, UploadSession, UploadSessionRepository } from './upload-session.repository';

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
    private readonly outbox: OutboxService,
    private readonly query: AssetQueryService,
    @InjectDataSource() private readonly ds: DataSource,
    @InjectQueue(MULTIPART_QUEUE) private readonly queue: Queue<AssembleJobData>,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(UPLOAD_CONFIG) private readonly upload: UploadConfig,
    @Inject(PROCESSING_CONFIG) private readonly processingConfig: ProcessingConfig,
  ) {}

  /**
   * An asset deleted while its multipart upload was open (DELETE /media/{id} on a pending asset, or the abort route)
   * leaves parts in storage: drop them after the deletion committed. A store that refuses is logged, not retried
   * here (the outbox would redeliver forever); the lifecycle sweep of unfinished uploads gets it.
   */
  onModuleInit() {
    this.outbox.register(MULTIPART_ASSEMBLE_TOPIC, (data: AssembleJobData) => this.enqueueAssembly(data));
    this.query.registerUploadState((assetId) => this.assemblyState(assetId));
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
  start(key: string, contentType: string, layout: { partSize: number; size: number }): Promise<{ uploadId: string; region?: string }> {
    return this.driver.createMultipartUpload({ key, contentType, ...layout });
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

  /** GET /media/{id}/parts: what storage holds so far, so a client can resume, and where its assembly stands. */
  async listParts(access: AssetAccess): Promise<PartListDto> {
    assertAssetAccess(access, 'write');
    const session = await this.activeSession(access.assetId);
    const parts = await this.storedParts(session);
    // Assembled meanwhile: storage no longer lists the parts; the state says so.
    if (!parts && session.state !== 'completing')
      throw Errors.stateConflict(`The multipart upload of asset ${access.assetId} no longer exists in storage`);
    return {
      assetId: access.assetId,
      uploadId: session.uploadId,
      partSize: session.partSize,
      partCount: session.partCount,
      parts: (parts ?? []).map((p) => ({ partNumber: p.partNumber, etag: p.etag, size: p.size })),
      upload: assemblyView(session),
    };
  }

  /**
   * POST /media/{id}/complete for a multipart asset. Checks the part list's shape (every part 1..partCount named
   * once), writes it down with the assembly request in one transaction (session `completing`, outbox → job), and
   * answers at once: the object is assembled in the background (`assemble`), where the list is checked against
   * storage (every part present, each ETag the stored one, sizes as planned). Idempotent: a repeat while assembling
   * answers the same; once assembled, like the single-PUT complete (the asset's current status).
   */
  async complete(
    access: AssetAccess,
    session: UploadSession,
    parts: CompletedPartDto[] | undefined,
  ): Promise<{ assetId: string; status: AssetStatus; upload: UploadAssemblyDto }> {
    assertAssetAccess(access, 'write');
    const assetId = access.assetId;
    if (session.state === 'aborted')
      throw Errors.stateConflict(`The multipart upload of asset ${assetId} was aborted`, { state: session.state });
    if (session.state === 'completed') {
      const status = await this.assets.beginProcessing(assetId, (m, a) => this.processing.request(m, a));
      return { assetId, status, upload: assemblyView(session) };
    }
    if (session.state === 'completing') {
      if (parts?.length && !sameList(this.checkRequestedParts(session, parts), session.completionParts ?? [])) {
        throw Errors.stateConflict(
          `The multipart upload of asset ${assetId} is being assembled from another part list; wait for its result (GET /media/${assetId})`,
          { state: session.state },
        );
      }
      return { assetId, status: AssetStatus.Pending, upload: assemblyView(session) };
    }
    if (!parts?.length)
      throw Errors.validation('parts is required: the list of { partNumber, etag } of every uploaded part', { field: 'parts' });
    const t0 = Date.now();
    const list = this.checkRequestedParts(session, parts);
    const checked = Date.now();
    // Written down before anything is assembled: the job (or, if the job is lost, the sweep) finishes it.
    const round = await this.ds.transaction(async (m) => {
      const r = await this.sessions.beginCompletion(m, assetId, list);
      if (r !== null) await this.outbox.append(m, MULTIPART_ASSEMBLE_TOPIC, { assetId, round: r });
      return r;
    });
    this.logger.debug(
      { assetId, parts: list.length, checkMs: checked - t0, transactionMs: Date.now() - checked },
      'multipart completion recorded',
    );
    if (round === null) {
      // A concurrent request changed the session first: answer as it stands now.
      const now = await this.sessions.find(assetId);
      if (!now || now.state === 'active')
        throw Errors.stateConflict(`The multipart upload of asset ${assetId} changed state meanwhile; retry`);
      return this.complete(access, now, parts);
    }
    this.outbox.kick();
    return { assetId, status: AssetStatus.Pending, upload: { state: 'assembling', attempts: 0, error: null } };
  }

  /** The assembly job's request to Bull (jobId: asset and round, so a redelivery is one job). */
  async enqueueAssembly(data: AssembleJobData): Promise<void> {
    const existing = await this.queue.getJob(assembleJobId(data));
    if (existing && ((await existing.isFailed()) || (await existing.isCompleted()))) await existing.remove();
    await this.queue.add(ASSEMBLE_JOB, withRequestId(data), assembleJobOptions(this.processingConfig, data));
  }

  /**
   * The background half of complete (one round, idempotent): checks the recorded part list against storage,
   * assembles the object (an already assembled one is recognised: storage no longer knows the upload and the object
   * is there), marks the session completed and starts processing. A list storage does not match puts the session
   * back to `active` with the reason (the client fixes it and completes again); a transient store error is counted
   * and thrown (Bull retries with backoff) until `lastAttempt`, which records it the same way.
   */
  async assemble(data: AssembleJobData, lastAttempt: boolean): Promise<string> {
    const { assetId, round } = data;
    const session = await this.sessions.find(assetId);
    if (!session || session.completionRound !== round) return 'superseded';
    if (session.state === 'completed') return this.afterAssembly(session);
    if (session.state !== 'completing') return session.state;
    const t0 = Date.now();
    let listedAt = t0;
    let completedAt = t0;
    try {
      const list = session.completionParts ?? [];
      const stored = await this.storedParts(session);
      listedAt = Date.now();
      if (stored === null) {
        if (!(await this.storage.head(session.objectKey))) {
          const reason = `The multipart upload of asset ${assetId} no longer exists in storage (aborted or expired)`;
          await this.sessions.failCompletion(assetId, round, reason);
          await this.assets.failPendingUpload(assetId, reason);
          return 'gone';
        }
      } else {
        this.checkAgainstStored(session, list, stored);
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
        completedAt = Date.now();
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (e instanceof AppError && e.code === ErrorCode.UploadMismatch) {
        await this.sessions.failCompletion(assetId, round, message);
        return 'mismatch';
      }
      if (lastAttempt) {
        await this.sessions.failCompletion(assetId, round, `Assembly failed after ${session.assemblyAttempts + 1} attempt(s): ${message}`);
        return 'failed';
      }
      await this.sessions.recordAttemptFailed(assetId, round, message);
      throw e;
    }
    await this.sessions.transition(assetId, ['completing'], 'completed');
    const outcome = await this.afterAssembly(session);
    this.logger.log(
      { assetId, round, listMs: listedAt - t0, completeMs: completedAt - listedAt, afterMs: Date.now() - completedAt },
      `multipart upload assembled in ${Date.now() - t0} ms`,
    );
    return outcome;
  }

  /** Assembled: processing starts (idempotent); an asset deleted meanwhile leaves no object behind. */
  private async afterAssembly(session: UploadSession): Promise<string> {
    try {
      await this.assets.beginProcessing(session.assetId, (m, a) => this.processing.request(m, a));
      return 'assembled';
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== ErrorCode.AssetNotFound) throw e;
      await this.storage.delete(session.objectKey);
      return 'deleted';
    }
  }

  /** The sweep: a `completing` session whose job is nowhere (Redis lost it) is enqueued again. */
  async sweepCompleting(olderThanMs: number): Promise<number> {
    let requeued = 0;
    for (const s of await this.sessions.findCompleting(olderThanMs, 200)) {
      const data = { assetId: s.assetId, round: s.completionRound };
      const job = await this.queue.getJob(assembleJobId(data));
      if (job && !(await job.isFailed()) && !(await job.isCompleted())) continue;
      await this.enqueueAssembly(data);
      requeued++;
    }
    return requeued;
  }

  /** What GET /media/{id} shows of a pending multipart asset's upload (null for other assets). */
  async assemblyState(assetId: string): Promise<UploadAssemblyDto | null> {
    const session = await this.sessions.find(assetId);
    return session ? assemblyView(session) : null;
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

/**
 * What a client sees of the upload: `receiving` (parts may be PUT; complete not called, or called again after a
 * failure), `assembling` (complete accepted, the object is being assembled; `attempts` failed so far, `error` the
 * last one's reason while retrying), `assembled` (processing takes over), `failed` (the part list did not match
 * storage, or assembly kept failing: `error` says why; fix and complete again), `aborted`.
 */
function assemblyView(s: UploadSession): UploadAssemblyDto {
  const state: UploadAssemblyDto['state'] =
    s.state === 'completing'
      ? 'assembling'
      : s.state === 'completed'
        ? 'assembled'
        : s.state === 'aborted'
          ? 'aborted'
          : s.assemblyError
            ? 'failed'
            : 'receiving';
  return { state, attempts: s.assemblyAttempts, error: s.assemblyError };
}

function sameList(a: CompletionPart[], b: CompletionPart[]): boolean {
  return a.length === b.length && a.every((p, i) => p.partNumber === b[i].partNumber && p.etag === b[i].etag);
}

function quote(etag: string): string {
  return `"${etag.replace(/"/g, '')}"`;
}
