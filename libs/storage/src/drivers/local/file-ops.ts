import { createHash } from 'node:crypto';
import { FileHandle, mkdir, unlink } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LocalRequestError } from './local-request.error';

/**
 * Removes a file; an absent one (or a path through something that is not a directory) is success. One unlink:
 * `fs.rm(file, { force: true })` does the same with two lstat calls before it (it also handles directories, which
 * these callers never remove).
 */
export async function removeFile(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
}

/** How many directories KnownDirs remembers before it starts over (a bound on memory, not on correctness). */
const KNOWN_DIRS_LIMIT = 10_000;

/**
 * `mkdir -p` without the system calls for directories this process has made or found already: the local driver's
 * writes land in a few hundred directories (`uploads/<owner>`, `objects/<xx>`, their sidecar trees, `.tmp`), so most
 * writes would otherwise pay a mkdir (and the stat behind its EEXIST) for nothing. A directory removed behind this
 * process's back (an operator, a test deleting a tree) is found by the operation that needs it failing with ENOENT:
 * `within` then makes the directories again and runs it once more.
 */
export class KnownDirs {
  private readonly known = new Set<string>();

  async ensure(dir: string): Promise<void> {
    if (this.known.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.known.size >= KNOWN_DIRS_LIMIT) this.known.clear();
    this.known.add(dir);
  }

  /**
   * Runs `op` (which creates or renames something inside `dirs`) once the directories exist; when it fails with
   * ENOENT, forgets them, makes them again and runs it once more (so `op` must be safe to repeat after an ENOENT).
   */
  async within<T>(dirs: string[], op: () => Promise<T>): Promise<T> {
    for (const d of dirs) await this.ensure(d);
    try {
      return await op();
    } catch (err) {
      if ((err as NodeJS.ErrnoException)?.code !== 'ENOENT') throw err;
      for (const d of dirs) this.known.delete(d);
      for (const d of dirs) await this.ensure(d);
      return op();
    }
  }
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
  let size = 0;
  const max = limits.exactLength ?? limits.maxLength;
  let inflight: Promise<unknown> = Promise.resolve();
  const writeAll = async (buffers: Buffer[]) => {
    let left = buffers.reduce((n, b) => n + b.length, 0);
    while (left > 0) {
      const { bytesWritten } = await fh.writev(buffers);
      left -= bytesWritten;
      if (left > 0) buffers = [Buffer.concat(buffers).subarray(bytesWritten)]; // a short write: the rest again
    }
  };
  const run = (buffers: Buffer[], cb: (e?: Error | null) => void) => {
    for (const b of buffers) {
      size += b.length;
      if (max !== undefined && size > max) {
        cb(new LocalRequestError(400, 'IncompleteBody', `The body is larger than the ${max} bytes this URL allows`));
        return;
      }
      hash.update(b);
    }
    const work = writeAll(buffers);
    inflight = work.catch(() => undefined);
    work.then(() => cb(), cb);
  };
  const writer = new Writable({
    highWaterMark: 1024 * 1024,
    write: (chunk: Buffer, _enc, cb) => run([chunk], cb),
    writev: (chunks, cb) =>
      run(
        chunks.map((c) => c.chunk as Buffer),
        cb,
      ),
    destroy: (err, cb) => void inflight.then(() => cb(err)),
  });
  await pipeline(body, writer);
  if (limits.exactLength !== undefined && size !== limits.exactLength) {
    throw new LocalRequestError(400, 'IncompleteBody', `The body has ${size} bytes; this URL requires exactly ${limits.exactLength}`);
  }
  if (durable) await fh.sync();
  return { size, digest: hash.digest('hex') };
}
