import { CORS_MAX_AGE_SECONDS, STORAGE_CORS_EXPOSED_HEADERS, STORAGE_CORS_REQUEST_HEADERS } from '@app/core';
import type { BucketCorsRule } from '../storage-driver';

export type { BucketCorsRule } from '../storage-driver';

/** Request headers a browser may send with our signed URLs (the same list the local /storage routes allow). */
export const BUCKET_CORS_ALLOWED_HEADERS = STORAGE_CORS_REQUEST_HEADERS;

/** ETag is what a browser multipart upload needs to read back from each part; the rest helps debugging. */
export const BUCKET_CORS_EXPOSE_HEADERS = STORAGE_CORS_EXPOSED_HEADERS;

/**
 * The rule every s3 region's bucket needs so that browsers can send bytes straight to it with our signed URLs
 * (the upload page, or any web client of the API): PUT/POST (single PUT, form POST, multipart parts), GET/HEAD
 * (signed downloads and thumbnails read by scripts).
 */
export function bucketCorsRule(allowedOrigins: string[]): BucketCorsRule {
  return {
    AllowedOrigins: [...allowedOrigins],
    AllowedMethods: ['PUT', 'POST', 'GET', 'HEAD'],
    AllowedHeaders: [...BUCKET_CORS_ALLOWED_HEADERS],
    ExposeHeaders: [...BUCKET_CORS_EXPOSE_HEADERS],
    MaxAgeSeconds: CORS_MAX_AGE_SECONDS,
  };
}
