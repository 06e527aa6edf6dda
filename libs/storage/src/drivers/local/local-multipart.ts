import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  assertPartNumber,
  CompleteMultipartParams,
  CreateMultipartParams,
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
import { ClaimFiles } from './claim-files';
import { fsyncDir, fsyncFile, PartDigest, receiveAt, receivePartFile } from './local-files';
import { LocalRequestError } from './local-request.error';
import { assertBeforeDeadline, LocalObjectStore } from './local-object-store';
import { LocalUrlSigner } from './local-url-signer';

/** A multipart upload's manifest: `<root>/.multipart/<bucket>/<uploadId>/manifest.json`. */
interface MultipartManifest {
  key: string;
  contentType: string;
  initiated: string;
  /** With `size`: parts are written in place in `data` at (n−1)×partSize (see the class comment). */
  partSize?: number;
  size?: number;
}

/** How long complete waits for part bodies still being written to end before it gives up (a retry completes). */
const WRITERS_WAIT_MS = 60_000;
/** A part body written without a URL deadline (uploadPart) holds its writer claim at most this long. */
const UNBOUNDED_PART_MS = 6 * 3600_000;

/**
 * What a part's body is checked against, and which ETag it gets. A client that sends Content-MD5 gets S3's ETag (the
 * part's MD5, verified); `uploadPart` (server-side) does too. A signed part PUT without Content-MD5 gets a cheap one,
 * `"crc32-<8 hex>"` (CRC32 of the part, ~7× cheaper than MD5): ETags are opaque to clients (they send them back
 * with complete), and the whole file's SHA-256 is what processing verifies.
 */
export interface PartChecks {
  /** MD5 the client sent (Content-MD5, as hex): the part is refused (400 BadDigest) unless its bytes match. */
  md5?: string;
  /** CRC32 the client sent (x-amz-checksum-crc32): the part is refused (400 BadDigest) unless its bytes match. */
  crc32?: number;
  /** The ETag is the part's MD5 (S3's rule); always so with `md5`. Otherwise its CRC32 form. */
  md5Etag: boolean;
}

const S3_ETAG: PartChecks = { md5Etag: true };

/** The part's ETag once its digests are checked against what the client sent (400 BadDigest on a mismatch). */
function partEtag(d: PartDigest, checks: PartChecks): string {
  if (checks.md5 !== undefined && d.md5 !== checks.md5) {
    throw new LocalRequestError(400, 'BadDigest', 'The Content-MD5 you specified did not match what was received');
  }
  if (checks.crc32 !== undefined && d.crc32 !== checks.crc32) {
    throw new LocalRequestError(400, 'BadDigest', 'The x-amz-checksum-crc32 you specified did not match what was received');
  }
  return d.md5 !== undefined ? `"${d.md5}"` : `"crc32-${d.crc32.toString(16).padStart(8, '0')}"`;
}

/** One stored part's sidecar: `part-<n>.json` beside `part-<n>`. */
interface PartMeta {
  etag: string;
  size: number;
  lastModified: string;
}

/**
 * S3's multipart contract on disk, under `<root>/.multipart/<bucket>/<uploadId>/` beside a manifest (key, type,
 * initiated, and the part layout when the caller gave one).
 *
 * In place (the layout is known: partSize and size): the upload has one data file, `data`, sized at creation. A
 * part's PUT writes its bytes at (n−1)×partSize, fdatasyncs, and only then writes its record `part-<n>.json` (ETag,
 * size): a part is listed only once its bytes are on disk, and a crash mid-part leaves it unlisted. A re-PUT first
 * removes the record (durably), so until its new bytes are synced the part is absent — never counted with half of
 * them. Each body being written holds a claim under `writers/` (ClaimFiles: released when it ends, stale when its
 * process died or its deadline passed). Completing checks the records, renames `data` to `assembling` (no new writer
 * can open it), waits for the writers that opened it before to end, checks the records again, fsyncs and renames the
 * file to the object's key: no byte is written twice. The object's ETag is S3's multipart one (MD5 of the part MD5s,
 * `-<parts>`; a CRC32 part ETag counts with its text, see PartChecks); processing computes its SHA-256 as for every
 * upload.
 *
 * Otherwise (no layout: S3's free part sizes) each part is a file `part-<n>` of its own and completing streams them,
 * in order, into one temp file that is fsynced and renamed into place. No part is ever held in memory.
 */
export class LocalMultipart implements MultipartCapableStorage {
  constructor(
    private readonly layout: LocalLayout,
    private readonly objects: LocalObjectStore,
    private readonly signer: LocalUrlSigner,
  ) {}

