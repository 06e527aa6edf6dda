import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, opendir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ObjectKeyLayout } from '../object-key-layout';
import {
  assertPartNumber,
  ByteRange,
  CopyCapableStorage,
  ListableStorage,
  ListedObject,
  InvalidPartError,
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
  StorageClassName,
  StorageUnavailableError,
  TieredStorage,
  StoredPart,
} from '../storage-driver';

/** Colder classes, each a directory tree of its own (`<root>/.tiers/<class>/<bucket>/<key>`); reads look there too. */
const COLD_CLASSES: StorageClassName[] = ['STANDARD_IA', 'GLACIER_IR'];

export interface LocalStorageOptions {
  /** Directory that holds every bucket; created when missing. */
  root: string;
  bucket: string;
  /** Public base URL of the HTTP handler serving signed URLs (e.g. http://localhost:3000). */
  baseUrl: string;
  /** HMAC key for signed URLs (at least 32 characters). */
  signingSecret: string;
  /**
   * Path under `baseUrl` where this driver's handler is mounted (default LOCAL_URL_PREFIX). Each local region
   * of a multi-region deployment has its own, so one service can serve several local roots.
   */
  urlPrefix?: string;
}

interface ObjectMeta {
  contentType: string;
  size: number;
  sha256: string;
  lastModified: string;
}

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

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a verified signature allows. */
export interface SignedPutGrant {
  key: string;
  contentType: string;
  contentLength: number;
  checksumSha256?: string;
}

export interface SignedPostPolicy {
  key: string;
  contentType: string;
  min: number;
  max: number;
  exp: number;
}

export const LOCAL_URL_PREFIX = '/storage';

/** Thrown by the signed-URL checks; `status` is the HTTP answer. */
export class LocalRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The embedded driver: objects are files under `<root>/<bucket>/<key>`, with a sidecar
 * `<root>/.meta/<bucket>/<key>.json` (type, size, SHA-256). Signed URLs point at this service
 * (see local-object.http-handler.ts) and are HMAC-SHA256 over everything they allow.
 * Writes go to `<root>/.tmp` and are renamed into place after fsync, so a crash never leaves a partial object.
 */
export class LocalStorageDriver implements StorageDriver, CopyCapableStorage, ListableStorage, TieredStorage, MultipartCapableStorage {
  readonly kind = 'local' as const;
  readonly bucket: string;
  readonly root: string;
  /** URLs are `<baseUrl><urlPrefix>/<bucket>/<key>?…`. */
  readonly urlPrefix: string;
  private readonly baseUrl: string;
  private readonly secret: Buffer;

  constructor(options: LocalStorageOptions) {
    if (options.signingSecret.length < 32) throw new Error('signing secret must be at least 32 characters');
    this.root = path.resolve(options.root);
    this.bucket = options.bucket;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.urlPrefix = (options.urlPrefix ?? LOCAL_URL_PREFIX).replace(/\/+$/, '');
    this.secret = Buffer.from(options.signingSecret);
  }

  async init(): Promise<void> {
    await mkdir(path.join(this.root, this.bucket), { recursive: true });
    await mkdir(path.join(this.root, '.meta', this.bucket), { recursive: true });
    await mkdir(this.tmpDir(), { recursive: true });
    await mkdir(this.multipartRoot(), { recursive: true });
  }

  // ---- paths ------------------------------------------------------------------------------------------

  objectPath(key: string): string {
    if (!ObjectKeyLayout.isSafe(key)) throw new LocalRequestError(400, 'InvalidKey', 'Object key is not valid');
    const base = path.join(this.root, this.bucket);
    const p = path.resolve(base, key);
    if (!p.startsWith(base + path.sep)) throw new LocalRequestError(400, 'InvalidKey', 'Object key is not valid');
    return p;
  }

  /** Where the object lives in a colder class (TieredStorage). */
  tierPath(key: string, storageClass: StorageClassName): string {
    this.objectPath(key);
    return path.join(this.root, '.tiers', storageClass, this.bucket, key);
  }

