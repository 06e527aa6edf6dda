import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import {
  AppError,
  ASSET_PERMISSIONS,
  AssetAccess,
  CORS_EXPOSED_HEADERS,
  CorsPolicy,
  ErrorCode,
  Errors,
  API_KEY_HEADER,
  assertScope,
  Authenticator,
  Principal,
  scopeForMethod,
  SERVER_CONFIG,
  ServerConfig,
  toProblem,
  UPLOAD_CONFIG,
  UploadConfig,
  UploadCreationLimiter,
} from '@app/core';
import { AssetStateService, AssetStatus, MediaAsset } from '@app/assets';
import { ClaimFiles, HeldClaim, ObjectKeyLayout, STORAGE_DRIVER, StorageDriver, watchBody } from '@app/storage';
import type { Server as TusServer } from '@tus/server';
import type { FileStore } from '@tus/file-store';
import type { Upload } from '@tus/utils';
import { CreateUploadUrlDto } from '../create-upload-url.dto';
import { UploadUrlService } from '../upload-url.service';
import { TUS_PATH, TUS_RESUMABLE_VERSION, tusUploadIdFromUrl, uploadRequestFromMetadata } from './tus-metadata';

/** A tus-library error: what it answers (e.g. 404 FILE_NOT_FOUND, 410 FILE_NO_LONGER_EXISTS). */
interface TusLibraryError {
  status_code: number;
  body: string;
}
const isTusLibraryError = (e: unknown): e is TusLibraryError =>
  typeof e === 'object' &&
  e !== null &&
  typeof (e as TusLibraryError).status_code === 'number' &&
  typeof (e as TusLibraryError).body === 'string';

/** A refusal answered in the tus library's shape (status and plain-text body). */
class TusRefusal extends Error implements TusLibraryError {
  readonly body: string;
  constructor(
    readonly status_code: number,
    message: string,
  ) {
    super(message);
    this.body = `${message}\n`;
  }
}

/** What a staged (partly or wholly received) tus upload looks like on disk. */
interface StagedUpload {
  id: string;
  size: number;
  offset: number;
  createdAt: Date;
}

/**
 * The tus 1.0 resumable upload protocol on /tus/ (core, creation, creation-with-upload, termination, expiration),
 * ending in the same pipeline as POST /media/upload-url + PUT + POST /media/{id}/complete:
 *
 * - POST creates the pending asset through UploadUrlService (quota, size limit, declared type, defaults) under the
 *   tus upload id, which IS the asset id; the bytes collect in TUS_STAGING_DIR (@tus/file-store).
 * - When the last byte arrives, the staged file is streamed into the storage driver at the asset's upload key, the
 *   same completion as POST /media/{id}/complete runs, then the staged file is removed.
 * - Crash safety: the staged file is the durable record that every byte arrived. A complete staged upload whose
 *   asset is still pending is finished again by the client's next HEAD, by the sweep at start-up, and by
 *   `finishStaged()`/`purgeExpired()` (the lifecycle job); every step is idempotent.
 * - Every request but OPTIONS needs the API's bearer JWT; another owner's upload id is a 404.
 * - A PATCH body streams alone: one per upload (423 for another, across every process sharing TUS_STAGING_DIR),
 *   at most MAX_UPLOADS_IN_FLIGHT_PER_OWNER per owner (429); it is cut when no byte arrives for
 *   UPLOAD_BODY_IDLE_TIMEOUT_SECONDS or the upload's expiry plus UPLOAD_EXPIRY_GRACE_SECONDS passes.
 */
