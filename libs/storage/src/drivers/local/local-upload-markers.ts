import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ObjectKeyLayout } from '../../object-key-layout';
import { LocalLayout } from './local-layout';
import { walkFiles } from './local-files';
import { KnownDirs, removeFile } from './file-ops';

const SUFFIX = '.json.consumed';

/**
 * Used-upload-key markers (UsedUploadMarkerStorage). Removing an upload key leaves a marker beside its metadata
 * (outside the bucket), so its single-use URL stays used up: a client retrying the PUT after processing moved or
 * refused the bytes gets 412 instead of leaving an object that nothing owns.
 */
export class LocalUploadMarkers {
  /** The sidecar directories of upload keys (`uploads/<owner>`) made or found already. */
  private readonly dirs = new KnownDirs();

  constructor(private readonly layout: LocalLayout) {}

  /** Marks `key` used (upload keys only; other keys have no single-use URLs). */
  async mark(key: string): Promise<void> {
    if (!ObjectKeyLayout.isUpload(key)) return;
    const marker = this.layout.consumedMarker(key);
    await this.dirs.within([path.dirname(this.layout.metaPath(key))], () => writeFile(marker, new Date().toISOString()));
  }

  /** Whether an object was stored under `key` once and removed since (upload keys only). */
  async wasConsumed(key: string): Promise<boolean> {
    if (!ObjectKeyLayout.isUpload(key)) return false;
    try {
      await stat(this.layout.consumedMarker(key));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Removes the markers older than `olderThan`: by then every URL that could have been signed for their key has
   * expired, so the marker guards nothing. Returns the keys (all of them with `dryRun`, which removes nothing).
   */
  async purge({ olderThan, dryRun = false }: { olderThan: Date; dryRun?: boolean }): Promise<string[]> {
    const purged: string[] = [];
    for await (const { key, file } of walkFiles(this.layout.metaDir(), '')) {
      if (!key.endsWith(SUFFIX)) continue;
      const st = await stat(file).catch(() => null);
      if (!st || st.mtime >= olderThan) continue;
      purged.push(key.slice(0, -SUFFIX.length));
      if (!dryRun) await removeFile(file);
    }
    return purged;
  }
}