  /** The file holding the object now (the standard tree first, then the colder ones), or null. */
  private async locateFile(key: string): Promise<{ file: string; storageClass: StorageClassName; size: number; mtime: Date } | null> {
    const candidates: [string, StorageClassName][] = [[this.objectPath(key), 'STANDARD'], ...COLD_CLASSES.map((c) => [this.tierPath(key, c), c] as [string, StorageClassName])];
    for (const [file, storageClass] of candidates) {
      try {
        const st = await stat(file);
        return { file, storageClass, size: st.size, mtime: st.mtime };
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e?.code !== 'ENOENT' && e?.code !== 'ENOTDIR') throw e;
      }
    }
    return null;
  }

  private metaPath(key: string): string {
    this.objectPath(key);
    return path.join(this.root, '.meta', this.bucket, `${key}.json`);
  }

  private tmpDir(): string {
    return path.join(this.root, '.tmp');
  }

  private multipartRoot(): string {
    return path.join(this.root, '.multipart', this.bucket);
  }

  /** The staging directory of one upload (ids are UUIDs this driver issued; anything else is refused). */
  private uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new StorageNotFoundError(`upload ${uploadId}`);
    return path.join(this.multipartRoot(), uploadId);
  }

  // ---- StorageDriver ----------------------------------------------------------------------------------

  async head(key: string): Promise<ObjectInfo | null> {
    this.objectPath(key);
    try {
      const found = await this.locateFile(key);
      if (!found) return null;
      const meta = await this.readMeta(key);
      return {
        key,
        size: found.size,
        contentType: meta?.contentType,
        etag: meta ? `"${meta.sha256}"` : `"${found.size.toString(16)}-${found.mtime.getTime().toString(16)}"`,
        lastModified: found.mtime,
        ...(found.storageClass !== 'STANDARD' ? { storageClass: found.storageClass } : {}),
      };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e?.code === 'ENOENT') return null;
      throw new StorageUnavailableError(`local storage head failed: ${e?.message}`, e);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    this.objectPath(key);
    const found = await this.locateFile(key).catch((e: NodeJS.ErrnoException) => {
      throw new StorageUnavailableError(`local storage read failed: ${e?.message}`, e);
    });
    if (!found) throw new StorageNotFoundError(key);
    const handle = await open(found.file, 'r').catch((e: NodeJS.ErrnoException) => {
      if (e?.code === 'ENOENT') throw new StorageNotFoundError(key);
      throw new StorageUnavailableError(`local storage read failed: ${e?.message}`, e);
    });
    return handle.createReadStream({ highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async write({ key, body, contentType, contentLength }: PutObjectParams): Promise<void> {
    const r = await this.store(key, body, contentType, { exactLength: contentLength });
    if (contentLength !== undefined && r.size !== contentLength) throw new Error(`expected ${contentLength} bytes, got ${r.size}`);
  }

  /**
   * A hard link to the same bytes (O(1): this driver never modifies a file in place — every write is a new file
   * renamed over the key — so two names for one inode can never diverge), else a file copy (a reflink where the
   * file system has them); prepared under .tmp and renamed into place.
   */
  async copy({ fromKey, toKey }: { fromKey: string; toKey: string }): Promise<void> {
    this.objectPath(fromKey);
    const from = (await this.locateFile(fromKey).catch(() => null))?.file ?? this.objectPath(fromKey);
    const target = this.objectPath(toKey);
    await mkdir(this.tmpDir(), { recursive: true });
    const tmp = path.join(this.tmpDir(), randomUUID());
    try {
      try {
        await link(from, tmp);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // Another file system (EXDEV), or one without hard links: copy the bytes.
        if (!['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP'].includes(e?.code ?? '')) throw e;
        await copyFile(from, tmp, fsConstants.COPYFILE_FICLONE);
        const fh = await open(tmp, 'r+');
        await fh.sync();
        await fh.close();
      }
      const meta = await this.readMeta(fromKey);
      const metaFile = this.metaPath(toKey);
      await mkdir(path.dirname(metaFile), { recursive: true });
      if (meta) {
        await writeFile(`${metaFile}.${process.pid}.tmp`, JSON.stringify({ ...meta, lastModified: new Date().toISOString() }));
        await rename(`${metaFile}.${process.pid}.tmp`, metaFile);
      } else {
        await rm(metaFile, { force: true });
      }
      await mkdir(path.dirname(target), { recursive: true });
      await rename(tmp, target);
      await this.removeColdCopies(toKey);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      await rm(tmp, { force: true });
      if (e?.code === 'ENOENT') throw new StorageNotFoundError(fromKey);
      if (e instanceof LocalRequestError) throw e;
      throw new StorageUnavailableError(`local storage copy failed: ${e?.message}`, e);
    }
  }

  /**
   * Removing an upload key leaves a marker beside its metadata (outside the bucket), so its single-use URL stays
   * used up: a client retrying the PUT after processing moved or refused the bytes gets 412 instead of leaving
   * an object that nothing owns.
   */
  async delete(key: string): Promise<void> {
    if (ObjectKeyLayout.isUpload(key)) {
      await mkdir(path.dirname(this.metaPath(key)), { recursive: true });
      await writeFile(this.consumedMarker(key), new Date().toISOString());
    }
    await rm(this.objectPath(key), { force: true });
    await this.removeColdCopies(key);
    await rm(this.metaPath(key), { force: true });
  }

  private async removeColdCopies(key: string): Promise<void> {
    for (const c of COLD_CLASSES) await rm(this.tierPath(key, c), { force: true });
  }

  // ---- ListableStorage, TieredStorage -----------------------------------------------------------------

  /**
   * Walks the bucket's tree (then each colder class's tree) under `prefix`, one directory handle at a time, so
   * memory holds one page and the open directories on the current path, never the whole listing.
   */
  async *listObjects({ prefix, pageSize = 1000 }: { prefix: string; pageSize?: number }): AsyncIterable<ListedObject[]> {
    const trees: [string, StorageClassName][] = [
      [path.join(this.root, this.bucket), 'STANDARD'],
      ...COLD_CLASSES.map((c) => [path.join(this.root, '.tiers', c, this.bucket), c] as [string, StorageClassName]),
    ];
    let page: ListedObject[] = [];
    for (const [base, storageClass] of trees) {
      for await (const { key, file } of walkFiles(base, '')) {
        if (!key.startsWith(prefix)) continue;
        const st = await stat(file).catch(() => null);
        if (!st) continue; // removed while we walked
        page.push({ key, size: st.size, lastModified: st.mtime, ...(storageClass !== 'STANDARD' ? { storageClass } : {}) });
        if (page.length >= pageSize) {
          yield page;
          page = [];
        }
      }
    }
    if (page.length) yield page;
  }

  /** Moves the file into the class's directory tree (same key; head/read/delete look there too). Idempotent. */
  async setStorageClass({ key, storageClass }: { key: string; storageClass: StorageClassName }): Promise<void> {
    const found = await this.locateFile(key);
    if (!found) throw new StorageNotFoundError(key);
    if (found.storageClass === storageClass) return;
    const target = storageClass === 'STANDARD' ? this.objectPath(key) : this.tierPath(key, storageClass);
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await rename(found.file, target);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e?.code !== 'EXDEV') throw new StorageUnavailableError(`local storage tiering failed: ${e?.message}`, e);
      await copyFile(found.file, `${target}.${process.pid}.tmp`);
      await rename(`${target}.${process.pid}.tmp`, target);
      await rm(found.file, { force: true });
    }
  }

  /**
   * Removes the used-upload-key markers (see delete) older than `olderThan`: by then every URL that could have
   * been signed for their key has expired, so the marker guards nothing. Returns the keys (all of them with `dryRun`).
   */
  async purgeConsumedMarkers({ olderThan, dryRun = false }: { olderThan: Date; dryRun?: boolean }): Promise<string[]> {
    const base = path.join(this.root, '.meta', this.bucket);
    const purged: string[] = [];
    for await (const { key, file } of walkFiles(base, '')) {
      if (!key.endsWith('.json.consumed')) continue;
      const st = await stat(file).catch(() => null);
      if (!st || st.mtime >= olderThan) continue;
      purged.push(key.slice(0, -'.json.consumed'.length));
      if (!dryRun) await rm(file, { force: true });
    }
    return purged;
  }

  /** Whether an object was stored under `key` once and removed since (upload keys only). */
  async wasConsumed(key: string): Promise<boolean> {
    if (!ObjectKeyLayout.isUpload(key)) return false;
    try {
      await stat(this.consumedMarker(key));
      return true;
    } catch {
      return false;
    }
  }

  private consumedMarker(key: string): string {
    return `${this.metaPath(key)}.consumed`;
  }

  async presignPut(p: PresignPutParams): Promise<PresignedPut> {
    const expires = Math.floor(Date.now() / 1000) + p.expiresInSeconds;
    const q: Record<string, string> = {
      'X-Media-Method': 'PUT',
      'X-Media-Expires': String(expires),
      'X-Media-Length': String(p.contentLength),
      'X-Media-Type': p.contentType,
    };
    if (p.checksumSha256) q['X-Media-Checksum'] = p.checksumSha256;
    const headers: Record<string, string> = { 'Content-Type': p.contentType, 'Content-Length': String(p.contentLength) };
    if (p.checksumSha256) headers['x-amz-checksum-sha256'] = Buffer.from(p.checksumSha256, 'hex').toString('base64');
    return { url: this.signedUrl(p.key, q), method: 'PUT', headers };
  }

  async presignPost(p: PresignPostParams): Promise<PresignedPost> {
    const policy: SignedPostPolicy = {
      key: p.key,
      contentType: p.contentType,
      min: p.minBytes,
      max: p.maxBytes,
      exp: Math.floor(Date.now() / 1000) + p.expiresInSeconds,
    };
    const encoded = Buffer.from(JSON.stringify(policy)).toString('base64url');
    return {
      url: `${this.baseUrl}${this.urlPrefix}/${this.bucket}`,
      method: 'POST',
      fields: { key: p.key, 'Content-Type': p.contentType, policy: encoded, signature: this.hmac(`post\n${this.bucket}\n${encoded}`) },
    };
  }

  async presignGet(p: PresignGetParams): Promise<string> {
    const q: Record<string, string> = {
      'X-Media-Method': 'GET',
      'X-Media-Expires': String(Math.floor(Date.now() / 1000) + p.expiresInSeconds),
    };
    if (p.contentType) q['X-Media-Type'] = p.contentType;
    if (p.downloadFilename !== undefined) q['X-Media-Filename'] = p.downloadFilename;
    if (p.contentSha256 !== undefined) {
      if (!/^[0-9a-f]{64}$/.test(p.contentSha256)) throw new RangeError('contentSha256 must be 64 lower-case hex digits');
      q['X-Media-Sha256'] = p.contentSha256;
    }
    if (p.cacheScope === 'public') q['X-Media-Cache'] = 'public';
    return this.signedUrl(p.key, q);
  }

  async checkHealth(): Promise<void> {
    const probe = path.join(this.tmpDir(), `health-${process.pid}`);
    try {
      await writeFile(probe, 'ok');
      await rm(probe, { force: true });
      await stat(path.join(this.root, this.bucket));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new StorageUnavailableError(`local storage at ${this.root} is not writable: ${e?.message}`, e);
    }
  }

  // ---- multipart (same contract as S3's, on disk) ------------------------------------------------------

  /**
   * Parts live in `<root>/.multipart/<bucket>/<uploadId>/part-<n>` (+ `.json` with ETag and size) beside a
   * manifest (key, type, initiated). Completing streams the parts, in order, into one temp file that is fsynced and
   * renamed into place, then drops the staging directory. No part is ever held in memory.
   */
  async createMultipartUpload({ key, contentType }: { key: string; contentType: string }): Promise<{ uploadId: string }> {
    this.objectPath(key);
    const uploadId = randomUUID();
    const dir = this.uploadDir(uploadId);
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

  async presignUploadPart(p: { key: string; uploadId: string; partNumber: number; contentLength: number; expiresInSeconds: number }): Promise<PresignedPut> {
    assertPartNumber(p.partNumber);
    if (!Number.isSafeInteger(p.contentLength) || p.contentLength < 0) throw new RangeError(`invalid contentLength ${p.contentLength}`);
    this.uploadDir(p.uploadId);
    const q: Record<string, string> = {
      'X-Media-Method': 'PUT',
      'X-Media-Expires': String(Math.floor(Date.now() / 1000) + p.expiresInSeconds),
      'X-Media-Length': String(p.contentLength),
      'X-Media-Upload-Id': p.uploadId,
      'X-Media-Part': String(p.partNumber),
    };
    return { url: this.signedUrl(p.key, q), method: 'PUT', headers: { 'Content-Length': String(p.contentLength) } };
  }

  /** The upload's manifest; StorageNotFoundError when there is no such upload for `key`. */
  private async manifest(key: string, uploadId: string): Promise<MultipartManifest> {
    let m: MultipartManifest;
    try {
      m = JSON.parse(await readFile(path.join(this.uploadDir(uploadId), 'manifest.json'), 'utf8')) as MultipartManifest;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e instanceof StorageNotFoundError || e?.code === 'ENOENT' || e instanceof SyntaxError) throw new StorageNotFoundError(key);
      throw new StorageUnavailableError(`local storage could not read upload ${uploadId}: ${e?.message}`, e);
    }
    if (m.key !== key) throw new StorageNotFoundError(key);
    return m;
  }

  /**
   * Streams one part into the upload's staging directory (exact size, MD5 ETag like S3's), replacing any part
   * stored under the same number. Used by the signed part URLs and by `uploadPart`.
   */
  async storePart(key: string, uploadId: string, partNumber: number, body: Readable, exactLength: number): Promise<{ etag: string; size: number }> {
    assertPartNumber(partNumber);
    await this.manifest(key, uploadId);
    const dir = this.uploadDir(uploadId);
    const tmp = path.join(dir, `part-${partNumber}.${randomUUID()}.tmp`);
    try {
      const { size, digest } = await receiveFile(body, tmp, 'md5', { exactLength });
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

  async uploadPart(p: { key: string; uploadId: string; partNumber: number; body: Readable; contentLength: number }): Promise<{ etag: string }> {
    const { etag } = await this.storePart(p.key, p.uploadId, p.partNumber, p.body, p.contentLength);
    return { etag };
  }

  async listParts({ key, uploadId }: { key: string; uploadId: string }): Promise<StoredPart[]> {
    await this.manifest(key, uploadId);
    const dir = this.uploadDir(uploadId);
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

  async completeMultipartUpload({
    key,
    uploadId,
    parts,
  }: {
    key: string;
    uploadId: string;
    parts: Array<{ partNumber: number; etag: string }>;
  }): Promise<ObjectInfo> {
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
      if (unquote(have.etag) !== unquote(p.etag)) throw new InvalidPartError(p.partNumber, `Part ${p.partNumber}'s ETag does not match the stored part`);
    }
    const dir = this.uploadDir(uploadId);
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
    await this.store(key, Readable.from(concatenated(), { objectMode: false }), manifest.contentType);
    await rm(dir, { recursive: true, force: true });
    const info = await this.head(key);
    if (!info) throw new StorageUnavailableError(`local storage completed ${key} but cannot find it`);
    return info;
  }

  async abortMultipartUpload({ key, uploadId }: { key: string; uploadId: string }): Promise<void> {
    try {
      await this.manifest(key, uploadId);
    } catch (e) {
      if (e instanceof StorageNotFoundError) return;
      throw e;
    }
    await rm(this.uploadDir(uploadId), { recursive: true, force: true });
  }

  async listMultipartUploads({ prefix }: { prefix?: string } = {}): Promise<MultipartUploadRef[]> {
    let names: string[];
    try {
      names = await readdir(this.multipartRoot());
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e?.code === 'ENOENT') return [];
      throw new StorageUnavailableError(`local storage could not list uploads: ${e?.message}`, e);
    }
    const uploads: MultipartUploadRef[] = [];
    for (const uploadId of names) {
      if (!UPLOAD_ID.test(uploadId)) continue;
      try {
        const m = JSON.parse(await readFile(path.join(this.multipartRoot(), uploadId, 'manifest.json'), 'utf8')) as MultipartManifest;
        if (prefix === undefined || m.key.startsWith(prefix)) uploads.push({ key: m.key, uploadId, initiated: new Date(m.initiated) });
      } catch {
        // completed or aborted meanwhile, or a manifest not yet written
      }
    }
    return uploads.sort((a, b) => a.key.localeCompare(b.key) || a.uploadId.localeCompare(b.uploadId));
  }

  // ---- signing ----------------------------------------------------------------------------------------

  private static readonly SIGNED_PARAMS = ['X-Media-Method', 'X-Media-Expires', 'X-Media-Length', 'X-Media-Type', 'X-Media-Checksum', 'X-Media-Filename'];

  /**
   * Signed when present, and only then part of the canonical string, so URLs signed before these existed
   * keep their signatures: X-Media-Sha256 makes a read URL content-addressed, X-Media-Cache=public lets
   * shared caches keep the response, X-Media-Upload-Id + X-Media-Part make a PUT URL one part of a multipart upload.
   */
  private static readonly OPTIONAL_SIGNED_PARAMS = ['X-Media-Sha256', 'X-Media-Cache', 'X-Media-Upload-Id', 'X-Media-Part'];

  private canonical(key: string, q: Record<string, string | undefined>): string {
    const optional = LocalStorageDriver.OPTIONAL_SIGNED_PARAMS.filter((n) => q[n] !== undefined).map((n) => `${n}=${q[n]}`);
    return ['v1', this.bucket, key, ...LocalStorageDriver.SIGNED_PARAMS.map((n) => `${n}=${q[n] ?? ''}`), ...optional].join('\n');
  }

  private hmac(s: string): string {
    return createHmac('sha256', this.secret).update(s).digest('hex');
  }

  private signedUrl(key: string, q: Record<string, string>): string {
    const params = new URLSearchParams({ ...q, 'X-Media-Signature': this.hmac(this.canonical(key, q)) });
    const encodedKey = key.split('/').map(encodeURIComponent).join('/');
    return `${this.baseUrl}${this.urlPrefix}/${this.bucket}/${encodedKey}?${params.toString()}`;
  }

  private safeEqualHex(a: string, b: string): boolean {
    const x = Buffer.from(a, 'utf8');
    const y = Buffer.from(b, 'utf8');
    return x.length === y.length && timingSafeEqual(x, y);
  }

  /** Checks a signed URL's signature (constant-time) and expiry for `method`; returns its parameters. */
  verifyUrl(key: string, query: URLSearchParams, method: 'GET' | 'PUT'): Record<string, string | undefined> {
    const q: Record<string, string | undefined> = {};
    for (const n of [...LocalStorageDriver.SIGNED_PARAMS, ...LocalStorageDriver.OPTIONAL_SIGNED_PARAMS]) q[n] = query.get(n) ?? undefined;
    const sig = query.get('X-Media-Signature') ?? '';
    if (!sig || !this.safeEqualHex(sig, this.hmac(this.canonical(key, q)))) {
      throw new LocalRequestError(403, 'SignatureDoesNotMatch', 'The URL signature does not match');
    }
    if (q['X-Media-Method'] !== method) throw new LocalRequestError(403, 'SignatureDoesNotMatch', `This URL is not signed for ${method}`);
    const exp = Number(q['X-Media-Expires']);
    if (!Number.isFinite(exp) || exp * 1000 < Date.now()) throw new LocalRequestError(403, 'AccessDenied', 'The signed URL has expired');
    return q;
  }

  verifyPostPolicy(encoded: string, signature: string): SignedPostPolicy {
    if (!encoded || !signature || !this.safeEqualHex(signature, this.hmac(`post\n${this.bucket}\n${encoded}`))) {
      throw new LocalRequestError(403, 'SignatureDoesNotMatch', 'The form policy signature does not match');
    }
    const policy = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as SignedPostPolicy;
    if (policy.exp * 1000 < Date.now()) throw new LocalRequestError(403, 'AccessDenied', 'The form policy has expired');
    return policy;
  }

  // ---- storing ----------------------------------------------------------------------------------------

  /**
   * Streams `body` into a temp file while counting and hashing, enforces the limits, fsyncs, then renames
   * into place. Nothing is left behind when a limit is broken or the stream fails.
   */
  async store(
    key: string,
    body: Readable,
    contentType: string,
    limits: { exactLength?: number; maxLength?: number; minLength?: number; checksumSha256?: string } = {},
  ): Promise<{ size: number; sha256: string; etag: string }> {
    const target = this.objectPath(key);
    await mkdir(this.tmpDir(), { recursive: true });
    const tmp = path.join(this.tmpDir(), randomUUID());
    try {
      const { size, digest: sha256 } = await receiveFile(body, tmp, 'sha256', limits);
      if (limits.minLength !== undefined && size < limits.minLength) {
        throw new LocalRequestError(400, 'EntityTooSmall', `The body has ${size} bytes; the policy requires at least ${limits.minLength}`);
      }
      if (limits.checksumSha256 && limits.checksumSha256 !== sha256) {
        throw new LocalRequestError(400, 'BadDigest', 'The SHA-256 of the body does not match the declared checksum');
      }
      await mkdir(path.dirname(target), { recursive: true });
      const metaFile = this.metaPath(key);
      await mkdir(path.dirname(metaFile), { recursive: true });
      const meta: ObjectMeta = { contentType, size, sha256, lastModified: new Date().toISOString() };
      await writeFile(`${metaFile}.${process.pid}.tmp`, JSON.stringify(meta));
      await rename(`${metaFile}.${process.pid}.tmp`, metaFile);
      await rename(tmp, target);
      await this.removeColdCopies(key);
      return { size, sha256, etag: `"${sha256}"` };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  private async readMeta(key: string): Promise<ObjectMeta | null> {
    try {
      return JSON.parse(await readFile(this.metaPath(key), 'utf8')) as ObjectMeta;
    } catch {
      return null;
    }
  }

}

/** Every file under `dir` (depth first, one open directory per level), with its key relative to the walk's base. */
async function* walkFiles(dir: string, rel: string): AsyncGenerator<{ key: string; file: string }> {
  let handle;
  try {
    handle = await opendir(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'ENOENT' || e?.code === 'ENOTDIR') return;
    throw e;
  }
  for await (const entry of handle) {
    const key = rel ? `${rel}/${entry.name}` : entry.name;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walkFiles(file, key);
    else if (entry.isFile()) yield { key, file };
  }
}

/**
 * Streams `body` into the new file `tmp` while counting and hashing it, refusing more than `exactLength` (or
 * `maxLength`) bytes and, with `exactLength`, any other size; fsyncs the file. The caller removes `tmp` on failure.
 */
async function receiveFile(
  body: Readable,
  tmp: string,
  algorithm: 'md5' | 'sha256',
  limits: { exactLength?: number; maxLength?: number },
): Promise<{ size: number; digest: string }> {
  const hash = createHash(algorithm);
  let size = 0;
  const max = limits.exactLength ?? limits.maxLength;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (max !== undefined && size > max) {
        cb(new LocalRequestError(400, 'IncompleteBody', `The body is larger than the ${max} bytes this URL allows`));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(body, meter, createWriteStream(tmp, { flags: 'wx', highWaterMark: 1024 * 1024 }));
  if (limits.exactLength !== undefined && size !== limits.exactLength) {
    throw new LocalRequestError(400, 'IncompleteBody', `The body has ${size} bytes; this URL requires exactly ${limits.exactLength}`);
  }
  const fh = await open(tmp, 'r+');
  await fh.sync();
  await fh.close();
  return { size, digest: hash.digest('hex') };
}

function unquote(etag: string): string {
  return etag.replace(/"/g, '');
}
