import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';

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
 * Removes the files directly in `dir` that nobody has written for `olderThanMs`: what a process that died mid-write
 * left in the store's `.tmp` (an upload's body, a rendition libvips was writing). A live writer touches its file far
 * more often than that (an upload body idle for UPLOAD_BODY_IDLE_TIMEOUT_SECONDS is cut off; renders have a timeout),
 * so a live file is never removed. Answers how many were removed; a missing `dir` is zero.
 */
export async function sweepAbandoned(dir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') return 0;
    throw err;
  }
  let removed = 0;
  for (const name of names) {
    const file = path.join(dir, name);
    const st = await lstat(file).catch(() => null);
    if (!st || st.isDirectory() || now - st.mtimeMs < olderThanMs) continue;
    await removeFile(file);
    removed++;
  }
  return removed;
}
