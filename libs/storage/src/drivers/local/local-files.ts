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

/** Counts and hashes what passes, refusing more than `max` bytes. */
function meter(hash: ReturnType<typeof createHash>, max: number | undefined, counted: (n: number) => void): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (max !== undefined && size > max) {
        cb(new LocalRequestError(400, 'IncompleteBody', `The body is larger than the ${max} bytes this URL allows`));
        return;
      }
      counted(size);
      hash.update(chunk);
      cb(null, chunk);
    },
  });
}

/**
 * Streams `body` of exactly `exactLength` bytes into the open file `fh` at `offset` (a part written in place in its
 * upload's data file) while hashing it, then flushes the file's data to disk (fdatasync). The handle stays open.
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
  await pipeline(
    body,
    meter(hash, exactLength, (n) => (size = n)),
    // The numeric descriptor, not the FileHandle: a FileHandle's own stream keeps a reference on it that only its
    // closing drops (and close() waits for), while this handle is closed by its owner.
    createWriteStream('', { fd: fh.fd, start: offset, autoClose: false, highWaterMark: 1024 * 1024 }),
  );
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
