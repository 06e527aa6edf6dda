import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * What is needed to resume a multipart upload of one file: written before the first part is sent, removed after
 * complete. Keyed by service base URL + absolute path + size + modification time, so a changed file never resumes.
 */
export interface ResumeRecord {
  version: 1;
  baseUrl: string;
  path: string;
  size: number;
  mtimeMs: number;
  assetId: string;
  uploadId: string;
  partSize: number;
  partCount: number;
  /** SHA-256 of the file computed for the first attempt (declared to the service; not computed again). */
  sha256: string;
  /** When the session expires. */
  expiresAt: string;
  createdAt: string;
}

export type ResumeKey = Pick<ResumeRecord, 'baseUrl' | 'path' | 'size' | 'mtimeMs'>;

/** `$MEDIA_STATE_DIR`, else `$XDG_CACHE_HOME/media-cli`, else `~/.cache/media-cli`. */
export function defaultStateDir(): string {
  if (process.env.MEDIA_STATE_DIR) return path.resolve(process.env.MEDIA_STATE_DIR);
  const cache = process.env.XDG_CACHE_HOME ? path.resolve(process.env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(cache, 'media-cli');
}

/** Small JSON files in a directory, one per upload in progress (mode 0600: they name assets and paths). */
export class ResumeStore {
  constructor(readonly dir: string = defaultStateDir()) {}

  private fileFor(key: ResumeKey): string {
    const id = createHash('sha256')
      .update(JSON.stringify([key.baseUrl, key.path, key.size, key.mtimeMs]))
      .digest('hex')
      .slice(0, 32);
    return path.join(this.dir, `upload-${id}.json`);
  }

  /** The record for exactly this file (same base URL, path, size and mtime), or null. An unreadable record is dropped. */
  async load(key: ResumeKey): Promise<ResumeRecord | null> {
    const file = this.fileFor(key);
    let rec: ResumeRecord;
    try {
      rec = JSON.parse(await readFile(file, 'utf8')) as ResumeRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') await rm(file, { force: true });
      return null;
    }
    const same =
      rec?.version === 1 && rec.baseUrl === key.baseUrl && rec.path === key.path && rec.size === key.size && rec.mtimeMs === key.mtimeMs;
    return same && typeof rec.assetId === 'string' && typeof rec.uploadId === 'string' && typeof rec.sha256 === 'string' ? rec : null;
  }

  /** Written atomically (temporary file, then rename). */
  async save(rec: ResumeRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.fileFor(rec);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(rec, null, 2), { mode: 0o600 });
    await rename(tmp, file);
  }

  async remove(key: ResumeKey): Promise<void> {
    await rm(this.fileFor(key), { force: true });
  }

  /** Drops every record of `assetId` (after an abort); answers how many. */
  async removeAsset(assetId: string): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names.filter((n) => /^upload-[0-9a-f]+\.json$/.test(n))) {
      const file = path.join(this.dir, name);
      const rec = await readFile(file, 'utf8').then(
        (t) => JSON.parse(t) as ResumeRecord,
        () => null,
      );
      if (rec?.assetId === assetId) {
        await rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
