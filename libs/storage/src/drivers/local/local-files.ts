import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { FileHandle, open, opendir } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

/** Bytes gathered from the body before one positioned write (fewer, larger system calls). */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Reads `body` of exactly `exactLength` bytes into the open file `fh` at `offset` (a part written in place in its
 * upload's data file) while hashing it, in positioned writes of up to 1 MiB (the body waits while one is under way),
 * then flushes the file's data to disk (fdatasync). The handle stays open and stays the caller's: no stream ever owns
 * its descriptor. A body that fails (cut off, timed out) rejects with its error.
 */
export async function receiveAt(
  body: Readable,
  fh: FileHandle,
  offset: number,
  algorithm: 'md5' | 'sha256',
  exactLength: number,
): Promise<{ size: number; digest: string }> {
  const hash = createHash(algorithm);
  let size = 0;
  let position = offset;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async () => {
    let buffers = batch;
    let left = batched;
    batch = [];
    batched = 0;
    while (left > 0) {
      const { bytesWritten } = await fh.writev(buffers, position);
      position += bytesWritten;
      left -= bytesWritten;
      if (left > 0) buffers = [Buffer.concat(buffers).subarray(bytesWritten)]; // a short write: the rest again
    }
  };
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > exactLength)
      throw new LocalRequestError(400, 'IncompleteBody', `The body is larger than the ${exactLength} bytes this URL allows`);
    hash.update(chunk);
    batch.push(chunk);
    batched += chunk.length;
    if (batched >= WRITE_BATCH_BYTES) await flush();
  }
  await flush();
  if (size !== exactLength) {
    throw new LocalRequestError(400, 'IncompleteBody', `The body has ${size} bytes; this URL requires exactly ${exactLength}`);
  }
  await fh.datasync();
  return { size, digest: hash.digest('hex') };
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