@Injectable()
export class TusService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('Tus');
  private server!: TusServer;
  private store!: FileStore;
  /** Finishing in progress in this process, by upload id (a HEAD and the last PATCH may race). */
  private readonly finishing = new Map<string, Promise<AssetStatus>>();
  /** The verified caller of each raw request (set before the tus library sees it). */
  private readonly principals = new WeakMap<IncomingMessage, Principal>();
  private readonly expiryMs: number;
  readonly stagingDir: string;
  /** PATCH bodies streaming now (`patch/<id>`, `owners/<owner>/slot-<i>`), under the staging directory. */
  private readonly claims: ClaimFiles;

  constructor(
    @Inject(UPLOAD_CONFIG) private readonly upload: UploadConfig,
    @Inject(SERVER_CONFIG) private readonly serverConfig: ServerConfig,
    private readonly auth: Authenticator,
    private readonly limiter: UploadCreationLimiter,
    private readonly uploads: UploadUrlService,
    private readonly assets: AssetStateService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
  ) {
    this.stagingDir = upload.tusStagingDir;
    this.expiryMs = upload.tusUploadExpirySeconds * 1000;
    this.claims = new ClaimFiles(path.join(this.stagingDir, '.claims'));
  }

  onModuleInit(): void {
    mkdirSync(this.stagingDir, { recursive: true, mode: 0o700 });
    // Both packages are ESM-only; Node >= 20.19 loads them with require().
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Server } = require('@tus/server') as typeof import('@tus/server');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { FileStore } = require('@tus/file-store') as typeof import('@tus/file-store');
    this.store = new FileStore({ directory: this.stagingDir, expirationPeriodInMilliseconds: this.expiryMs });
    // A length is required at creation: the quota and size checks need it (deferred length is refused with 501).
    this.store.extensions = this.store.extensions.filter((e) => e !== 'creation-defer-length');
    const publicBase = this.serverConfig.PUBLIC_BASE_URL ? this.serverConfig.publicBaseUrl : undefined;
    // CORS as on every route (installCors answers the preflights); the library sets its own headers on what it
    // answers, so it is told the same policy: no Access-Control-Allow-Origin for other origins, never credentials.
    const cors = new CorsPolicy(this.serverConfig.apiCorsOrigins);
    this.server = new Server({
      allowedOrigins: cors.anyOrigin ? undefined : (origin) => cors.allows(origin),
      allowedCredentials: false,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      path: TUS_PATH,
      datastore: this.store,
      maxSize: this.upload.MAX_UPLOAD_BYTES,
      respectForwardedHeaders: true,
      namingFunction: () => randomUUID(),
      generateUrl: (_req, { proto, host, path: p, id }) => `${publicBase ?? `${proto}://${host}`}${p}/${id}`,
      onIncomingRequest: (req, id) => this.onIncomingRequest(req, id),
      onUploadCreate: async (req, upload) => {
        const principal = await this.principalOf(req);
        await this.limiter.consume(principal); // the same budget as POST /media/upload-url
        await this.createPendingAsset(principal, upload);
        return {};
      },
      onUploadFinish: async (_req, upload) => {
        await this.finish(upload.id);
        return {};
      },
      onResponseError: (_req, err) => this.toTusError(err),
    });
  }

  onApplicationBootstrap(): void {
    // Uploads that received every byte before a crash, and uploads that expired while the service was down.
    // In the background: start-up does not wait for storage.
    setImmediate(() => {
      this.purgeExpired(new Date()).catch((e) =>
        this.logger.warn(`tus start-up sweep failed: ${e instanceof Error ? e.message : String(e)}`),
      );
    });
  }

  // ---- HTTP -------------------------------------------------------------------------------------------

  /** Serves one request under /tus (raw Node request and response; the body is streamed, never parsed). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let patch: { deadlineMs?: number; claim: HeldClaim } | null = null;
    if (req.method !== 'OPTIONS') {
      try {
        const principal = await this.auth.require(req.headers);
        assertScope(principal, scopeForMethod(req.method ?? 'GET')); // an API key: HEAD needs read, the rest write
        this.principals.set(req, principal);
        if (req.method === 'HEAD' && (await this.answerFinishedHead(req, res, principal))) return;
        if (req.method === 'PATCH') patch = await this.claimPatch(req, principal);
      } catch (e) {
        const { status_code, body } = this.toTusError(e);
        this.sendPlain(res, status_code, body);
        return;
      }
    }
    if (patch) return this.streamPatch(req, res, patch);
    await this.server.handle(req, res);
  }

  /**
   * Claims a PATCH body before the library reads it: the upload (423 while another PATCH streams into it) and an
   * in-flight slot of the owner (429). Returns the watch's deadline and the release, or null for a PATCH the library
   * refuses by itself (no such upload).
   */
  private async claimPatch(req: IncomingMessage, principal: Principal): Promise<{ deadlineMs?: number; claim: HeldClaim } | null> {
    const id = tusUploadIdFromUrl(req.url ?? '');
    if (!id) return null;
    await this.ownedAsset(id, principal);
    const staged = await this.staged(id);
    if (!staged) return null;
    const deadlineMs =
      this.expiryMs > 0 ? staged.createdAt.getTime() + this.expiryMs + this.upload.UPLOAD_EXPIRY_GRACE_SECONDS * 1000 : undefined;
    // Without an expiry, a claim left by a crash is recognised by its process being gone (or after a day).
    const claimUntil = deadlineMs ?? Date.now() + 24 * 3600 * 1000;
    const max = this.upload.MAX_UPLOADS_IN_FLIGHT_PER_OWNER;
    const r = await this.claims.acquireWithSlot(`patch/${id}`, `owners/${ownerDirName(principal.userId)}/slot-`, max, claimUntil);
    if ('held' in r) return { deadlineMs, claim: r.held };
    if (r.refused === 'busy') {
      throw new TusRefusal(423, 'Another PATCH is streaming into this upload; HEAD it for the offset once that one has ended');
    }
    throw new TusRefusal(
      429,
      `At most ${max} uploads may stream at once per owner (MAX_UPLOADS_IN_FLIGHT_PER_OWNER); retry once one has ended`,
    );
  }

  /** Hands a claimed PATCH to the library, cutting its connection when the body stalls or outlives the deadline. */
  private async streamPatch(req: IncomingMessage, res: ServerResponse, { deadlineMs, claim }: { deadlineMs?: number; claim: HeldClaim }) {
    const watch = watchBody(req, { idleMs: this.upload.UPLOAD_BODY_IDLE_TIMEOUT_SECONDS * 1000, deadlineMs }, (why) => {
      this.logger.warn(
        `tus PATCH ${req.url ?? ''} cut: ${why === 'idle' ? 'the body stalled' : 'past the upload expiry and grace period'}`,
      );
      req.destroy();
    });
    // The library answers by itself: the claim goes just before the answer does, so the client's next PATCH (sent as
    // soon as this one is answered) finds the upload free.
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = (...args: unknown[]) => {
      watch.stop();
      claim.releaseSync();
      return writeHead(...args);
    };
    try {
      await this.server.handle(req, res);
    } finally {
      watch.stop();
      await claim.release();
    }
  }

  /** The caller verified by `handle` (falls back to verifying again, should the library hand over another request). */
  private async principalOf(req: Request): Promise<Principal> {
    const raw = (req as unknown as { runtime?: { node?: { req?: IncomingMessage } } }).runtime?.node?.req;
    const known = raw ? this.principals.get(raw) : undefined;
    if (known) return known;
    const header = (name: string) => req.headers.get(name) ?? undefined;
    const principal = await this.auth.require({ authorization: header('authorization'), [API_KEY_HEADER]: header(API_KEY_HEADER) });
    assertScope(principal, scopeForMethod(req.method));
    return principal;
  }

  private async onIncomingRequest(req: Request, id: string): Promise<void> {
    const principal = await this.principalOf(req);
    if (req.method === 'POST') return; // a new id: nothing to own yet
    const asset = await this.ownedAsset(id, principal);
    if (req.method === 'DELETE') await this.terminate(asset, principal);
  }

  /**
   * HEAD of an upload that is finished (its asset is past pending), or whose bytes are all staged (then it is
   * finished now: the retry after a crash or a failed completion): offset = length, so the client is done.
   */
  private async answerFinishedHead(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<boolean> {
    const id = tusUploadIdFromUrl(req.url ?? '');
    if (!id) return false;
    const asset = await this.ownedAsset(id, principal);
    if (asset.status === AssetStatus.Pending) {
      const staged = await this.staged(id);
      if (!staged || staged.offset !== staged.size || this.isExpired(staged, new Date())) return false;
      await this.finish(id);
    }
    res.writeHead(200, {
      'Tus-Resumable': TUS_RESUMABLE_VERSION,
      'Upload-Offset': String(asset.sizeBytes),
      'Upload-Length': String(asset.sizeBytes),
      'Cache-Control': 'no-store',
    });
    res.end();
    return true;
  }

  /** The caller's own asset behind a tus upload id; anything else (malformed, missing, deleted, someone else's) is a 404. */
  private async ownedAsset(id: string, principal: Principal): Promise<MediaAsset> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw Errors.notFound(`Upload ${id} was not found`);
    const asset = await this.assets.findForProcessing(id);
    if (!asset || asset.status === AssetStatus.Deleted || asset.ownerId !== principal.userId)
      throw Errors.notFound(`Upload ${id} was not found`);
    return asset;
  }

  private sendPlain(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, {
      'Tus-Resumable': TUS_RESUMABLE_VERSION,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      ...(status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}),
    });
    res.end(body);
  }

  /** Our problems keep their status and message; tus-library errors pass as they are; anything else goes through toProblem. */
  private toTusError(err: unknown): TusLibraryError {
    if (isTusLibraryError(err)) {
      if (err.status_code === 413 && err.body.startsWith('Maximum size exceeded')) {
        return { status_code: 413, body: `Upload-Length exceeds the largest upload allowed (${this.upload.MAX_UPLOAD_BYTES} bytes)\n` };
      }
      return err;
    }
    const p = toProblem(err);
    if (p.statusCode >= 500 && !(err instanceof AppError))
      this.logger.error({ err }, `tus request failed: ${err instanceof Error ? err.message : String(err)}`);
    return { status_code: p.statusCode, body: `${p.message}\n` };
  }

  // ---- creation, completion, termination ----------------------------------------------------------------

  private async createPendingAsset(principal: Principal, upload: Upload): Promise<void> {
    if (upload.size === undefined) throw Errors.invalid('Upload-Length is required: deferred length is not supported');
    const plain = uploadRequestFromMetadata(upload.metadata, upload.size);
    const dto = plainToInstance(CreateUploadUrlDto, plain);
    const problems = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
    if (problems.length) {
      const details = problems.map((e) => ({
        field: TUS_FIELD_NAMES[e.property] ?? e.property,
        problems: Object.values(e.constraints ?? {}),
      }));
      throw Errors.validation(details.map((d) => `${d.field}: ${d.problems.join('; ')}`).join('; '), details);
    }
    const createdAt = upload.creation_date ? new Date(upload.creation_date) : new Date();
    await this.uploads.createPendingUpload(dto, principal, {
      assetId: upload.id,
      expiresAt: new Date(createdAt.getTime() + this.expiryMs),
    });
  }

  /**
   * Moves a completely staged upload into storage and completes it (idempotent, one at a time per id here):
   * pending → write the staged bytes at the upload key → the same completion as POST /media/{id}/complete →
   * remove the staged file. An asset already past pending only has its leftover staged file removed.
   */
  finish(id: string): Promise<AssetStatus> {
    let running = this.finishing.get(id);
    if (!running) {
      running = this.finishOnce(id).finally(() => this.finishing.delete(id));
      this.finishing.set(id, running);
    }
    return running;
  }

  private async finishOnce(id: string): Promise<AssetStatus> {
    const asset = await this.assets.findForProcessing(id);
    if (!asset || asset.status === AssetStatus.Deleted) {
      await this.removeStaged(id);
      throw Errors.assetNotFound(id);
    }
    if (asset.status !== AssetStatus.Pending) {
      await this.removeStaged(id);
      return asset.status;
    }
    const staged = await this.staged(id);
    if (!staged) throw Errors.notFound(`Upload ${id} has no staged bytes`);
    if (staged.offset !== staged.size || staged.size !== Number(asset.sizeBytes)) {
      throw Errors.stateConflict(`Upload ${id} has ${staged.offset} of ${Number(asset.sizeBytes)} bytes; send the rest first`, {
        offset: staged.offset,
        length: Number(asset.sizeBytes),
      });
    }
    const key = ObjectKeyLayout.upload(asset.ownerId, id);
    await this.storage.write({ key, body: createReadStream(this.stagedPath(id)), contentType: asset.mimeType, contentLength: staged.size });
    let status: AssetStatus;
    try {
      status = await this.uploads.completeUpload(id);
    } catch (e) {
      // Terminated meanwhile: nothing owns the object just written.
      if (e instanceof AppError && e.code === ErrorCode.AssetNotFound) {
        await this.storage.delete(key);
        await this.removeStaged(id);
      }
      throw e;
    }
    await this.removeStaged(id);
    this.logger.log({ assetId: id, bytes: staged.size }, `tus upload ${id} finished (${status})`);
    return status;
  }

  /** DELETE /tus/{id}: an unfinished upload's pending asset is deleted (quota freed); the library then removes the staged file. */
  private async terminate(asset: MediaAsset, principal: Principal): Promise<void> {
    if (asset.status !== AssetStatus.Pending) {
      throw Errors.stateConflict(
        `Upload ${asset.assetId} is finished (the asset is ${asset.status}); delete the asset with DELETE /media/${asset.assetId}`,
        {
          status: asset.status,
        },
      );
    }
    if (!(await this.staged(asset.assetId))) throw Errors.notFound(`Upload ${asset.assetId} was not found`);
    await this.assets.delete(this.ownerAccess(asset, principal));
  }

  private ownerAccess(asset: MediaAsset, principal: Principal | null): AssetAccess {
    return { assetId: asset.assetId, ownerId: asset.ownerId, principal, isOwner: true, permissions: [...ASSET_PERMISSIONS] };
  }

  // ---- sweeps ----------------------------------------------------------------------------------------

  /**
   * Expired unfinished uploads: their staged files are deleted and their pending assets deleted through the normal
   * delete path (quota freed). Complete staged uploads are finished instead (the crash-recovery sweep), and staged
   * files whose asset is gone or finished are removed. Called by the lifecycle job (expire pending) and at start-up.
   */
  async purgeExpired(now: Date): Promise<{ removed: number }> {
    let removed = 0;
    for (const id of await this.stagedIds()) {
      try {
        const staged = await this.staged(id);
        if (!staged) continue;
        const asset = await this.assets.findForProcessing(id);
        if (asset && asset.status === AssetStatus.Pending && staged.offset === staged.size) {
          try {
            await this.finish(id);
            continue;
          } catch (e) {
            this.logger.warn(`tus upload ${id}: finishing failed (${e instanceof Error ? e.message : String(e)}); retried later`);
            if (!this.isExpired(staged, now)) continue;
          }
        }
        if (asset && asset.status !== AssetStatus.Pending) {
          // Finished (a leftover of a crash after completion), or deleted/expired by another path.
          await this.removeStaged(id);
          removed++;
          continue;
        }
        if (!this.isExpired(staged, now)) continue;
        if (asset?.status === AssetStatus.Pending) {
          await this.assets.delete(this.ownerAccess(asset, null)).catch((e) => {
            if (!(e instanceof AppError && e.code === ErrorCode.AssetNotFound)) throw e;
          });
        }
        await this.removeStaged(id);
        removed++;
      } catch (e) {
        this.logger.warn(`tus upload ${id}: sweep failed (${e instanceof Error ? e.message : String(e)})`);
      }
    }
    return { removed };
  }

  /** Finishes every completely staged upload whose asset is still pending (crash recovery). */
  async finishStaged(): Promise<{ finished: number }> {
    let finished = 0;
    for (const id of await this.stagedIds()) {
      const staged = await this.staged(id).catch(() => null);
      if (!staged || staged.offset !== staged.size) continue;
      try {
        await this.finish(id);
        finished++;
      } catch (e) {
        this.logger.warn(`tus upload ${id}: finishing failed (${e instanceof Error ? e.message : String(e)})`);
      }
    }
    return { finished };
  }

  // ---- staging directory --------------------------------------------------------------------------------

  private stagedPath(id: string): string {
    return path.join(this.stagingDir, id);
  }

  private isExpired(staged: StagedUpload, now: Date): boolean {
    return this.expiryMs > 0 && now.getTime() > staged.createdAt.getTime() + this.expiryMs;
  }

  /** Upload ids with an info file in the staging directory. */
  private async stagedIds(): Promise<string[]> {
    const names = await readdir(this.stagingDir).catch(() => [] as string[]);
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .filter((id) => tusUploadIdFromUrl(`/tus/${id}`) === id);
  }

  /** The staged upload (its info file and bytes so far), or null when there is none. */
  private async staged(id: string): Promise<StagedUpload | null> {
    let info: { size?: number; creation_date?: string };
    try {
      info = JSON.parse(await readFile(`${this.stagedPath(id)}.json`, 'utf8')) as typeof info;
    } catch {
      return null;
    }
    const bytes = await stat(this.stagedPath(id)).catch(() => null);
    if (!bytes || typeof info.size !== 'number') return null;
    return { id, size: info.size, offset: bytes.size, createdAt: info.creation_date ? new Date(info.creation_date) : new Date(0) };
  }

  private async removeStaged(id: string): Promise<void> {
    await rm(this.stagedPath(id), { force: true });
    await rm(`${this.stagedPath(id)}.json`, { force: true });
  }
}

/** A directory name for an owner's in-flight slots (user ids are opaque strings). */
function ownerDirName(userId: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(userId) ? userId : `h-${createHash('sha256').update(userId).digest('hex').slice(0, 32)}`;
}

/** Validation messages name the Upload-Metadata keys the client sent. */
const TUS_FIELD_NAMES: Record<string, string> = {
  filename: 'Upload-Metadata filename',
  mimeType: 'Upload-Metadata filetype',
  sizeBytes: 'Upload-Length',
};
