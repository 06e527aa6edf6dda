import { createHash, randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ByteRange, ListedObject, ObjectInfo, StorageClassName, StorageNotFoundError, StorageUnavailableError } from '../../storage-driver';
import { COLD_CLASSES, LocalLayout } from './local-layout';
import { KnownDirs, removeFile } from './file-ops';
import { fsyncDir, fsyncFile, receiveIntoHandle, walkFiles } from './local-files';
import { LocalRequestError } from './local-request.error';

/** Read size when hashing an adopted file (a bound on memory per adoption, not on the file's size). */
const ADOPT_READ_BYTES = 256 * 1024;

/** A body that completed after its deadline (the signed URL's expiry plus the grace period) is refused, not stored. */
export function assertBeforeDeadline(deadlineMs: number | undefined): void {
  if (deadlineMs !== undefined && Date.now() > deadlineMs) {
    throw new LocalRequestError(408, 'RequestTimeout', 'The body did not finish before the URL expired (plus its grace period)');
  }
}

/** The sidecar of one object: `<root>/.meta/<bucket>/<key>.json`. */
interface ObjectMeta {
  contentType: string;
  size: number;
  /** Absent for an object assembled from parts (its ETag is then the multipart one; processing computes the SHA-256). */
  sha256?: string;
  /** Quoted ETag when it is not the SHA-256 (multipart: MD5 of the part MD5s, `-<parts>`). */
  etag?: string;
  lastModified: string;
}

/** Limits a stored body must meet (signed URLs and form policies); see `store`. */
export interface StoreLimits {
  exactLength?: number;
  maxLength?: number;
  minLength?: number;
  checksumSha256?: string;
  /** Epoch ms: a body complete only after this is refused (408), never stored. */
  deadlineMs?: number;
  /**
   * false: the bytes are not flushed to disk before the object is renamed into place (an object that can be made
   * again, e.g. a derivative: after a power loss it may be empty or missing, never partial to a reader before).
   * Default true.
   */
  durable?: boolean;
  /**
   * true: the caller knows the key has no copy in a colder class, so none is looked for and removed after the rename
   * (two unlinks fewer): an upload found no object at its key under its claim; nothing tiers a rendition's key.
   */
  noColdCopies?: boolean;
}

/**
 * Object I/O on disk: files under the bucket's trees with a JSON sidecar each. Writes go to `.tmp` and are renamed
 * into place after fsync, so a crash never leaves a partial object. Every file handle opened here is closed on every
 * path; a read stream closes its handle when it ends or is destroyed (its consumer must do one or the other).
 */
export class LocalObjectStore {
  /** Directories made or found already (objects/<xx>, uploads/<owner>, their sidecar trees, .tmp). */
  private readonly dirs = new KnownDirs();

  constructor(private readonly layout: LocalLayout) {}

