import { Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import {
  AdoptFileParams,
  ByteRange,
  canAdoptFiles,
  canCopy,
  canGiveLocalFile,
  canMultipart,
  CopyCapableStorage,
  FileAdoptingStorage,
  keepsUsedUploadMarkers,
  LocalFileStorage,
  MultipartCapableStorage,
  MultipartUploadRef,
  ObjectInfo,
  PresignedPost,
  PresignedPut,
  PresignGetParams,
  PresignPostParams,
  PresignPutParams,
  PutObjectParams,
  StorageDriver,
  StorageNotFoundError,
  StorageUnavailableError,
  StoredPart,
  UsedUploadMarkerStorage,
  CompleteMultipartParams,
  CreateMultipartParams,
  MultipartUploadId,
  PresignUploadPartParams,
  UploadPartParams,
} from '../storage-driver';
import { isRegionOutage, RegionRouter, StorageRegion } from './region-router';

/** Follow-up work the replication module attaches (the driver itself knows nothing of the database). */
export interface RoutedDriverHooks {
  /** After the service wrote an object itself (derived media): register it for replication. */
  afterWrite?(key: string, region: string): Promise<void>;
  /** Before an object is deleted from every region: stop replicating it. */
  beforeDelete?(key: string): Promise<void>;
}

/**
 * The StorageDriver every module injects (STORAGE_DRIVER). It spreads one logical bucket over the
 * configured regions:
 *
 * - new objects (signed uploads, server-side writes) go to the primary, or the next healthy region;
 * - reads (`head`, `read`, `presignGet`) go to the first healthy region that holds the object, in
 *   preference order, so they fail over when a region is down or lacks a copy;
 * - deletes remove the object from every region (an unreachable region makes the delete fail, to be retried).
 *
 * "Not found" is only answered when every region answered it; when a region that might hold the object
 * could not be asked, the answer is StorageUnavailableError (retry), never a false "absent".
 * With one region every call goes straight to its driver.
 *
 * Multipart uploads stay in the region that started them: with several regions the upload id handed out is
 * `<region>:<driver's upload id>` (region names never contain ':'), and every later call is routed by it, so parts,
 * completion and abort reach the same store even after the write region changed. With one region the id is the
 * driver's own and every call passes straight through.
 *
 * Capabilities only some regions have are forwarded to where they apply: `localFilePath` to the region that holds
 * the object (null when that region keeps no local files), `purgeConsumedMarkers` to every region that keeps markers.
 */
export class RoutedStorageDriver
  implements StorageDriver, CopyCapableStorage, MultipartCapableStorage, LocalFileStorage, FileAdoptingStorage, UsedUploadMarkerStorage
{
  private readonly logger = new Logger('Storage');
  private hooks: RoutedDriverHooks = {};

  constructor(
    readonly router: RegionRouter,
    /** The logical bucket recorded on assets (STORAGE_BUCKET); each region maps it to its own. */
    readonly bucket: string,
    /** Bound on the existence probe that picks the region for a signed download. */
    private readonly probeTimeoutMs: number,
  ) {}

  get kind(): 'local' | 's3' {
    return this.router.primary.driver.kind;
  }

  setHooks(hooks: RoutedDriverHooks): void {
    this.hooks = hooks;
  }

  /** Where a new object goes now. */
  writeRegion(): StorageRegion {
    return this.router.writeRegion();
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const found = await this.locate(key);
    return found?.info ?? null;
  }

  /** The first usable region (in preference order) holding `key`, with the object's info; null when no region has it. */
  async locate(key: string, timeoutMs?: number): Promise<{ region: StorageRegion; info: ObjectInfo } | null> {
    const { usable, skipped } = this.router.readCandidates();
    let outage: unknown;
    for (const region of usable) {
      try {
        const info = await this.router.call(region, (d) => d.head(key), timeoutMs);
        if (info) return { region, info };
      } catch (err) {
        if (!isRegionOutage(err) || usable.length === 1) throw err;
        outage = err;
      }
    }
    if (outage || skipped.length) throw this.unavailable(`head ${key}`, outage, skipped);
    return null;
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const { usable, skipped } = this.router.readCandidates();
    let outage: unknown;
    for (const region of usable) {
      try {
        return await this.router.call(region, (d) => d.read(key, range));
      } catch (err) {
        if (err instanceof StorageNotFoundError) continue;
        if (!isRegionOutage(err) || usable.length === 1) throw err;
        outage = err;
      }
    }
    if (outage || skipped.length) throw this.unavailable(`read ${key}`, outage, skipped);
    throw new StorageNotFoundError(key);
  }

  async write(params: PutObjectParams): Promise<void> {
    const region = this.router.writeRegion();
    await this.router.call(region, (d) => d.write(params));
    if (this.hooks.afterWrite) {
      await this.hooks
        .afterWrite(params.key, region.name)
        .catch((e) =>
          this.logger.warn(
            { key: params.key, err: e instanceof Error ? e.message : String(e) },
            'could not register a written object for replication',
          ),
        );
    }
  }

  /**
   * Adoption (FileAdoptingStorage) goes to the one region's driver when it adopts (local); with several regions the
   * write region may change between the path and the adoption, so callers write through `write` instead (null).
   */
  async adoptionPath(): Promise<string | null> {
    const adopter = this.adopter();
    return adopter ? this.router.call(adopter.region, () => adopter.driver.adoptionPath()) : null;
  }

  async adoptFile(params: AdoptFileParams): Promise<{ size: number; sha256: string }> {
    const adopter = this.adopter();
    if (!adopter) throw new Error('this store adopts no files: write the object instead');
    return this.router.call(adopter.region, () => adopter.driver.adoptFile(params));
  }

  /** The one region's driver when it adopts files; null with several regions or a driver that does not. */
  private adopter(): { region: StorageRegion; driver: StorageDriver & FileAdoptingStorage } | null {
    const only = this.router.onlyRegion;
    return only && canAdoptFiles(only.driver) ? { region: only, driver: only.driver } : null;
  }

  /** Copies inside the region that holds `fromKey` (replication spreads the result later). */
  async copy({ fromKey, toKey, sha256 }: { fromKey: string; toKey: string; sha256?: string }): Promise<void> {
    // One region whose driver copies by itself: nothing to locate first (a missing source is its StorageNotFoundError).
    const only = this.router.onlyRegion;
    if (only && canCopy(only.driver)) {
      const driver = only.driver;
      await this.router.call(only, () => driver.copy({ fromKey, toKey, sha256 }));
      return;
    }
    const found = await this.locate(fromKey);
    if (!found) throw new StorageNotFoundError(fromKey);
    const { region, info } = found;
    await this.router.call(region, async (d) => {
      if (canCopy(d)) return d.copy({ fromKey, toKey, sha256 });
      return d.write({
        key: toKey,
        body: await d.read(fromKey),
        contentType: info.contentType ?? 'application/octet-stream',
        contentLength: info.size,
      });
    });
  }

  async delete(key: string): Promise<void> {
    await this.hooks.beforeDelete?.(key);
    const failed: string[] = [];
    let lastError: unknown;
    await Promise.all(
      this.router.regions.map(async (region) => {
        if (this.router.multiRegion && !this.router.isUsable(region.name)) {
          failed.push(region.name);
          return;
        }
        try {
          await this.router.call(region, (d) => d.delete(key));
        } catch (err) {
          if (!this.router.multiRegion) throw err;
          failed.push(region.name);
          lastError = err;
        }
      }),
    );
    if (failed.length) {
      throw new StorageUnavailableError(
        `delete ${key} could not reach region(s) ${failed.join(', ')}${lastError ? `: ${lastError instanceof Error ? lastError.message : String(lastError)}` : ''}; retry later`,
        lastError,
      );
    }
  }

  presignPut(params: PresignPutParams): Promise<PresignedPut> {
    return this.router.writeRegion().driver.presignPut(params);
  }

  presignPost(params: PresignPostParams): Promise<PresignedPost> {
    return this.router.writeRegion().driver.presignPost(params);
  }

  /**
   * Signs the download in the first healthy region that holds the object (checked with a bounded HEAD),
   * so a link never points at a region that is down or lacks a copy. With one region: no probe.
   */
  async presignGet(params: PresignGetParams): Promise<string> {
    if (!this.router.multiRegion) return this.router.primary.driver.presignGet(params);
    let region: StorageRegion | undefined;
    try {
      region = (await this.locate(params.key, this.probeTimeoutMs))?.region;
    } catch (err) {
      this.logger.warn(
        { key: params.key, err: err instanceof Error ? err.message : String(err) },
        'no region confirmed the object; signing for the write region',
      );
    }
    return (region ?? this.router.writeRegion()).driver.presignGet(params);
  }

  // ---- multipart --------------------------------------------------------------------------------------

  async createMultipartUpload(params: CreateMultipartParams): Promise<{ uploadId: string; region?: string }> {
    const region = this.router.writeRegion();
    const { uploadId } = await this.router.call(region, (d) => this.multipart(d, region).createMultipartUpload(params));
    return { uploadId: this.router.multiRegion ? `${region.name}:${uploadId}` : uploadId, region: region.name };
  }

  async presignUploadPart(params: PresignUploadPartParams): Promise<PresignedPut> {
    const { region, uploadId } = this.uploadRegion(params.uploadId);
    return this.multipart(region.driver, region).presignUploadPart({ ...params, uploadId });
  }

  async uploadPart(params: UploadPartParams): Promise<{ etag: string }> {
    const { region, uploadId } = this.uploadRegion(params.uploadId);
    return this.router.call(region, (d) => this.multipart(d, region).uploadPart({ ...params, uploadId }));
  }

  async listParts(params: MultipartUploadId): Promise<StoredPart[]> {
    const { region, uploadId } = this.uploadRegion(params.uploadId);
    return this.router.call(region, (d) => this.multipart(d, region).listParts({ ...params, uploadId }));
  }

  async completeMultipartUpload(params: CompleteMultipartParams): Promise<ObjectInfo> {
    const { region, uploadId } = this.uploadRegion(params.uploadId);
    const info = await this.router.call(region, (d) => this.multipart(d, region).completeMultipartUpload({ ...params, uploadId }));
    if (this.router.multiRegion && this.hooks.afterWrite) {
      await this.hooks
        .afterWrite(params.key, region.name)
        .catch((e) =>
          this.logger.warn(
            { key: params.key, err: e instanceof Error ? e.message : String(e) },
            'could not register a completed upload for replication',
          ),
        );
    }
    return info;
  }

  async abortMultipartUpload(params: MultipartUploadId): Promise<void> {
    const { region, uploadId } = this.uploadRegion(params.uploadId);
    return this.router.call(region, (d) => this.multipart(d, region).abortMultipartUpload({ ...params, uploadId }));
  }

  /** Every region's unfinished uploads (ids routable back to their region); a region that cannot be asked fails the call. */
  async listMultipartUploads(params: { prefix?: string }): Promise<MultipartUploadRef[]> {
    if (!this.router.multiRegion) return this.multipart(this.router.primary.driver, this.router.primary).listMultipartUploads(params);
    const lists = await Promise.all(
      this.router.regions.map(async (region) =>
        (await this.router.call(region, (d) => this.multipart(d, region).listMultipartUploads(params))).map((u) => ({
          ...u,
          uploadId: `${region.name}:${u.uploadId}`,
        })),
      ),
    );
    return lists.flat();
  }

  // ---- LocalFileStorage, UsedUploadMarkerStorage --------------------------------------------------------

  /**
   * The local file of the region that serves reads of `key` (the first usable one holding it), or null when the
   * object is absent or that region's driver keeps no local files (s3): the caller then reads through a signed URL.
   */
  async localFilePath({ key }: { key: string }): Promise<string | null> {
    let region: StorageRegion | undefined = this.router.primary;
    if (this.router.multiRegion) {
      try {
        region = (await this.locate(key))?.region;
      } catch (err) {
        if (isRegionOutage(err)) return null; // no region confirmed it: the caller's signed URL picks one
        throw err;
      }
    }
    if (!region || !canGiveLocalFile(region.driver)) return null;
    return this.router.call(region, (d) => (canGiveLocalFile(d) ? d.localFilePath({ key }) : Promise.resolve(null)));
  }

  /**
   * Purges the markers of every region that keeps them (regions that are down are skipped: their markers wait for
   * the next run) and returns the keys, each once.
   */
  async purgeConsumedMarkers(params: { olderThan: Date; dryRun?: boolean }): Promise<string[]> {
    const regions = this.router.regions.filter(
      (r) => keepsUsedUploadMarkers(r.driver) && (!this.router.multiRegion || this.router.isUsable(r.name)),
    );
    const lists = await Promise.all(
      regions.map((region) =>
        this.router.call(region, (d) => (keepsUsedUploadMarkers(d) ? d.purgeConsumedMarkers(params) : Promise.resolve([]))),
      ),
    );
    return [...new Set(lists.flat())];
  }

  /** The region an upload id belongs to and the id its driver knows. */
  private uploadRegion(routedId: string): { region: StorageRegion; uploadId: string } {
    if (!this.router.multiRegion) return { region: this.router.primary, uploadId: routedId };
    const at = routedId.indexOf(':');
    const region = at > 0 ? this.router.region(routedId.slice(0, at)) : undefined;
    if (!region) throw new StorageNotFoundError(`upload ${routedId}`);
    return { region, uploadId: routedId.slice(at + 1) };
  }

  private multipart(d: StorageDriver, region: StorageRegion): StorageDriver & MultipartCapableStorage {
    if (!canMultipart(d)) throw new Error(`storage region ${region.name} (${d.kind}) does not support multipart uploads`);
    return d;
  }

  /** Passes when at least one region is healthy (checks them all now). */
  async checkHealth(): Promise<void> {
    await this.router.checkAll();
    const status = this.router.status();
    if (!status.some((s) => s.state === 'up')) {
      throw new StorageUnavailableError(
        `no storage region is healthy: ${status.map((s) => `${s.name}: ${s.lastError ?? s.state}`).join('; ')}`,
      );
    }
  }

  private unavailable(what: string, cause: unknown, skipped: StorageRegion[]): StorageUnavailableError {
    const parts = [];
    if (skipped.length) parts.push(`region(s) ${skipped.map((r) => r.name).join(', ')} down`);
    if (cause) parts.push(cause instanceof Error ? cause.message : String(cause));
    return new StorageUnavailableError(`${what}: not found in the reachable regions (${parts.join('; ')})`, cause);
  }
}
