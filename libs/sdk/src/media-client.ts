import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import createClient, { Client } from 'openapi-fetch';
import type { components, paths } from './generated/openapi';
import { BatchDeleteResult, Bucket, BucketHandle, ObjectListQuery, ObjectPage } from './bucket-handle';
import { MediaApiError } from './media-api-error';
import { DEFAULT_RENDER_ACCEPT, RenderOptions, renderQuery } from './render-options';
import { backoffDelay, DEFAULT_RETRY, isNetworkError, networkReason, retryingFetch, RetryOptions, RETRYABLE_STATUS, sleep } from './retry';
import { MeteredStream, parseJson, readText, request, TransferProgress } from './transfer';
import { MultipartStrategy } from './upload/multipart.strategy';
import { ResumeRecord, ResumeStore } from './upload/resume-store';
import { SinglePutStrategy } from './upload/single-put.strategy';
import { fileSource, guessContentType, hashSource, streamSource, UploadSource } from './upload/upload-source';
import { chooseStrategy, UploadGrant, UploadStrategy } from './upload/upload-strategy';

export type Asset = components['schemas']['AssetViewDto'];
export type AssetPage = components['schemas']['AssetPageDto'];
export type AclView = components['schemas']['AclViewDto'];
export type AclEntry = components['schemas']['AclEntryDto'];
export type ApiKeyInfo = components['schemas']['ApiKeyView'];
export type CreatedApiKey = components['schemas']['CreatedApiKeyView'];
export type CreateApiKeyRequest = components['schemas']['CreateApiKeyDto'];
export type ListQuery = NonNullable<paths['/media']['get']['parameters']['query']>;

/** How uploads are performed, by the shape of the service's grant. */
export const UPLOAD_STRATEGIES: UploadStrategy[] = [new SinglePutStrategy(), new MultipartStrategy()];

export interface MediaClientOptions {
  /** The service, e.g. http://localhost:3000 */
  baseUrl: string;
  /** Bearer JWT (omit for anonymous access to public assets). */
  token?: string;
  /** API key (`msk_…`, from `POST /api-keys`), sent as `X-Api-Key`; for back ends. Give either this or `token`. */
  apiKey?: string;
  retry?: RetryOptions;
  /** Bound on each API request (default 30 s; long-polls get their wait on top). */
  requestTimeoutMs?: number;
  /** Bound on a byte transfer making no progress (default 60 s). */
  idleTimeoutMs?: number;
  /** Aborts every request of this client (e.g. on Ctrl-C). */
  signal?: AbortSignal;
}

export interface UploadOptions {
  /** Declared media type; default: from the file name's extension. */
  contentType?: string;
  /** Name stored with the asset; default: the file's base name. */
  filename?: string;
  /** User metadata tags `{ key: value }`. */
  metadata?: Record<string, string>;
  /** Bucket to put the asset in (default: the `default` bucket). */
  bucket?: string;
  /** Path of the asset in the bucket, e.g. `avatars/42/me.png` (default: the asset id). */
  path?: string;
  /** Grants given with the upload. */
  acl?: AclEntry[];
  /** Size in bytes: required for a stream source. */
  size?: number;
  /** SHA-256 (hex) of a stream source, when known: declared, so storage refuses other bytes. */
  checksumSha256?: string;
  onProgress?: (p: TransferProgress) => void;
  signal?: AbortSignal;
  /** `true`: ask for a multipart upload whatever the size; `false`: never; omitted: the service decides by size. */
  multipart?: boolean;
  /** Multipart: parts sent at once (default 4). */
  partConcurrency?: number;
  /** Bound on the upload rate, bytes per second (all parts of this upload together). */
  maxBytesPerSecond?: number;
  /**
   * A file's multipart upload can be resumed: a small record (asset, upload id, part size, SHA-256) is kept in
   * `stateDir` from before the first part is sent until complete; a later call for the same file (same service,
   * path, size and mtime) lists the parts storage holds and sends only the others. A stale record (upload expired,
   * aborted, asset gone) is dropped and a fresh upload starts.
   */
  resume?: boolean;
  /** Where resume records live (default `$MEDIA_STATE_DIR`, else `~/.cache/media-cli`). */
  stateDir?: string;
  /** Called when an upload resumes, before any part is sent. */
  onResume?: (info: { assetId: string; storedParts: number; partCount: number }) => void;
}

