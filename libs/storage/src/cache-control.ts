/** One year: the longest max-age worth sending (RFC 9111 caches treat larger values alike). */
export const MAX_CACHE_AGE_SECONDS = 365 * 24 * 3600;

/**
 * Cache-Control for a signed read. `private` for access-controlled reads (browser cache only), `public` when
 * anyone may read the asset; never longer than the URL stays valid; `immutable` when the URL is
 * content-addressed (it can only ever name the same bytes, so revalidating is pointless).
 */
export function readCacheControl(opts: { scope?: 'private' | 'public'; maxAgeSeconds: number; contentAddressed?: boolean }): string {
  const age = Math.max(0, Math.min(MAX_CACHE_AGE_SECONDS, Math.floor(opts.maxAgeSeconds)));
  return `${opts.scope === 'public' ? 'public' : 'private'}, max-age=${age}${opts.contentAddressed ? ', immutable' : ''}`;
}
