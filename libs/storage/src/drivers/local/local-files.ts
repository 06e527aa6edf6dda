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

/**
 * A pass-through that counts what passes and shows each chunk to `see` (a hash), refusing more than `max` bytes;
 * `size()` is the count so far.
 */
function byteMeter(max: number | undefined, see: (chunk: Buffer) => void): { meter: Transform; size: () => number } {
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (max !== undefined && size > max) {
        cb(new LocalRequestError(400, 'IncompleteBody', `The body is larger than the ${max} bytes this URL allows`));
        return;
      }
      see(chunk);
      cb(null, chunk);
    },
  });
  return { meter, size: () => size };
}

/** A body shorter than the `exactLength` its URL requires (a longer one is refused by byteMeter on the way). */
function assertExactLength(size: number, exactLength: number | undefined): void {
  if (exactLength !== undefined && size !== exactLength) {
    throw new LocalRequestError(400, 'IncompleteBody', `The body has ${size} bytes; this URL requires exactly ${exactLength}`);
  }
}

/** A meter that counts, CRC32s and (optionally) MD5s what passes, refusing more than `exactLength` bytes. */
function partMeter(exactLength: number, md5: boolean): { meter: Transform; digest: () => PartDigest } {
  const hash = md5 ? createHash('md5') : null;
  let crc = 0;
  const { meter, size } = byteMeter(exactLength, (chunk) => {
    crc = crc32(chunk, crc);
    hash?.update(chunk);
  });
  return { meter, digest: () => ({ size: size(), crc32: crc, ...(hash ? { md5: hash.digest('hex') } : {}) }) };
}

/**
 * Streams `body` into `fh` from `position` through the meter (PositionedWriter); a body that fails rejects once no
 * write is under way, so the caller may close the handle at once.
 */
async function pipeInto(body: Readable, meter: Transform, fh: FileHandle, position: number): Promise<void> {
  const writer = new PositionedWriter(fh, position);
  try {
    await pipeline(body, meter, writer);
  } catch (e) {
    await writer.settled(); // the caller closes the handle next: no write may still be using it
    throw e;
  }
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
  await pipeInto(body, meter, fh, offset);
  const d = digest();
  assertExactLength(d.size, exactLength);
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
  assertExactLength(d.size, exactLength);
  await fsyncFile(tmp);
  return d;
}

/**
 * Streams `body` into the open file `fh` (from its start, a new file) while counting and hashing it (SHA-256),
 * refusing more than `exactLength` (or `maxLength`) bytes and, with `exactLength`, any other size. With `durable`,
 * the file's data is flushed to disk (fsync) before this resolves. The handle stays the caller's: it is never closed
 * here, and a body that fails rejects only once no write is under way (the caller may close the handle at once).
 */
export async function receiveIntoHandle(
  body: Readable,
  fh: FileHandle,
  limits: { exactLength?: number; maxLength?: number },
  durable: boolean,
): Promise<{ size: number; digest: string }> {
  const hash = createHash('sha256');
  const { meter, size } = byteMeter(limits.exactLength ?? limits.maxLength, (chunk) => hash.update(chunk));
  await pipeInto(body, meter, fh, 0);
  assertExactLength(size(), limits.exactLength);
  if (durable) await fh.sync();
  return { size: size(), digest: hash.digest('hex') };
}