export interface UploadResult {
  assetId: string;
  sizeBytes: number;
  /** SHA-256 of the bytes sent (hex). */
  sha256: string;
  /** Status after complete (usually `processing`; a multipart upload's assembly has ended by then). */
  status: Asset['status'];
  /** Which strategy moved the bytes. */
  strategy: string;
  /** Multipart: parts in all, sent by this call, already stored before it (resumed). */
  parts?: { total: number; sent: number; resumed: number };
}

export interface DownloadResult {
  bytes: number;
  sha256: string;
}

/** Repeatable requests (retried on 5xx and network errors; signing part URLs is repeatable too); POST upload-url is retried only when nothing was done (503, refused). */
const REPEATABLE_POST = /\/media\/[^/]+\/(complete|acl|parts)$/;

/**
 * Client of the media storage service: the generated, typed API (`api`, openapi-fetch) plus what a generator
 * cannot know: streamed, hashed uploads through signed URLs, waiting for processing, downloads, retries.
 * Every failure is a MediaApiError carrying the problem body.
 */
export class MediaClient {
  /** The typed client for every route (paths and bodies from openapi.json). */
  readonly api: Client<paths>;
  readonly baseUrl: string;
  private readonly retry: Required<RetryOptions>;
  private readonly idleTimeoutMs: number;
  private readonly credentials: Record<string, string>;

  constructor(private readonly options: MediaClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    if (options.token && options.apiKey) throw new TypeError('MediaClient: give either `token` or `apiKey`, not both');
    this.credentials = options.apiKey ? { 'x-api-key': options.apiKey } : options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.api = createClient<paths>({
      baseUrl: this.baseUrl,
      headers: this.credentials,
      fetch: retryingFetch({
        retry: this.retry,
        timeoutMs: options.requestTimeoutMs ?? 30_000,
        // A long-poll waits up to its `timeout` seconds before answering.
        extraTimeoutMs: (req) => Number(new URL(req.url).searchParams.get('timeout') ?? 0) * 1000,
        isRepeatable: (req) => req.method !== 'POST' || REPEATABLE_POST.test(new URL(req.url).pathname),
        signal: options.signal,
      }),
    });
  }

  /** The caller's signal combined with the client-wide one. */
  private signalFor(signal?: AbortSignal): AbortSignal | undefined {
    const all = [signal, this.options.signal].filter((s): s is AbortSignal => !!s);
    return all.length > 1 ? AbortSignal.any(all) : all[0];
  }

  /** Unwraps an openapi-fetch answer: the data, or a MediaApiError with the problem body. */
  private static ok<T>(r: { data?: T; error?: unknown; response: Response }): T {
    if (r.error !== undefined || !r.response.ok) throw MediaApiError.fromResponse(r.response.status, r.error);
    return r.data as T;
  }

  async getAsset(id: string): Promise<Asset> {
    return MediaClient.ok(await this.api.GET('/media/{id}', { params: { path: { id } } }));
  }

  async listAssets(query: ListQuery = {}): Promise<AssetPage> {
    return MediaClient.ok(await this.api.GET('/media', { params: { query } }));
  }

  async deleteAsset(id: string): Promise<void> {
    const r = await this.api.DELETE('/media/{id}', { params: { path: { id } } });
    if (!r.response.ok) throw MediaApiError.fromResponse(r.response.status, r.error);
  }

  /** Grants `permission` on the asset to `principal` (`user:<id>`, `group:<id>`, `*`); answers the whole list. */
  async share(id: string, principal: string, permission: AclEntry['permission']): Promise<AclView> {
    return MediaClient.ok(await this.api.POST('/media/{id}/acl', { params: { path: { id } }, body: { principal, permission } }));
  }

  async getAcl(id: string): Promise<AclView> {
    return MediaClient.ok(await this.api.GET('/media/{id}/acl', { params: { path: { id } } }));
  }

  async revoke(id: string, principal: string, permission: AclEntry['permission']): Promise<void> {
    const r = await this.api.DELETE('/media/{id}/acl/{principal}/{permission}', { params: { path: { id, principal, permission } } });
    if (!r.response.ok) throw MediaApiError.fromResponse(r.response.status, r.error);
  }

  /** Creates an API key acting as the caller; the answer's `key` is shown this once. */
  async createApiKey(body: CreateApiKeyRequest): Promise<CreatedApiKey> {
    return MediaClient.ok(await this.api.POST('/api-keys', { body }));
  }

