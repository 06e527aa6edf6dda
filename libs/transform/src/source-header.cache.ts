import type { SourceHeader } from './image-renderer';

export const SOURCE_HEADER_CACHE_MAX_ENTRIES = 2_000;

/**
 * Image headers this process has read, by owner and source SHA-256, so that rendering one source at several sizes
 * (a srcset) opens and parses it once: the bytes under a SHA-256 never change, so neither does their header. Per
 * owner, like the renditions themselves: a render is never faster because another owner rendered the same bytes (no
 * existence oracle). Only headers of sources that read: an unreadable source is read (and refused) again each time.
 * Oldest entries leave first beyond `maxEntries` (each is a few numbers).
 */
export class SourceHeaderCache {
  private readonly headers = new Map<string, SourceHeader>();

  constructor(private readonly maxEntries = SOURCE_HEADER_CACHE_MAX_ENTRIES) {}

  async get(ownerId: string, sha256: string, read: () => Promise<SourceHeader>): Promise<SourceHeader> {
    const key = `${ownerId}\n${sha256}`;
    const found = this.headers.get(key);
    if (found) return found;
    const header = await read();
    this.headers.set(key, header);
    while (this.headers.size > this.maxEntries) this.headers.delete(this.headers.keys().next().value as string);
    return header;
  }

  /** An owner's last asset with these bytes went. */
  delete(ownerId: string, sha256: string): void {
    this.headers.delete(`${ownerId}\n${sha256}`);
  }
}
