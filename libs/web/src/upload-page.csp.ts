import type { CdnConfig, ServerConfig, StorageConfig } from '@app/core';

/** AWS S3 URLs when no endpoint is configured: virtual-hosted (`bucket.s3.region…`) or path-style (`s3.region…`). */
const AWS_S3_SOURCE = 'https://*.amazonaws.com';

function originOf(url: string): string {
  return new URL(url).origin;
}

/** The storage settings the page's policy reads: the regions, and where local regions' signed URLs point. */
type PageStorage = Pick<StorageConfig, 'storageRegions'> & Partial<Pick<StorageConfig, 'publicStorageUrl'>>;

/**
 * Origins the browser talks to besides the page's own: where signed upload URLs point (connect-src, for the
 * XMLHttpRequest PUT) and where signed thumbnail URLs point (img-src; also the CDN's when links go through it).
 * Local regions sign on PUBLIC_STORAGE_URL (publicStorageUrl), which defaults to the service's own base URL.
 */
export function storageOrigins(storage: PageStorage, server: Pick<ServerConfig, 'publicBaseUrl'>): string[] {
  const origins = storage.storageRegions.map((r) =>
    r.driver === 'local'
      ? originOf(storage.publicStorageUrl ?? server.publicBaseUrl)
      : r.publicEndpoint || r.endpoint
        ? originOf((r.publicEndpoint || r.endpoint)!)
        : AWS_S3_SOURCE,
  );
  return [...new Set(origins)];
}

/**
 * Content-Security-Policy of the upload page: scripts and styles only from this service (no inline code), bytes
 * and thumbnails only to/from this service and the configured storage (and CDN), nothing else.
 */
export function uploadPageCsp(
  storageConfig: PageStorage,
  server: Pick<ServerConfig, 'publicBaseUrl'>,
  cdnConfig: Pick<CdnConfig, 'CDN_PROVIDER' | 'CDN_BASE_URL'>,
): string {
  const storage = storageOrigins(storageConfig, server);
  const cdn = cdnConfig.CDN_PROVIDER === 'cloudfront' && cdnConfig.CDN_BASE_URL ? [originOf(cdnConfig.CDN_BASE_URL)] : [];
  const list = (...sources: string[]) => [...new Set(sources)].join(' ');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${list("'self'", 'blob:', 'data:', ...storage, ...cdn)}`,
    `connect-src ${list("'self'", ...storage)}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