  /** The caller's API keys (never the keys themselves). */
  async listApiKeys(): Promise<ApiKeyInfo[]> {
    return MediaClient.ok(await this.api.GET('/api-keys')).items;
  }

  /** Revokes one of the caller's API keys (refused everywhere from the moment this returns). */
  async revokeApiKey(id: string): Promise<void> {
    const r = await this.api.DELETE('/api-keys/{id}', { params: { path: { id } } });
    if (!r.response.ok) throw MediaApiError.fromResponse(r.response.status, r.error);
  }

  /** A handle on one bucket: upload/list/move/copy by path. */
  bucket(name: string): BucketHandle {
    return new BucketHandle(this, name);
  }

  async createBucket(body: {
    name: string;
    public?: boolean;
    allowedMimeTypes?: string[] | null;
    fileSizeLimit?: number | null;
  }): Promise<Bucket> {
    return MediaClient.ok(await this.api.POST('/buckets', { body }));
  }

  async listBuckets(): Promise<Bucket[]> {
    return MediaClient.ok(await this.api.GET('/buckets')).items;
  }

  async getBucket(name: string): Promise<Bucket> {
    return MediaClient.ok(await this.api.GET('/buckets/{name}', { params: { path: { name } } }));
  }

  async listObjects(bucket: string, query: ObjectListQuery = {}): Promise<ObjectPage> {
    return MediaClient.ok(await this.api.GET('/buckets/{bucket}/objects', { params: { path: { bucket }, query } }));
  }

  async moveAsset(id: string, to: { bucket?: string; path: string }): Promise<Asset> {
    return MediaClient.ok(await this.api.POST('/media/{id}/move', { params: { path: { id } }, body: to }));
  }

  async copyAsset(id: string, to: { bucket?: string; path: string }): Promise<Asset> {
    return MediaClient.ok(await this.api.POST('/media/{id}/copy', { params: { path: { id } }, body: to }));
  }

  /** Deletes up to 1000 assets by id and/or path (in `bucket`); one result per entry (204, 403 or 404). */
  async batchDelete(body: { ids?: string[]; bucket?: string; paths?: string[] }): Promise<BatchDeleteResult[]> {
    return MediaClient.ok(await this.api.POST('/media/batch-delete', { body })).results;
  }

  /**
   * Uploads a file (path) or a stream: SHA-256 computed while streaming (a file is hashed first, so the checksum
   * is declared and storage refuses any other bytes), an upload URL asked for, the bytes sent (streamed, with
   * progress) as one PUT or, when the service answers a multipart session (large files, `multipart: true`), as
   * parts in parallel; then complete. With `resume`, an interrupted multipart upload of the same file continues
   * where it stopped. Does not wait for processing: see waitForReady.
   */
  async uploadFile(input: string | Readable, opts: UploadOptions = {}): Promise<UploadResult> {
    let source: UploadSource;
    if (typeof input === 'string') {
      source = await fileSource(input);
    } else {
      if (opts.size === undefined) throw new TypeError('uploadFile(stream): options.size (bytes) is required');
      source = streamSource(input, opts.size, opts.filename ?? 'upload.bin');
    }
    const signal = this.signalFor(opts.signal);
    const store = opts.resume && source.file ? new ResumeStore(opts.stateDir) : null;
    const key = source.file ? { baseUrl: this.baseUrl, path: source.file.path, size: source.size, mtimeMs: source.file.mtimeMs } : null;
    if (store && key) {
      const rec = await store.load(key);
      if (rec) {
        const resumed = await this.resumeUpload(rec, source, opts, signal);
        if (resumed) {
          await store.remove(key);
          return resumed;
        }
        await store.remove(key);
      }
    }
    const filename = opts.filename ?? source.filename;
    const declared = opts.checksumSha256 ?? (source.reopenable ? await hashSource(source, opts.onProgress, signal) : undefined);
    const grant = MediaClient.ok(
      await this.api.POST('/media/upload-url', {
        body: {
          filename,
          mimeType: opts.contentType ?? guessContentType(filename),
          sizeBytes: source.size,
          ...(declared ? { checksumSha256: declared } : {}),
          ...(opts.metadata ? { metadata: opts.metadata } : {}),
          ...(opts.acl ? { acl: opts.acl } : {}),
          ...(opts.bucket !== undefined ? { bucket: opts.bucket } : {}),
          ...(opts.path !== undefined ? { path: opts.path } : {}),
          ...(opts.multipart !== undefined ? { multipart: opts.multipart } : {}),
        },
        signal: opts.signal,
      }),
    ) as UploadGrant;
    const strategy = chooseStrategy(UPLOAD_STRATEGIES, grant);
    if (store && key && declared && strategy.kind === 'multipart') {
      // Written down before the first part is sent: an interruption from here on can be resumed.
      await store.save({
        version: 1,
        ...key,
        assetId: grant.assetId,
        uploadId: String(grant.uploadId),
        partSize: Number(grant.partSize),
        partCount: Number(grant.partCount),
        sha256: declared,
        expiresAt: grant.expiresAt,
        createdAt: new Date().toISOString(),
      });
    }
    const result = await this.runStrategy(strategy, grant, source, opts, signal, declared);
    if (store && key) await store.remove(key);
    return result;
  }

