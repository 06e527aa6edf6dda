import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  assertPartNumber,
  CompleteMultipartParams,
  InvalidPartError,
  MultipartCapableStorage,
  MultipartUploadId,
  MultipartUploadRef,
  ObjectInfo,
  PresignedPut,
  PresignUploadPartParams,
  StorageNotFoundError,
  StorageUnavailableError,
  StoredPart,
  UploadPartParams,
} from '../../storage-driver';
import { LocalLayout } from './local-layout';
import { receiveFile } from './local-files';
import { assertBeforeDeadline, LocalObjectStore } from './local-object-store';
import { LocalUrlSigner } from './local-url-signer';

/** A multipart upload's manifest: `<root>/.multipart/<bucket>/<uploadId>/manifest.json`. */
interface MultipartManifest {
  key: string;
  contentType: string;
  initiated: string;
}

/** One stored part's sidecar: `part-<n>.json` beside `part-<n>`. */
interface PartMeta {
  etag: string;
  size: number;
  lastModified: string;
}

/**
 * S3's multipart contract on disk. Parts live in `<root>/.multipart/<bucket>/<uploadId>/part-<n>` (+ `.json` with
 * ETag and size) beside a manifest (key, type, initiated). Completing streams the parts, in order, into one temp
 * file that is fsynced and renamed into place, then drops the staging directory. No part is ever held in memory.
 */
export class LocalMultipart implements MultipartCapableStorage {
  constructor(
    private readonly layout: LocalLayout,
    private readonly objects: LocalObjectStore,
    private readonly signer: LocalUrlSigner,
  ) {}

  async createMultipartUpload({ key, contentType }: { key: string; contentType: string }): Promise<{ uploadId: string }> {
    this.layout.objectPath(key);
    const uploadId = randomUUID();
    const dir = this.layout.uploadDir(uploadId);
    try {
      await mkdir(dir, { recursive: true });
      const manifest: MultipartManifest = { key, contentType, initiated: new Date().toISOString() };
      await writeFile(path.join(dir, 'manifest.json.tmp'), JSON.stringify(manifest));
      await rename(path.join(dir, 'manifest.json.tmp'), path.join(dir, 'manifest.json'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      await rm(dir, { recursive: true, force: true });
      throw new StorageUnavailableError(`local storage could not start an upload: ${e?.message}`, e);
    }
    return { uploadId };
  }

  async presignUploadPart(p: PresignUploadPartParams): Promise<PresignedPut> {
    assertPartNumber(p.partNumber);
    if (!Number.isSafeInteger(p.contentLength) || p.contentLength < 0) throw new RangeError(`invalid contentLength ${p.contentLength}`);
    this.layout.uploadDir(p.uploadId);
    return this.signer.presignPart(p);
  }

  /**
   * Streams one part into the upload's staging directory (exact size, MD5 ETag like S3's), replacing any part
   * stored under the same number. Used by the signed part URLs and by `uploadPart`.
   */
  async storePart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    exactLength: number,
    deadlineMs?: number,
  ): Promise<{ etag: string; size: number }> {
    assertPartNumber(partNumber);
    await this.manifest(key, uploadId);
    const dir = this.layout.uploadDir(uploadId);
    const tmp = path.join(dir, `part-${partNumber}.${randomUUID()}.tmp`);
    try {
      const { size, digest } = await receiveFile(body, tmp, 'md5', { exactLength });
      assertBeforeDeadline(deadlineMs);
      const etag = `"${digest}"`;
      const meta: PartMeta = { etag, size, lastModified: new Date().toISOString() };
      // The part file first, then its sidecar: a listed part always has its bytes (a re-PUT replaces both).
      await rename(tmp, path.join(dir, `part-${partNumber}`));
      await writeFile(path.join(dir, `part-${partNumber}.json.tmp`), JSON.stringify(meta));
      await rename(path.join(dir, `part-${partNumber}.json.tmp`), path.join(dir, `part-${partNumber}.json`));
      return { etag, size };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      await rm(tmp, { force: true });
      if (e?.code === 'ENOENT') throw new StorageNotFoundError(key); // aborted meanwhile
      throw e;
    }
  }

  async uploadPart(p: UploadPartParams): Promise<{ etag: string }> {
    const { etag } = await this.storePart(p.key, p.uploadId, p.partNumber, p.body, p.contentLength);
    return { etag };
  }

  async listParts({ key, uploadId }: MultipartUploadId): Promise<StoredPart[]> {
    await this.manifest(key, uploadId);
    const dir = this.layout.uploadDir(uploadId);
    const parts: StoredPart[] = [];
    for (const name of await readdir(dir)) {
      const m = /^part-(\d+)\.json$/.exec(name);
      if (!m) continue;
      try {
        const meta = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as PartMeta;
        parts.push({ partNumber: Number(m[1]), etag: meta.etag, size: meta.size, lastModified: new Date(meta.lastModified) });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e?.code !== 'ENOENT') throw new StorageUnavailableError(`local storage could not read part ${name}: ${e?.message}`, e);
      }
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipartUpload({ key, uploadId, parts }: CompleteMultipartParams): Promise<ObjectInfo> {
    const manifest = await this.manifest(key, uploadId);
    if (!parts.length) throw new InvalidPartError(0, 'At least one part is required');
    const stored = new Map((await this.listParts({ key, uploadId })).map((p) => [p.partNumber, p]));
    let previous = 0;
    for (const p of parts) {
      assertPartNumber(p.partNumber);
      if (p.partNumber <= previous) throw new InvalidPartError(p.partNumber, 'Parts must be listed in ascending order, each once');
      previous = p.partNumber;
      const have = stored.get(p.partNumber);
      if (!have) throw new InvalidPartError(p.partNumber, `Part ${p.partNumber} has not been uploaded`);
      if (unquote(have.etag) !== unquote(p.etag))
        throw new InvalidPartError(p.partNumber, `Part ${p.partNumber}'s ETag does not match the stored part`);
    }
    const dir = this.layout.uploadDir(uploadId);
    const partPaths = parts.map((p) => path.join(dir, `part-${p.partNumber}`));
    async function* concatenated() {
      for (const file of partPaths) {
        const fh = await open(file, 'r');
        try {
          for await (const chunk of fh.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false })) yield chunk as Buffer;
        } finally {
          await fh.close();
        }
      }
    }
    await this.objects.store(key, Readable.from(concatenated(), { objectMode: false }), manifest.contentType);
    await rm(dir, { recursive: true, force: true });
    const info = await this.objects.head(key);
    if (!info) throw new StorageUnavailableError(`local storage completed ${key} but cannot find it`);
    return info;
  }

