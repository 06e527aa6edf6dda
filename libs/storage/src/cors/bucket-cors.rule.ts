import type { BucketCorsRule } from '../storage-driver';

export type { BucketCorsRule } from '../storage-driver';

/**
 * Request headers a browser may send with a signed request: the ones our presigned PUTs sign (Content-Type,
 * x-amz-checksum-sha256; Content-Length is set by the browser itself and never preflighted), Content-MD5 and
 * the other checksum headers of multipart part uploads, and Range/If-* for reads.
 */
export const BUCKET_CORS_ALLOWED_HEADERS = [
  'content-type',
  'content-md5',
  'x-amz-checksum-sha256',
  'x-amz-checksum-crc32',
  'x-amz-checksum-crc32c',
  'x-amz-sdk-checksum-algorithm',
  'range',
  'if-match',
  'if-none-match',
];

/** ETag is what a browser multipart upload needs to read back from each part; the rest helps debugging. */
export const BUCKET_CORS_EXPOSE_HEADERS = ['ETag', 'Content-Length', 'Content-Range', 'x-amz-request-id', 'x-amz-version-id'];

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
    MaxAgeSeconds: 3000,
  };
}