  /** Sends the bytes as `grant` says, checks what was sent against the declared checksum, then completes. */
  private async runStrategy(
    strategy: UploadStrategy,
    grant: UploadGrant,
    source: UploadSource,
    opts: UploadOptions,
    signal: AbortSignal | undefined,
    declared: string | undefined,
    storedParts?: Array<{ partNumber: number; etag: string; size: number }>,
  ): Promise<UploadResult> {
    const outcome = await strategy.upload({
      grant,
      source,
      onProgress: opts.onProgress,
      signal,
      retry: this.retry,
      idleTimeoutMs: this.idleTimeoutMs,
      api: this.api,
      declaredSha256: declared,
      partConcurrency: opts.partConcurrency,
      maxBytesPerSecond: opts.maxBytesPerSecond,
      storedParts,
    });
    if (declared && outcome.sha256 !== declared) {
      throw MediaApiError.sdk(
        'ChecksumMismatch',
        `The bytes sent (sha256 ${outcome.sha256}) differ from the declared ${declared}; was the file changed during the upload?`,
      );
    }
    const done = MediaClient.ok(
      await this.api.POST('/media/{id}/complete', {
        params: { path: { id: grant.assetId } },
        body: outcome.completeBody as never,
        signal: opts.signal,
      }),
    );
    // Multipart: complete answers 202 at once and the object is assembled in the background; wait for that.
    const status = done.upload?.state === 'assembling' ? await this.waitForAssembly(grant.assetId, signal) : done.status;
    return {
      assetId: grant.assetId,
      sizeBytes: source.size,
      sha256: outcome.sha256,
      status,
      strategy: strategy.kind,
      ...(outcome.parts ? { parts: outcome.parts } : {}),
    };
  }

  /**
   * Polls the asset (100 ms, growing to 2 s) until the assembly of its multipart upload has ended: answers the asset's
   * status once assembled (`processing` and on); rejects with `AssemblyFailed` when storage did not match the part
   * list (the reason is the service's).
   */
  private async waitForAssembly(id: string, signal: AbortSignal | undefined): Promise<Asset['status']> {
    for (let pause = 100; ; pause = Math.min(2000, Math.round(pause * 1.5))) {
      const asset = MediaClient.ok(await this.api.GET('/media/{id}', { params: { path: { id } }, signal }));
      // `assembled` while still `pending` is the instant between the object's assembly and processing's start (the
      // job, or its retry after a crash, starts it): keep polling until the asset leaves `pending`.
      if (asset.status !== 'pending' || !asset.upload) return asset.status;
      if (asset.upload.state === 'failed') {
        throw MediaApiError.sdk(
          'AssemblyFailed',
          `Asset ${id}: the multipart upload was not assembled: ${asset.upload.error ?? 'unknown reason'}`,
          {
            details: asset,
          },
        );
      }
      await sleep(pause, signal);
    }
  }

