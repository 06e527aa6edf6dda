import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { FileHandle, open, opendir } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { LocalRequestError } from './local-request.error';

/** Every file under `dir` (depth first, one open directory per level), with its key relative to the walk's base. */
export async function* walkFiles(dir: string, rel: string): AsyncGenerator<{ key: string; file: string }> {
  let handle;
  try {
    handle = await opendir(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'ENOENT' || e?.code === 'ENOTDIR') return;
    throw e;
  }
  // `for await` closes the directory however the loop ends (done, break, throw).
  for await (const entry of handle) {
    const key = rel ? `${rel}/${entry.name}` : entry.name;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walkFiles(file, key);
    else if (entry.isFile()) yield { key, file };
  }
}

/** Flushes a written file to disk; the handle is closed whatever happens. */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a directory's entries (a rename, an unlink) durable; the handle is closed whatever happens. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Bytes the part writer buffers from the body while a write is under way (the body keeps flowing meanwhile; the next
 * write takes everything buffered, so writes grow to this size when the disk is the slower side).
 */
const POSITIONED_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Writes what it is given at consecutive positions of `fh` from `position`, each batch of buffered chunks in one
 * positioned writev. The handle stays its caller's: this stream never closes it, and a destroyed stream (a body cut
 * off) calls back only once its write under way has ended, so the caller may close the handle right after.
 */
class PositionedWriter extends Writable {
  private inflight: Promise<void> = Promise.resolve();

  constructor(
    private readonly fh: FileHandle,
    private position: number,
  ) {
    super({ highWaterMark: POSITIONED_BUFFER_BYTES });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.run([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (e?: Error | null) => void): void {
    this.run(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  /** Resolves once no write is under way (never rejects). */
  settled(): Promise<void> {
    return this.inflight;
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    void this.inflight.then(() => cb(err));
  }

  private run(buffers: Buffer[], cb: (e?: Error | null) => void): void {
    const work = this.writeAll(buffers);
    this.inflight = work.catch(() => undefined);
    work.then(() => cb(), cb);
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    let left = buffers.reduce((n, b) => n + b.length, 0);
    while (left > 0) {
      const { bytesWritten } = await this.fh.writev(buffers, this.position);
      this.position += bytesWritten;
      left -= bytesWritten;
      if (left > 0) buffers = [Buffer.concat(buffers).subarray(bytesWritten)]; // a short write: the rest again
    }
  }
}

/** What a part's body is hashed with on its way to disk: always CRC32 (cheap), MD5 only when asked for. */
export interface PartDigest {
  size: number;
  /** CRC32 (IEEE, as zlib and S3's x-amz-checksum-crc32 compute it) of the body. */
  crc32: number;
  /** MD5 of the body (hex), when `md5` was asked for. */
  md5?: string;
}

/** A meter that counts, CRC32s and (optionally) MD5s what passes, refusing more than `exactLength` bytes. */
function partMeter(exactLength: number, md5: boolean): { meter: Transform; digest: () => PartDigest } {
  const hash = md5 ? createHash('md5') : null;
  let crc = 0;
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > exactLength) {
        cb(new LocalRequestError(400, 'IncompleteBody', `The body is larger than the ${exactLength} bytes this URL allows`));
        return;
      }
      crc = crc32(chunk, crc);
      hash?.update(chunk);
      cb(null, chunk);
    },
  });
  return { meter, digest: () => ({ size, crc32: crc, ...(hash ? { md5: hash.digest('hex') } : {}) }) };
}

/**
 * Streams `body` of exactly `exactLength` bytes into the open file `fh` at `offset` (a part written in place in its
 * upload's data file) while hashing it in the same pass (CRC32; MD5 too with `md5`), then flushes the file's data to
 * disk once (fdatasync). The body keeps flowing while a write is under way (up to 4 MiB buffered; see
 * PositionedWriter). The handle stays open and stays the caller's: no stream ever closes its descriptor. A body that
 * fails (cut off, timed out) rejects with its error once no write is under way.
 */
export async function receiveAt(
  body: Readable,
  fh: FileHandle,
  offset: number,
  exactLength: number,
  opts: { md5: boolean },
): Promise<PartDigest> {
  const { meter, digest } = partMeter(exactLength, opts.md5);
  const writer = new PositionedWriter(fh, offset);
  try {
    await pipeline(body, meter, writer);
  } catch (e) {
    await writer.settled(); // the caller closes the handle next: no write may still be using it
    throw e;
  }
  const d = digest();
  if (d.size !== exactLength) {
    throw new LocalRequestError(400, 'IncompleteBody', `The body has ${d.size} bytes; this URL requires exactly ${exactLength}`);
  }
  await fh.datasync();
  return d;
}

/**
 * Streams one part's `body` of exactly `exactLength` bytes into the new file `tmp` while hashing it (CRC32; MD5 too
 * with `md5`); fsyncs the file. The caller removes `tmp` on failure.
 */
export async function receivePartFile(body: Readable, tmp: string, exactLength: number, opts: { md5: boolean }): Promise<PartDigest> {
  const { meter, digest } = partMeter(exactLength, opts.md5);
  await pipeline(body, meter, createWriteStream(tmp, { flags: 'wx', highWaterMark: 1024 * 1024 }));
  const d = digest();
  if (d.size !== exactLength) {
    throw new LocalRequestError(400, 'IncompleteBody', `The body has ${d.size} bytes; this URL requires exactly ${exactLength}`);
  }
  await fsyncFile(tmp);
  return d;
}

/**
 * Streams `body` into the new file `tmp` while counting and hashing it, refusing more than `exactLength` (or
 * `maxLength`) bytes and, with `exactLength`, any other size; fsyncs the file. The caller removes `tmp` on failure.
 */
export async function receiveFile(
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
  await fsyncFile(tmp);
  return { size, digest: hash.digest('hex') };
}
