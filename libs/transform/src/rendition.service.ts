import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import sharp from 'sharp';
import {
  AppError,
  AssetAccess,
  assertAssetAccess,
  Clock,
  ErrorCode,
  Errors,
  OutboxService,
  STORAGE_CONFIG,
  StorageConfig,
  TimeoutError,
  TRANSFORM_CONFIG,
  TransformConfig,
  withTimeout,
} from '@app/core';
import { AclService } from '@app/acl';
import { AssetEventsService, AssetQueryService, AssetStatus, DownloadLinkDto, MediaAsset } from '@app/assets';
import { CdnService } from '@app/cdn';
import { LifecycleEvents } from '@app/lifecycle';
import { canAdoptFiles, canGiveLocalFile, MAX_CACHE_AGE_SECONDS, ObjectKeyLayout, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import {
  ANIMATABLE_TYPES,
  assertRenderable,
  inspectImageFile,
  readImageHeader,
  renderCost,
  renderImageFile,
  RenderedImage,
  requestedCost,
  RENDERABLE_IMAGE_TYPES,
  SourceTooLargeError,
  UndecodableSourceError,
} from './image-renderer';
import {
  canonicalSpec,
  parseRenderQuery,
  presetRequest,
  RenderRequest,
  RenderSpec,
  resolveSpec,
  TransformMode,
  variesByAccept,
} from './render-params';
import { RenderCoalescer } from './render-coalescer';
import { RenderLimiter } from './render-limiter';
import { RenderRateLimiter } from './render-rate.limiter';
import { RenditionRowCache } from './rendition-row.cache';
import { SourceHeaderCache } from './source-header.cache';
import { RenditionRow, RenditionsRepository } from './renditions.repository';
import { TransformMetrics } from './transform.metrics';
import { extractVideoFrame, NoFrameError } from './video-frame';

/** Outbox topic: remove these rendition objects from storage (after their rows were deleted). */
export const RENDITION_DELETE_TOPIC = 'rendition.delete';
/** Default poster-frame offset of a video (seconds). */
export const DEFAULT_FRAME_SECONDS = 1;
const DAY_MS = 24 * 3600 * 1000;
const PURGE_BATCH = 500;
const PURGE_MAX_BATCHES = 20;
/** Signed URLs handed to ffmpeg for remote videos. */
const FRAME_URL_TTL_SECONDS = 300;

const MODE_RANK: Record<TransformMode, number> = { off: 0, presets: 1, any: 2 };

export interface RenderAnswer {
  link: DownloadLinkDto;
  /** The format came from the Accept header: the answer varies by it. */
  variesByAccept: boolean;
}

/**
 * On-the-fly renditions (`GET /media/{id}/render`).
 *
 * Cache: a rendition is keyed by owner + source SHA-256 + the normalised parameters (an HMAC of them, which is
 * also its object key, `renditions/<xx>/<key>`). Per owner on purpose: an owner's duplicate assets share their
 * renditions, but another owner who holds the same bytes never finds them — a first render costs every owner the
 * same, so the cache tells no one whether someone else has these bytes (dedup shares bytes, never that fact).
 * Rendered once per process for concurrent identical requests (coalesced), stored as its own object, found again
 * through one primary-key read of `renditions`, and served from storage through a signed URL carrying its SHA-256
 * (strong ETag; `public, max-age=31536000, immutable` when the asset is publicly readable, `private` otherwise).
 *
 * Removal: when an owner's last ready asset with the bytes goes (asset.deleted), their renditions of them go —
 * rows in one transaction with an outbox message that deletes the objects (and invalidates the CDN). Renditions
 * not read for TRANSFORM_CACHE_TTL_DAYS are purged by the lifecycle expire-pending job the same way.
 */
@Injectable()
export class RenditionService implements OnModuleInit {
  private readonly logger = new Logger('Renditions');
  readonly limiter: RenderLimiter;
  private readonly presets = new Map<string, RenderRequest>();
  private readonly inflight = new Map<string, Promise<RenditionRow>>();
  private readonly rowCache = new RenditionRowCache();
  private readonly headers = new SourceHeaderCache();
  private readonly keySecret: string;

  constructor(
    private readonly repo: RenditionsRepository,
    private readonly assets: AssetQueryService,
    private readonly assetEvents: AssetEventsService,
    private readonly acl: AclService,
    private readonly cdn: CdnService,
    private readonly outbox: OutboxService,
    private readonly lifecycle: LifecycleEvents,
    private readonly clock: Clock,
    private readonly metrics: TransformMetrics,
    private readonly rate: RenderRateLimiter,
    private readonly coalescer: RenderCoalescer,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(TRANSFORM_CONFIG) private readonly config: TransformConfig,
    @Inject(STORAGE_CONFIG) private readonly storageConfig: StorageConfig,
  ) {
    this.limiter = new RenderLimiter(
      config.transformConcurrency,
      config.TRANSFORM_QUEUE_SIZE,
      config.TRANSFORM_QUEUE_WAIT_MS,
      config.TRANSFORM_MEMORY_BUDGET_MB * 1024 * 1024,
    );
    this.keySecret = `rendition-key:${storageConfig.storageSigningSecret}`;
    // A preset that does not hold stops the start-up with a message naming it.
    for (const [name, params] of Object.entries(config.transformPresets))
      this.presets.set(name, presetRequest(name, params, config.TRANSFORM_MAX_DIMENSION));
  }

  onModuleInit(): void {
    // libvips' operation cache (up to 50 MB by default) never pays off for renders of ever-different sources and
    // sizes; it only holds memory between them.
    sharp.cache(false);
    this.metrics.watch(this.limiter);
    this.outbox.register(RENDITION_DELETE_TOPIC, async ({ keys }: { keys: string[] }) => {
      for (const key of keys) if (key.startsWith('renditions/')) await this.storage.delete(key);
    });
    this.assetEvents.subscribe('renditions', async (event) => {
      const sha = event.asset.checksumSha256;
      if (event.type !== 'asset.deleted' || !sha) return;
      if (await this.assets.ownerHoldsReady(event.asset.ownerId, sha)) return;
      await this.releaseSource(event.asset.ownerId, sha);
    });
    this.lifecycle.registerExpirer('renditions', { purgeExpired: (now) => this.purgeUnread(now) });
    // An object stored by a render that died before writing its row (or whose row went while it was written) is named
    // by no row: reconcile deletes it after ORPHAN_GRACE_SECONDS (keys derive from the cache key, so the prefix says
    // whose it is).
    this.lifecycle.registerObjectKeyOwner({ prefix: 'renditions/', keysInUse: (bucket, keys) => this.repo.keysInUse(bucket, keys) });
  }

  async render(
    access: AssetAccess,
    query: Record<string, unknown>,
    accept: string | undefined,
    clientIp: string | undefined,
  ): Promise<RenderAnswer> {
    assertAssetAccess(access, 'read');
    const anonymous = access.principal === null;
    const mode =
      anonymous && MODE_RANK[this.config.TRANSFORMS_PUBLIC] < MODE_RANK[this.config.TRANSFORMS]
        ? this.config.TRANSFORMS_PUBLIC
        : this.config.TRANSFORMS;
    const request = parseRenderQuery(query, { mode, presets: this.presets, maxDimension: this.config.TRANSFORM_MAX_DIMENSION, anonymous });
    const a = await this.assets.getRecord(access.assetId);
    if (!a || a.status === AssetStatus.Deleted) throw Errors.assetNotFound(access.assetId);
    if (a.status !== AssetStatus.Ready) throw Errors.assetNotReady(a.assetId, a.status);
    const type = a.detectedMimeType ?? a.mimeType;
    const video = type.startsWith('video/');
    if (!video && !RENDERABLE_IMAGE_TYPES.has(type))
      throw Errors.notRenderable(
        `Asset ${a.assetId} is ${type}: only images (${[...RENDERABLE_IMAGE_TYPES].join(', ')}) and videos can be rendered`,
      );
    if (!video && Number(a.sizeBytes) > this.config.TRANSFORM_MAX_INPUT_BYTES)
      throw Errors.imageTooLarge(
        `Asset ${a.assetId} is ${a.sizeBytes} bytes, more than the ${this.config.TRANSFORM_MAX_INPUT_BYTES} an image source may have (TRANSFORM_MAX_INPUT_BYTES)`,
      );
    const sha = a.storedObjectSha256 ?? a.checksumSha256!;
    const spec = resolveSpec(request, { video, mayAnimate: ANIMATABLE_TYPES.has(type) }, accept);
    const params = canonicalSpec(spec);
    const cacheKey = createHmac('sha256', this.keySecret).update(`${a.ownerId}\n${sha}\n${params}`).digest('hex');

    const [row, isPublic] = await Promise.all([
      this.cachedOrRendered(
        cacheKey,
        a,
        sha,
        spec,
        params,
        access.principal ? `user:${access.principal.userId}` : `ip:${clientIp ?? 'unknown'}`,
      ),
      anonymous ? Promise.resolve(true) : this.isPublic(a.assetId),
    ]);
    const link = await this.cdn.readUrl({
      key: row.objectKey,
      contentType: row.mimeType,
      sha256: row.contentSha256,
      publicRead: isPublic,
      cacheMaxAgeSeconds: isPublic ? MAX_CACHE_AGE_SECONDS : undefined,
    });
    return {
      link: {
        url: link.url,
        expiresAt: (link.expiresAt ?? new Date(Date.now() + this.storageConfig.DOWNLOAD_URL_TTL_SECONDS * 1000)).toISOString(),
      },
      variesByAccept: variesByAccept(request),
    };
  }

  private async isPublic(assetId: string): Promise<boolean> {
    return (await this.acl.entries(assetId)).some((e) => e.principal === '*' && e.permission === 'read');
  }

  private async cachedOrRendered(cacheKey: string, a: MediaAsset, sha: string, spec: RenderSpec, params: string, tracker: string) {
    const found = this.rowCache.get(cacheKey) ?? (await this.repo.find(cacheKey));
    if (found) {
      this.metrics.cache('hit');
      await this.noteRead(found);
      this.rowCache.set(found);
      return found;
    }
    let pending = this.inflight.get(cacheKey);
    if (pending) {
      this.metrics.cache('coalesced');
      return pending;
    }
    this.metrics.cache('miss');
    pending = this.produce(cacheKey, a, sha, spec, params, tracker).finally(() => this.inflight.delete(cacheKey));
    this.inflight.set(cacheKey, pending);
    return pending;
  }

  /** A read keeps a rendition from the purge: written at most once a day per rendition; a failed write never fails the read. */
  private async noteRead(row: RenditionRow): Promise<void> {
    const now = this.clock.now();
    if (now.getTime() - new Date(row.lastReadAt).getTime() < DAY_MS) return;
    try {
      await this.repo.touch(row.cacheKey, now);
      row.lastReadAt = now;
    } catch (e) {
      this.logger.warn(`could not record a rendition read: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async produce(
    cacheKey: string,
    a: MediaAsset,
    sha: string,
    spec: RenderSpec,
    params: string,
    tracker: string,
  ): Promise<RenditionRow> {
    try {
      await this.rate.consume(tracker);
    } catch (e) {
      this.metrics.render('rate_limited');
      throw e;
    }
    const started = performance.now();
    const budgetMs = this.config.TRANSFORM_TIMEOUT_MS + this.config.TRANSFORM_QUEUE_WAIT_MS;
    let work: Promise<{ value: RenditionRow; produced: boolean }> | undefined;
    try {
      // Once across replicas: the holder of the rendition's Redis lock renders; another replica asked for it at the
      // same time waits for its row (RenderCoalescer). The slot bounds decoding and encoding (CPU and memory) and is
      // held by that work itself, so a request that gives up (timeout) does not free it early; storing the bounded
      // result happens outside it, so the next render starts while this one is written.
      work = this.coalescer.once<RenditionRow>(
        cacheKey,
        () => this.repo.find(cacheKey),
        async () => {
          // libvips writes the rendition to a file (never a whole image in memory): on a store that adopts files (local),
          // in the store's own temporary directory, from where it is hashed and renamed into place (no copy); elsewhere
          // in the system's, from where it is streamed to storage.
          const adoptionPath = canAdoptFiles(this.storage) ? await this.storage.adoptionPath() : null;
          const outFile = adoptionPath ?? join(tmpdir(), `media-rendition-${randomUUID()}`);
          let rendered: RenderedImage;
          try {
            rendered = await this.renderSource(a, sha, spec, outFile);
          } catch (e) {
            await rm(outFile, { force: true });
            throw e;
          }
          // An adopted file is renamed into place, or removed by the store when that fails.
          if (adoptionPath) return this.store(cacheKey, a, sha, params, rendered, true);
          try {
            return await this.store(cacheKey, a, sha, params, rendered, false);
          } finally {
            await rm(outFile, { force: true });
          }
        },
        Date.now() + budgetMs,
      );
      const { value: row, produced } = await withTimeout(work, budgetMs, 'render');
      if (!produced) {
        this.metrics.cache('replica');
        this.rowCache.set(row);
        return row;
      }
      this.metrics.render('ok');
      this.metrics.rendered(
        spec.format,
        (a.detectedMimeType ?? a.mimeType).startsWith('video/') ? 'video' : 'image',
        performance.now() - started,
      );
      return row;
    } catch (e) {
      work?.catch(() => undefined);
      throw this.renderError(e, a, spec);
    }
  }

  private renderError(e: unknown, a: MediaAsset, spec: RenderSpec): unknown {
    if (e instanceof AppError) {
      this.metrics.render(e.code === ErrorCode.RenderBusy ? 'busy' : 'failed');
      return e;
    }
    if (e instanceof SourceTooLargeError) {
      this.metrics.render('too_large');
      return Errors.imageTooLarge(`Asset ${a.assetId} cannot be rendered: ${e.message}`, {
        pixels: e.pixels,
        maxPixels: this.config.TRANSFORM_MAX_INPUT_PIXELS,
      });
    }
    if (e instanceof TimeoutError || (e instanceof Error && e.name === 'RenderTimeoutError')) {
      this.metrics.render('timeout');
      return Errors.renderTimeout(
        `Rendering asset ${a.assetId} took longer than ${this.config.TRANSFORM_TIMEOUT_MS} ms (TRANSFORM_TIMEOUT_MS); retry later`,
      );
    }
    this.metrics.render('failed');
    if (e instanceof NoFrameError && spec.t !== null)
      return Errors.validation(`t: the video has no frame at ${spec.t} s`, { parameter: 't' });
    if (e instanceof UndecodableSourceError || e instanceof NoFrameError)
      return Errors.notRenderable(`Asset ${a.assetId} cannot be rendered: ${e.message}`);
    return e;
  }

  /**
   * Stores the rendition's file (putObject), then writes its row (the object first: a row always names stored bytes;
   * the object key derives from the cache key, so an object whose row never came — the process died between the two
   * — is found by reconcile under renditions/ with no row naming it, and deleted after ORPHAN_GRACE_SECONDS).
   */
  private async store(
    cacheKey: string,
    a: MediaAsset,
    sha: string,
    params: string,
    rendered: RenderedImage,
    adopt: boolean,
  ): Promise<RenditionRow> {
    const objectKey = ObjectKeyLayout.rendition(cacheKey);
    const stored = await this.putObject(objectKey, rendered, adopt);
    const row: RenditionRow = {
      cacheKey,
      ownerId: a.ownerId,
      sourceSha256: sha,
      params,
      bucket: this.storage.bucket,
      objectKey,
      mimeType: rendered.mimeType,
      width: rendered.width,
      height: rendered.height,
      sizeBytes: stored.size,
      contentSha256: stored.sha256,
      lastReadAt: this.clock.now(),
    };
    await this.repo.insert(row);
    // The owner's last asset with these bytes may have gone while this rendered (its release found no row yet):
    // then nothing keeps this rendition.
    if (!(await this.assets.ownerHoldsReady(a.ownerId, sha))) {
      await this.releaseSource(a.ownerId, sha);
      throw Errors.assetNotFound(a.assetId);
    }
    this.rowCache.set(row);
    return row;
  }

  /**
   * Stores the rendition's file under `objectKey` and answers its size and SHA-256 (the strong ETag its URLs carry):
   * adopted (hashed in one read, renamed into place) when `adopt` (the file is at the store's adoption path), else
   * streamed to storage while hashed. Either way the store checks the size libvips reported.
   */
  private async putObject(objectKey: string, rendered: RenderedImage, adopt: boolean): Promise<{ size: number; sha256: string }> {
    if (adopt && canAdoptFiles(this.storage))
      return this.storage.adoptFile({
        key: objectKey,
        file: rendered.file,
        contentType: rendered.mimeType,
        contentLength: rendered.sizeBytes,
        noColdCopies: true, // tiering moves assets' objects, never renditions
      });
    const hash = createHash('sha256');
    const source = createReadStream(rendered.file);
    const body = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    source.on('error', (e) => body.destroy(e));
    await this.storage.write({
      key: objectKey,
      body: source.pipe(body),
      contentType: rendered.mimeType,
      contentLength: rendered.sizeBytes,
    });
    return { size: rendered.sizeBytes, sha256: hash.digest('hex') };
  }

  /**
   * Renders the source to `outFile`, in a render slot weighed by the render's estimated working memory. A source on
   * local disk has its header read first (once per owner and source: SourceHeaderCache), outside the slot (nothing
   * decoded), so the weight is exact; a remote source or a video's frame is fetched inside the slot (bounded like the
   * render) and weighed by the requested size.
   */
  private async renderSource(a: MediaAsset, sha: string, spec: RenderSpec, outFile: string): Promise<RenderedImage> {
    const limits = { maxPixels: this.config.TRANSFORM_MAX_INPUT_PIXELS, timeoutSeconds: this.config.TRANSFORM_TIMEOUT_MS / 1000 };
    const local = canGiveLocalFile(this.storage) ? await this.storage.localFilePath({ key: a.objectKey }) : null;
    const video = (a.detectedMimeType ?? a.mimeType).startsWith('video/');
    const waited = (ms: number) => this.metrics.waited(ms);
    // The local driver's file is read in place.
    if (local && !video) {
      const header = await this.headers.get(a.ownerId, sha, () => readImageHeader(local));
      assertRenderable(header, spec, limits);
      return this.limiter.run(() => renderImageFile(local, header, spec, { ...limits, outFile }), waited, renderCost(header, spec));
    }
    return this.limiter.run(
      async () => {
        const dir = await mkdtemp(join(tmpdir(), 'media-render-'));
        try {
          return await this.fetchAndRender(a, spec, video, local, dir, outFile, limits);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
      waited,
      requestedCost(spec),
    );
  }

  /** A remote image streamed to a file in `dir`, or a video's poster frame extracted there, rendered to `outFile`. */
  private async fetchAndRender(
    a: MediaAsset,
    spec: RenderSpec,
    video: boolean,
    local: string | null,
    dir: string,
    outFile: string,
    limits: { maxPixels: number; timeoutSeconds: number },
  ): Promise<RenderedImage> {
    if (!video) {
      // Remote store: the source is streamed to a file (libvips then reads it; nothing is held in memory).
      const file = join(dir, 'source');
      await pipeline(await this.storage.read(a.objectKey), createWriteStream(file, { mode: 0o600 }));
      return renderImageFile(file, await inspectImageFile(file, spec, limits), spec, { ...limits, outFile });
    }
    const source = local
      ? { file: local }
      : { url: await this.storage.presignGet({ key: a.objectKey, expiresInSeconds: FRAME_URL_TTL_SECONDS }) };
    const frame = join(dir, 'frame.png');
    const extract = (seconds: number) =>
      extractVideoFrame({
        ffmpeg: this.config.FFMPEG_PATH,
        source,
        seconds,
        outPng: frame,
        timeoutMs: this.config.TRANSFORM_TIMEOUT_MS,
        maxPixels: limits.maxPixels,
      });
    try {
      await extract(spec.t ?? DEFAULT_FRAME_SECONDS);
    } catch (e) {
      // A clip shorter than the default offset: its first frame.
      if (!(e instanceof NoFrameError) || spec.t !== null) throw e;
      await extract(0);
    }
    const still = { ...spec, animated: false };
    return renderImageFile(frame, await inspectImageFile(frame, still, limits), still, { ...limits, outFile });
  }
  /** Deletes an owner's renditions of one source: rows now, objects (and CDN copies) through the outbox. */
  async releaseSource(ownerId: string, sha256: string): Promise<number> {
    this.headers.delete(ownerId, sha256);
    const rows = await this.repo.transaction(async (m) => {
      const removed = await this.repo.removeOfSource(m, ownerId, sha256);
      await this.requestObjectRemoval(m, removed);
      return removed;
    });
    if (rows.length) this.outbox.kick();
    return rows.length;
  }

  /** The lifecycle purge: renditions unread for TRANSFORM_CACHE_TTL_DAYS before `now`. */
  async purgeUnread(now: Date): Promise<{ removed: number }> {
    const cutoff = new Date(now.getTime() - this.config.TRANSFORM_CACHE_TTL_DAYS * DAY_MS);
    let removed = 0;
    for (let i = 0; i < PURGE_MAX_BATCHES; i++) {
      const rows = await this.repo.transaction(async (m) => {
        const batch = await this.repo.removeUnread(m, cutoff, PURGE_BATCH);
        await this.requestObjectRemoval(m, batch);
        return batch;
      });
      removed += rows.length;
      if (rows.length < PURGE_BATCH) break;
    }
    if (removed) this.outbox.kick();
    return { removed };
  }

  private async requestObjectRemoval(m: Parameters<OutboxService['append']>[0], rows: RenditionRow[]): Promise<void> {
    if (!rows.length) return;
    this.rowCache.delete(rows.map((r) => r.cacheKey));
    const keys = rows.map((r) => r.objectKey);
    await this.outbox.append(m, RENDITION_DELETE_TOPIC, { keys });
    await this.cdn.requestInvalidation(m, keys);
  }
}