  /**
   * Continues the upload a resume record names: the parts storage holds are listed (GET /media/{id}/parts), the
   * others sent, then complete. Answers null when the record is stale (asset gone or not accessible, session
   * expired or aborted, another upload id): the caller starts afresh. A session already completed by an earlier
   * run that stopped before removing its record answers that asset.
   */
  private async resumeUpload(
    rec: ResumeRecord,
    source: UploadSource,
    opts: UploadOptions,
    signal: AbortSignal | undefined,
  ): Promise<UploadResult | null> {
    if (Date.parse(rec.expiresAt) <= Date.now()) return null;
    const listing = await this.api.GET('/media/{id}/parts', { params: { path: { id: rec.assetId } }, signal });
    if (listing.error !== undefined || !listing.response.ok) {
      const err = MediaApiError.fromResponse(listing.response.status, listing.error);
      const state = (err.problem.details as { state?: string } | undefined)?.state;
      if (err.status === 409 && state === 'completed') {
        const asset = await this.getAsset(rec.assetId).catch(() => null);
        if (asset && asset.sizeBytes === source.size && !['failed', 'quarantined', 'deleted'].includes(asset.status)) {
          return {
            assetId: rec.assetId,
            sizeBytes: source.size,
            sha256: rec.sha256,
            status: asset.status,
            strategy: 'multipart',
            parts: { total: rec.partCount, sent: 0, resumed: rec.partCount },
          };
        }
      }
      if ([403, 404, 409, 410].includes(err.status)) return null;
      throw err;
    }
    const list = listing.data;
    if (list.uploadId !== rec.uploadId || list.partCount !== rec.partCount || list.partSize !== rec.partSize) return null;
    if (list.upload?.state === 'assembling') {
      // An earlier run completed it and stopped before the answer: wait for its assembly.
      return {
        assetId: rec.assetId,
        sizeBytes: source.size,
        sha256: rec.sha256,
        status: await this.waitForAssembly(rec.assetId, signal),
        strategy: 'multipart',
        parts: { total: rec.partCount, sent: 0, resumed: rec.partCount },
      };
    }
    opts.onResume?.({ assetId: rec.assetId, storedParts: list.parts.length, partCount: list.partCount });
    const grant = {
      assetId: rec.assetId,
      method: 'MULTIPART',
      uploadId: rec.uploadId,
      partSize: rec.partSize,
      partCount: rec.partCount,
      parts: [],
      expiresAt: rec.expiresAt,
    } as unknown as UploadGrant;
    return this.runStrategy(chooseStrategy(UPLOAD_STRATEGIES, grant), grant, source, opts, signal, rec.sha256, list.parts);
  }

  /** Abandons a multipart upload (DELETE /media/{id}/upload): its parts are dropped and the pending asset deleted. */
  async abortUpload(id: string, opts: { stateDir?: string } = {}): Promise<void> {
    const r = await this.api.DELETE('/media/{id}/upload', { params: { path: { id } } });
    if (!r.response.ok && r.response.status !== 404) throw MediaApiError.fromResponse(r.response.status, r.error);
    await new ResumeStore(opts.stateDir).removeAsset(id);
    if (!r.response.ok) throw MediaApiError.fromResponse(r.response.status, r.error);
  }

  /**
   * Resolves with the asset once it is `ready`, long-polling the service (`?waitFor=ready&timeout=`); rejects
   * with `AssetFailed` when processing failed or quarantined it, `Timeout` after `timeout` ms (default 5 min).
   */
  async waitForReady(id: string, opts: { timeout?: number; signal?: AbortSignal } = {}): Promise<Asset> {
    const deadline = Date.now() + (opts.timeout ?? 300_000);
    for (;;) {
      const left = deadline - Date.now();
      const wait = Math.max(0, Math.min(30, Math.ceil(left / 1000)));
      const asset = MediaClient.ok(
        await this.api.GET('/media/{id}', { params: { path: { id }, query: { waitFor: 'ready', timeout: wait } }, signal: opts.signal }),
      );
      if (asset.status === 'ready') return asset;
      if (asset.status === 'pending' && asset.upload?.state === 'failed') {
        throw MediaApiError.sdk(
          'AssemblyFailed',
          `Asset ${id}: the multipart upload was not assembled: ${asset.upload.error ?? 'unknown reason'}`,
          {
            details: asset,
          },
        );
      }
      if (asset.status === 'failed' || asset.status === 'quarantined' || asset.status === 'deleted') {
        throw MediaApiError.sdk('AssetFailed', `Asset ${id} is ${asset.status}${asset.failureReason ? `: ${asset.failureReason}` : ''}`, {
          details: asset,
        });
      }
      if (Date.now() >= deadline) {
        throw MediaApiError.sdk('Timeout', `Asset ${id} is still ${asset.status} after ${Math.round((opts.timeout ?? 300_000) / 1000)} s`, {
          details: asset,
        });
      }
    }
  }