  async abortMultipartUpload({ key, uploadId }: MultipartUploadId): Promise<void> {
    try {
      await this.manifest(key, uploadId);
    } catch (e) {
      if (e instanceof StorageNotFoundError) return;
      throw e;
    }
    await rm(this.layout.uploadDir(uploadId), { recursive: true, force: true });
  }

  async listMultipartUploads({ prefix }: { prefix?: string } = {}): Promise<MultipartUploadRef[]> {
    let names: string[];
    try {
      names = await readdir(this.layout.multipartRoot());
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e?.code === 'ENOENT') return [];
      throw new StorageUnavailableError(`local storage could not list uploads: ${e?.message}`, e);
    }
    const uploads: MultipartUploadRef[] = [];
    for (const uploadId of names) {
      if (!LocalLayout.isUploadId(uploadId)) continue;
      try {
        const m = JSON.parse(
          await readFile(path.join(this.layout.multipartRoot(), uploadId, 'manifest.json'), 'utf8'),
        ) as MultipartManifest;
        if (prefix === undefined || m.key.startsWith(prefix)) uploads.push({ key: m.key, uploadId, initiated: new Date(m.initiated) });
      } catch {
        // completed or aborted meanwhile, or a manifest not yet written
      }
    }
    return uploads.sort((a, b) => a.key.localeCompare(b.key) || a.uploadId.localeCompare(b.uploadId));
  }

  /** The upload's manifest; StorageNotFoundError when there is no such upload for `key`. */
  private async manifest(key: string, uploadId: string): Promise<MultipartManifest> {
    let m: MultipartManifest;
    try {
      m = JSON.parse(await readFile(path.join(this.layout.uploadDir(uploadId), 'manifest.json'), 'utf8')) as MultipartManifest;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e instanceof StorageNotFoundError || e?.code === 'ENOENT' || e instanceof SyntaxError) throw new StorageNotFoundError(key);
      throw new StorageUnavailableError(`local storage could not read upload ${uploadId}: ${e?.message}`, e);
    }
    if (m.key !== key) throw new StorageNotFoundError(key);
    return m;
  }
}

function unquote(etag: string): string {
  return etag.replace(/"/g, '');
}