  async head(key: string): Promise<ObjectInfo | null> {
    this.layout.objectPath(key);
    try {
      const found = await this.layout.locateFile(key);
      if (!found) return null;
      const meta = await this.readMeta(key);
      return {
        key,
        size: found.size,
        contentType: meta?.contentType,
        etag: meta?.etag ?? (meta?.sha256 ? `"${meta.sha256}"` : `"${found.size.toString(16)}-${found.mtime.getTime().toString(16)}"`),
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
    this.layout.objectPath(key);
    const found = await this.layout.locateFile(key).catch((e: NodeJS.ErrnoException) => {
      throw new StorageUnavailableError(`local storage read failed: ${e?.message}`, e);
    });
    if (!found) throw new StorageNotFoundError(key);
    const handle = await open(found.file, 'r').catch((e: NodeJS.ErrnoException) => {
      if (e?.code === 'ENOENT') throw new StorageNotFoundError(key);
      throw new StorageUnavailableError(`local storage read failed: ${e?.message}`, e);
    });
    try {
      // autoClose (the default): the stream closes the handle when it ends, fails or is destroyed.
      return handle.createReadStream({ highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) });
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** The file holding the object now, or null (LocalFileStorage). */
  async localFilePath(key: string): Promise<string | null> {
    return (await this.layout.locateFile(key))?.file ?? null;
  }

  /**
   * Streams `body` into a temp file while counting and hashing, enforces the limits, fsyncs (unless `durable` is
   * false), then renames into place. Nothing is left behind when a limit is broken or the stream fails.
   */
  async store(
    key: string,
    body: Readable,
    contentType: string,
    limits: StoreLimits = {},
  ): Promise<{ size: number; sha256: string; etag: string }> {
    this.layout.objectPath(key); // refuses an invalid key before any I/O
    const tmp = path.join(this.layout.tmpDir(), randomUUID());
    // Opened before a byte is read, so that a missing .tmp is made again (KnownDirs) rather than failing the body.
    const fh = await this.dirs.within([this.layout.tmpDir()], () => open(tmp, 'wx'));
    try {
      let received: { size: number; digest: string };
      try {
        received = await receiveIntoHandle(body, fh, limits, limits.durable !== false);
      } finally {
        await fh.close();
      }
      const { size, digest: sha256 } = received;
      if (limits.minLength !== undefined && size < limits.minLength) {
        throw new LocalRequestError(400, 'EntityTooSmall', `The body has ${size} bytes; the policy requires at least ${limits.minLength}`);
      }
      if (limits.checksumSha256 && limits.checksumSha256 !== sha256) {
        throw new LocalRequestError(400, 'BadDigest', 'The SHA-256 of the body does not match the declared checksum');
      }
      assertBeforeDeadline(limits.deadlineMs);
      await this.putInPlace(key, tmp, { contentType, size, sha256 }, !limits.noColdCopies);
      return { size, sha256, etag: `"${sha256}"` };
    } catch (e) {
      await removeFile(tmp);
      throw e;
    }
  }

  /**
   * The last steps of `store` and `adopt`: the sidecar for `file` (complete, flushed as its writer chose), then `file`
   * renamed to `key`, then copies of `key` in colder classes removed (skipped when the caller knows there are none).
   */
  private async putInPlace(key: string, file: string, meta: { contentType: string; size: number; sha256: string }, coldCopies: boolean) {
    const target = this.layout.objectPath(key);
    await this.writeMeta(key, { ...meta, lastModified: new Date().toISOString() });
    await this.dirs.within([path.dirname(target)], () => rename(file, target));
    if (coldCopies) await this.removeColdCopies(key);
  }

  /** A fresh path under `.tmp` (made when missing) for a file that `adopt` then puts in place (FileAdoptingStorage). */
  async adoptionPath(): Promise<string> {
    await this.dirs.ensure(this.layout.tmpDir());
    return path.join(this.layout.tmpDir(), `adopt-${randomUUID()}`);
  }

  /**
   * Puts `file` (written by the caller under `.tmp`, complete and closed) at `key`: hashed in one read through a
   * bounded buffer, fsynced unless `durable` is false, its sidecar written, then renamed into place — no byte copied;
   * colder copies of `key` removed unless `noColdCopies`. The file is removed when anything fails.
   */
  async adopt(
    key: string,
    file: string,
    contentType: string,
    { exactLength, durable = true, noColdCopies = false }: Pick<StoreLimits, 'exactLength' | 'durable' | 'noColdCopies'> = {},
  ): Promise<{ size: number; sha256: string }> {
    this.layout.objectPath(key); // refuses an invalid key before any I/O
    // Checked before anything that could remove it: a file elsewhere is refused and left alone.
    if (path.dirname(file) !== this.layout.tmpDir()) throw new Error(`only files under ${this.layout.tmpDir()} can be adopted`);
    try {
      const hash = createHash('sha256');
      let size = 0;
      const fh = await open(file, 'r');
      try {
        const chunk = Buffer.allocUnsafe(ADOPT_READ_BYTES);
        for (;;) {
          const { bytesRead } = await fh.read(chunk, 0, chunk.length, size);
          if (bytesRead > 0) hash.update(chunk.subarray(0, bytesRead));
          size += bytesRead;
          // A regular file nobody writes any more: a short read is its end.
          if (bytesRead < chunk.length) break;
        }
        if (durable) await fh.sync();
      } finally {
        await fh.close();
      }
      if (exactLength !== undefined && size !== exactLength) throw new Error(`expected ${exactLength} bytes in ${file}, found ${size}`);
      const sha256 = hash.digest('hex');
      await this.putInPlace(key, file, { contentType, size, sha256 }, !noColdCopies);
      return { size, sha256 };
    } catch (e) {
      await removeFile(file);
      throw e;
    }
  }

  /**
   * Puts an already written and fsynced file (a multipart upload's data file, on the same file system) at `key` by
   * rename, with its sidecar: no byte is copied. The caller has made sure nobody writes to `file` any more.
   */
  async place(key: string, file: string, meta: { contentType: string; size: number; etag: string }): Promise<void> {
    const target = this.layout.objectPath(key);
    await mkdir(path.dirname(target), { recursive: true });
    await this.writeMeta(key, { ...meta, lastModified: new Date().toISOString() });
    await rename(file, target);
    await fsyncDir(path.dirname(target));
    await this.removeColdCopies(key);
  }

  /**
   * A hard link to the same bytes (O(1): this driver never modifies a file in place — every write is a new file
   * renamed over the key — so two names for one inode can never diverge), else a file copy (a reflink where the
   * file system has them); prepared under .tmp and renamed into place.
   */
  async copy(fromKey: string, toKey: string, sha256?: string): Promise<void> {
    this.layout.objectPath(fromKey);
    const from = (await this.layout.locateFile(fromKey).catch(() => null))?.file ?? this.layout.objectPath(fromKey);
    const target = this.layout.objectPath(toKey);
    const tmp = path.join(this.layout.tmpDir(), randomUUID());
    try {
      try {
        await this.dirs.within([this.layout.tmpDir()], () => link(from, tmp));
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // Another file system (EXDEV), or one without hard links: copy the bytes.
        if (!['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP'].includes(e?.code ?? '')) throw e;
        await copyFile(from, tmp, fsConstants.COPYFILE_FICLONE);
        await fsyncFile(tmp);
      }
      const meta = await this.readMeta(fromKey);
      // A verified checksum makes the copy's ETag its SHA-256 (as for an object stored whole).
      if (meta)
        await this.writeMeta(toKey, { ...meta, ...(sha256 ? { sha256, etag: undefined } : {}), lastModified: new Date().toISOString() });
      else await removeFile(this.layout.metaPath(toKey));
      await this.dirs.within([path.dirname(target)], () => rename(tmp, target));
      await this.removeColdCopies(toKey);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      await removeFile(tmp);
      if (e?.code === 'ENOENT') throw new StorageNotFoundError(fromKey);
      if (e instanceof LocalRequestError) throw e;
      throw new StorageUnavailableError(`local storage copy failed: ${e?.message}`, e);
    }
  }

  /** Removes the object from every tree and its sidecar; removing an absent object succeeds. */
  async delete(key: string): Promise<void> {
    await removeFile(this.layout.objectPath(key));
    await this.removeColdCopies(key);
    await removeFile(this.layout.metaPath(key));
  }

  /**
   * Walks the bucket's tree (then each colder class's tree) under `prefix`, one directory handle at a time, so
   * memory holds one page and the open directories on the current path, never the whole listing.
   */
  async *listObjects({ prefix, pageSize = 1000 }: { prefix: string; pageSize?: number }): AsyncIterable<ListedObject[]> {
    let page: ListedObject[] = [];
    for (const [base, storageClass] of this.layout.trees()) {
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
    const found = await this.layout.locateFile(key);
    if (!found) throw new StorageNotFoundError(key);
    if (found.storageClass === storageClass) return;
    const target = storageClass === 'STANDARD' ? this.layout.objectPath(key) : this.layout.tierPath(key, storageClass);
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await rename(found.file, target);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e?.code !== 'EXDEV') throw new StorageUnavailableError(`local storage tiering failed: ${e?.message}`, e);
      await copyFile(found.file, `${target}.${process.pid}.tmp`);
      await rename(`${target}.${process.pid}.tmp`, target);
      await removeFile(found.file);
    }
  }

  async checkHealth(): Promise<void> {
    const probe = path.join(this.layout.tmpDir(), `health-${process.pid}`);
    try {
      await writeFile(probe, 'ok');
      await removeFile(probe);
      await stat(this.layout.bucketDir());
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new StorageUnavailableError(`local storage at ${this.layout.root} is not writable: ${e?.message}`, e);
    }
  }

  private async removeColdCopies(key: string): Promise<void> {
    for (const c of COLD_CLASSES) await removeFile(this.layout.tierPath(key, c));
  }

  private async readMeta(key: string): Promise<ObjectMeta | null> {
    try {
      return JSON.parse(await readFile(this.layout.metaPath(key), 'utf8')) as ObjectMeta;
    } catch {
      return null;
    }
  }

  /** Written beside its final name and renamed over it, so a reader never sees half a sidecar. */
  private async writeMeta(key: string, meta: ObjectMeta): Promise<void> {
    const metaFile = this.layout.metaPath(key);
    const draft = `${metaFile}.${process.pid}.tmp`;
    await this.dirs.within([path.dirname(metaFile)], () => writeFile(draft, JSON.stringify(meta)));
    await rename(draft, metaFile);
  }
}