  /**
   * Downloads the asset's bytes to `dest` (a path: written to `<dest>.part`, verified against the asset's SHA-256,
   * then renamed; or a writable stream), streamed with progress. Retries on 5xx and network errors when `dest` is a path.
   */
  async download(
    id: string,
    dest: string | Writable,
    options: { onProgress?: (p: TransferProgress) => void; signal?: AbortSignal } = {},
  ): Promise<DownloadResult> {
    const opts = { ...options, signal: this.signalFor(options.signal) };
    const asset = await this.getAsset(id);
    for (let attempt = 0; ; attempt++) {
      const canRetry = typeof dest === 'string' && attempt < this.retry.retries;
      const link = MediaClient.ok(
        await this.api.GET('/media/{id}/download', { params: { path: { id }, query: { redirect: 'false' } }, signal: opts.signal }),
      );
      const part = typeof dest === 'string' ? `${dest}.part` : null;
      try {
        const res = await request(link.url, { method: 'GET', signal: opts.signal, idleTimeoutMs: this.idleTimeoutMs });
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          const text = await readText(res);
          if (canRetry && RETRYABLE_STATUS.has(status)) {
            await sleep(backoffDelay(attempt, this.retry), opts.signal);
            continue;
          }
          throw MediaApiError.fromResponse(status, parseJson(text), `Download failed with HTTP ${status}`);
        }
        const lengthHeader = res.headers['content-length'];
        const total = lengthHeader ? Number(lengthHeader) : asset.sizeBytes;
        const meter = new MeteredStream((loaded) => opts.onProgress?.({ phase: 'download', loaded, total }));
        await pipeline(res, meter, part ? createWriteStream(part) : (dest as Writable), { signal: opts.signal });
        const sha256 = meter.digest();
        if (asset.checksumSha256 && sha256 !== asset.checksumSha256) {
          throw MediaApiError.sdk('ChecksumMismatch', `Downloaded bytes have sha256 ${sha256}, the asset ${asset.checksumSha256}`);
        }
        if (part) await rename(part, dest as string);
        return { bytes: meter.loaded, sha256 };
      } catch (e) {
        if (part) await rm(part, { force: true });
        if (e instanceof MediaApiError) throw e;
        if (canRetry && isNetworkError(e)) {
          await sleep(backoffDelay(attempt, this.retry), opts.signal);
          continue;
        }
        if (isNetworkError(e)) throw MediaApiError.sdk('NetworkError', `Download failed: ${networkReason(e)}`, { cause: e });
        throw e;
      }
    }
  }

  /**
   * A signed URL of the asset rendered as asked (`GET /media/{id}/render?redirect=false`): rendered once by the
   * service, then served from storage. Bad parameters, a refused transformation or a busy renderer throw
   * MediaApiError (`err.problem.error`: ValidationFailed, TransformNotAllowed, ImageTooLarge, RenderBusy, …).
   */
  async renderUrl(id: string, opts: RenderOptions = {}): Promise<{ url: string; expiresAt: string | null }> {
    return MediaClient.ok(
      await this.api.GET('/media/{id}/render', {
        params: { path: { id }, query: { ...renderQuery(opts), redirect: 'false' } },
        headers: { accept: opts.accept ?? DEFAULT_RENDER_ACCEPT },
        signal: this.signalFor(opts.signal),
      }),
    );
  }

  /** Renders the asset (as renderUrl) and streams the rendition to `dest`; answers its size and content type. */
  async render(id: string, dest: string | Writable, opts: RenderOptions = {}): Promise<{ bytes: number; contentType: string }> {
    const signal = this.signalFor(opts.signal);
    const link = await this.renderUrl(id, opts);
    const res = await request(link.url, { method: 'GET', signal, idleTimeoutMs: this.idleTimeoutMs });
    const status = res.statusCode ?? 0;
    if (status !== 200)
      throw MediaApiError.fromResponse(status, parseJson(await readText(res)), `Fetching the rendition failed with HTTP ${status}`);
    const part = typeof dest === 'string' ? `${dest}.part` : null;
    const meter = new MeteredStream(() => undefined);
    try {
      await pipeline(res, meter, part ? createWriteStream(part) : (dest as Writable), { signal });
      if (part) await rename(part, dest as string);
    } catch (e) {
      if (part) await rm(part, { force: true });
      if (isNetworkError(e)) throw MediaApiError.sdk('NetworkError', `Fetching the rendition failed: ${networkReason(e)}`, { cause: e });
      throw e;
    }
    return { bytes: meter.loaded, contentType: String(res.headers['content-type'] ?? '') };
  }
}