  async createMultipartUpload({ key, contentType, partSize, size }: CreateMultipartParams): Promise<{ uploadId: string }> {
    this.layout.objectPath(key);
    const uploadId = randomUUID();
    const dir = this.layout.uploadDir(uploadId);
    const inPlace = Number.isSafeInteger(partSize) && partSize! > 0 && Number.isSafeInteger(size) && size! >= 0;
    try {
      await mkdir(dir, { recursive: true });
      const manifest: MultipartManifest = { key, contentType, initiated: new Date().toISOString() };
      if (inPlace) {
        Object.assign(manifest, { partSize, size });
        await mkdir(path.join(dir, 'writers'));
        // Sized now (sparse): every part lands at its offset, the last one ends the file.
        const fh = await open(path.join(dir, 'data'), 'wx');
        try {
          await fh.truncate(size);
        } finally {
          await fh.close();
        }
      }
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
   * Streams one part into the upload's staging directory (exact size; the ETag and the digests checked per `checks`,
   * see PartChecks), replacing any part stored under the same number. Used by the signed part URLs and by
   * `uploadPart`.
   */
  async storePart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    exactLength: number,
    deadlineMs?: number,
    checks: PartChecks = S3_ETAG,
  ): Promise<{ etag: string; size: number }> {
    assertPartNumber(partNumber);
    const manifest = await this.manifest(key, uploadId);
    if (inPlace(manifest)) return this.storePartInPlace(manifest, uploadId, partNumber, body, exactLength, deadlineMs, checks);
    const dir = this.layout.uploadDir(uploadId);
    const tmp = path.join(dir, `part-${partNumber}.${randomUUID()}.tmp`);
    try {
      const received = await receivePartFile(body, tmp, exactLength, { md5: checks.md5Etag || checks.md5 !== undefined });
      const etag = partEtag(received, checks);
      const size = received.size;
      assertBeforeDeadline(deadlineMs);
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

  /** storePart of an in-place upload: the bytes at the part's offset in `data`, synced, then the record. */
  private async storePartInPlace(
    manifest: InPlaceManifest,
    uploadId: string,
    partNumber: number,
    body: Readable,
    exactLength: number,
    deadlineMs: number | undefined,
    checks: PartChecks,
  ): Promise<{ etag: string; size: number }> {
    const dir = this.layout.uploadDir(uploadId);
    const offset = (partNumber - 1) * manifest.partSize;
    const expected = Math.min(manifest.partSize, manifest.size - offset);
    if (expected <= 0 && !(partNumber === 1 && manifest.size === 0)) {
      throw new LocalRequestError(400, 'InvalidPart', `Part ${partNumber} does not exist: the upload has ${partsOf(manifest)} part(s)`);
    }
    if (exactLength !== expected) {
      throw new LocalRequestError(400, 'InvalidPart', `Part ${partNumber} must have exactly ${expected} bytes, not ${exactLength}`);
    }
    const record = path.join(dir, `part-${partNumber}.json`);
    const writers = new ClaimFiles(path.join(dir, 'writers'));
    const claim = await writers.acquire(`${partNumber}.${randomUUID()}`, deadlineMs ?? Date.now() + UNBOUNDED_PART_MS);
    if (!claim) throw new StorageUnavailableError(`local storage could not register the write of part ${partNumber}`);
    try {
      // A re-PUT: the part is unlisted (durably) before any of its old bytes is overwritten.
      if (await exists(record)) {
        await rm(record, { force: true });
        await fsyncDir(dir);
      }
      let fh;
      try {
        fh = await open(path.join(dir, 'data'), 'r+');
      } catch (err) {
        if ((err as NodeJS.ErrnoException)?.code !== 'ENOENT') throw err;
        // No data file: the upload is being completed (or was aborted: the manifest is gone too).
        await this.manifest(manifest.key, uploadId);
        throw new LocalRequestError(409, 'UploadCompleting', 'The upload is being completed; its parts can no longer change');
      }
      let received: PartDigest;
      try {
        received = await receiveAt(body, fh, offset, exactLength, { md5: checks.md5Etag || checks.md5 !== undefined });
      } finally {
        await fh.close();
      }
      // A part whose bytes do not match the digest its client sent stays unlisted (its record was removed above).
      const etag = partEtag(received, checks);
      assertBeforeDeadline(deadlineMs);
      const meta: PartMeta = { etag, size: received.size, lastModified: new Date().toISOString() };
      const tmp = path.join(dir, `part-${partNumber}.json.${randomUUID()}.tmp`);
      await writeFile(tmp, JSON.stringify(meta));
      await rename(tmp, record);
      return { etag, size: received.size };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e?.code === 'ENOENT') throw new StorageNotFoundError(manifest.key); // aborted meanwhile
      throw e;
    } finally {
      await claim.release();
    }
  }

  /**
   * Completes an in-place upload: every part 1..N listed with its stored ETag; `data` renamed aside so that no new
   * part write can open it, the writers that had opened it waited for, the records checked again, the file synced and
   * renamed to the key. A repeat after a crash finds `assembling` (continues) or the object already placed (done).
   */
  private async completeInPlace(manifest: InPlaceManifest, uploadId: string, parts: CompleteMultipartParams['parts']): Promise<ObjectInfo> {
    const key = manifest.key;
    const dir = this.layout.uploadDir(uploadId);
    const data = path.join(dir, 'data');
    const assembling = path.join(dir, 'assembling');
    const count = partsOf(manifest);
    const check = async () => {
      const stored = new Map((await this.listParts({ key, uploadId })).map((p) => [p.partNumber, p]));
      checkPartList(parts, stored);
      for (let n = 1; n <= count; n++) {
        if (parts[n - 1]?.partNumber !== n)
          throw new InvalidPartError(n, `Part ${n} is missing: all ${count} parts of this upload are required`);
      }
      if (parts.length !== count) throw new InvalidPartError(parts[count].partNumber, `This upload has ${count} part(s)`);
      return parts.map((p) => stored.get(p.partNumber)!);
    };
    await check();
    let movedNow = false;
    try {
      await rename(data, assembling);
      movedNow = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException)?.code !== 'ENOENT') throw err;
      if (!(await exists(assembling))) {
        // Placed by an earlier complete that did not get to remove the staging directory.
        const placed = await this.objects.head(key);
        if (placed && placed.size === manifest.size) {
          await rm(dir, { recursive: true, force: true });
          return placed;
        }
        throw new StorageUnavailableError(`local storage lost the data of upload ${uploadId}`);
      }
    }
    let stored: StoredPart[];
    try {
      await this.waitForWriters(dir);
      stored = await check();
    } catch (e) {
      // Still completable once the client fixed it (or a retry, once the writers have ended).
      if (movedNow || e instanceof InvalidPartError) await rename(assembling, data).catch(() => undefined);
      throw e;
    }
    await fsyncFile(assembling);
    const md5s = createHash('md5');
    for (const p of stored) md5s.update(etagBytes(p.etag));
    const etag = `"${md5s.digest('hex')}-${stored.length}"`;
    await this.objects.place(key, assembling, { contentType: manifest.contentType, size: manifest.size, etag });
    await rm(dir, { recursive: true, force: true });
    const info = await this.objects.head(key);
    if (!info) throw new StorageUnavailableError(`local storage completed ${key} but cannot find it`);
    return info;
  }

  /** Waits until no part body that opened the data file is still being written (stale claims are dropped). */
  private async waitForWriters(dir: string): Promise<void> {
    const writersDir = path.join(dir, 'writers');
    const writers = new ClaimFiles(writersDir);
    const deadline = Date.now() + WRITERS_WAIT_MS;
    for (let pause = 10; ; pause = Math.min(500, pause * 2)) {
      const live = (await readdir(writersDir)).filter((n) => !n.includes('.draft') && !n.endsWith('.takeover'));
      if (!live.length) return;
      await writers.purgeStale(live);
      if (Date.now() > deadline)
        throw new StorageUnavailableError(`local storage: part bodies are still being written to upload ${path.basename(dir)}`);
      await new Promise((r) => setTimeout(r, pause));
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
    if (inPlace(manifest)) return this.completeInPlace(manifest, uploadId, parts);
    checkPartList(parts, new Map((await this.listParts({ key, uploadId })).map((p) => [p.partNumber, p])));
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

type InPlaceManifest = MultipartManifest & { partSize: number; size: number };

function inPlace(m: MultipartManifest): m is InPlaceManifest {
  return typeof m.partSize === 'number' && typeof m.size === 'number';
}

function partsOf(m: InPlaceManifest): number {
  return Math.max(1, Math.ceil(m.size / m.partSize));
}

/** S3's rules for the list sent at completion: ascending, each once, each stored with that ETag. */
function checkPartList(parts: CompleteMultipartParams['parts'], stored: Map<number, StoredPart>): void {
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
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') return false;
    throw err;
  }
}

/** What S3's multipart ETag hashes for a part: its MD5's 16 bytes, or (a CRC32 ETag) the ETag's text. */
function etagBytes(etag: string): Buffer {
  const bare = unquote(etag);
  return /^[0-9a-f]{32}$/i.test(bare) ? Buffer.from(bare, 'hex') : Buffer.from(bare, 'utf8');
}

function unquote(etag: string): string {
  return etag.replace(/"/g, '');
}
