import type { AssetCachePart } from './asset-cache-part';

interface LocalEntry {
  /** JSON text per part (parsed on every hit, so no caller can change what the next one gets). */
  parts: Partial<Record<AssetCachePart, { json: string; expiresAt: number }>>;
}

/**
 * The in-process layer of the hot-metadata cache: JSON text by asset and part, a short TTL, least recently used
 * assets dropped beyond `maxEntries`. It never decides freshness by itself: AssetCache deletes an asset here when
 * this process changes it and when another process announces a change (Redis pub/sub), and `seq` lets a reader
 * that started before any such deletion refuse to store what it read (see `set`).
 */
export class LocalAssetCache {
  private readonly entries = new Map<string, LocalEntry>();
  /** Bumped by every deletion: a value read before the bump may be older than the deletion. */
  private seqNo = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get seq(): number {
    return this.seqNo;
  }

  get size(): number {
    return this.entries.size;
  }

  get(assetId: string, part: AssetCachePart, now = Date.now()): string | undefined {
    const entry = this.entries.get(assetId);
    const hit = entry?.parts[part];
    if (!entry || !hit) return undefined;
    if (hit.expiresAt <= now) {
      delete entry.parts[part];
      return undefined;
    }
    // Most recently used last (Map keeps insertion order): re-insert unless it is already the newest.
    this.entries.delete(assetId);
    this.entries.set(assetId, entry);
    return hit.json;
  }

  /**
   * Stores `json` unless something was deleted since the reader took `seqAtRead` (then it may be stale). `ttlMs`
   * shortens this entry's lifetime (never lengthens it beyond the layer's own).
   */
  set(assetId: string, part: AssetCachePart, json: string, seqAtRead: number, now = Date.now(), ttlMs = this.ttlMs): boolean {
    if (seqAtRead !== this.seqNo) return false;
    let entry = this.entries.get(assetId);
    if (!entry) {
      entry = { parts: {} };
      this.entries.set(assetId, entry);
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    }
    entry.parts[part] = { json, expiresAt: now + Math.min(ttlMs, this.ttlMs) };
    return true;
  }

  delete(assetId: string): void {
    this.seqNo++;
    this.entries.delete(assetId);
  }

  clear(): void {
    this.seqNo++;
    this.entries.clear();
  }
}
