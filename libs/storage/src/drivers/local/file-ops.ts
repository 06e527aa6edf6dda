import { mkdir, unlink } from 'node:fs/promises';

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
