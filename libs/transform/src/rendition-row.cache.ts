import type { RenditionRow } from './renditions.repository';

/** How long a process keeps a rendition row it has read (rows never change, apart from last_read_at). */
export const ROW_CACHE_TTL_MS = 60_000;
export const ROW_CACHE_MAX_ENTRIES = 10_000;

/**
 * Rendition rows this process has read or written, so that a cached rendition costs no database read. Safe to keep
 * for a minute: a row goes away only when its owner has no ready asset with the bytes (then every request for it
 * fails the access or status check first), or when it was unread for days (a row read here within the last minute
 * had its last_read_at moved to within the last day). Oldest entries leave first beyond ROW_CACHE_MAX_ENTRIES.
 */
export class RenditionRowCache {
  private readonly rows = new Map<string, { row: RenditionRow; until: number }>();

  constructor(
    private readonly ttlMs = ROW_CACHE_TTL_MS,
    private readonly maxEntries = ROW_CACHE_MAX_ENTRIES,
  ) {}

  get(cacheKey: string): RenditionRow | undefined {
    const e = this.rows.get(cacheKey);
    if (!e) return undefined;
    if (e.until < Date.now()) {
      this.rows.delete(cacheKey);
      return undefined;
    }
    return e.row;
  }

  set(row: RenditionRow): void {
    this.rows.delete(row.cacheKey);
    this.rows.set(row.cacheKey, { row, until: Date.now() + this.ttlMs });
    while (this.rows.size > this.maxEntries) this.rows.delete(this.rows.keys().next().value as string);
  }

  delete(cacheKeys: string[]): void {
    for (const k of cacheKeys) this.rows.delete(k);
  }
}
