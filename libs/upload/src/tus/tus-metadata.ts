import { Errors } from '@app/core';

/** Where the tus endpoint is mounted; upload URLs are `/tus/<asset id>`. */
export const TUS_PATH = '/tus';
export const TUS_RESUMABLE_VERSION = '1.0.0';

const UPLOAD_URL_PATH = /^\/tus\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/;

/** The upload (= asset) id in a request URL such as `/tus/<uuid>` (query ignored), or null. */
export function tusUploadIdFromUrl(url: string): string | null {
  let pathname: string;
  try {
    pathname = new URL(url, 'http://x').pathname;
  } catch {
    return null;
  }
  return UPLOAD_URL_PATH.exec(pathname)?.[1] ?? null;
}

/** What a tus creation request asks for, in the shape of POST /media/upload-url's body (validated by the same DTO). */
export interface TusUploadRequest {
  filename: unknown;
  mimeType: unknown;
  sizeBytes: number;
  checksumSha256?: unknown;
  bucket?: unknown;
  path?: unknown;
}

/**
 * Reads Upload-Metadata: `filename` and `filetype` are required (Uppy's `name`/`type` are accepted as well);
 * `checksumSha256` (hex) is optional and checked by processing like a declared checksum; `bucket` and `path` place the
 * asset like upload-url's fields of the same names. Other keys are ignored
 * (clients such as Uppy add their own, e.g. `relativePath`).
 */
export function uploadRequestFromMetadata(metadata: Record<string, string | null> | undefined, sizeBytes: number): TusUploadRequest {
  const md = metadata ?? {};
  const filename = md.filename ?? md.name ?? null;
  const filetype = md.filetype ?? md.type ?? null;
  const missing = [
    filename === null || filename === '' ? 'filename' : null,
    filetype === null || filetype === '' ? 'filetype' : null,
  ].filter((k): k is string => k !== null);
  if (missing.length) {
    const example = `filename ${Buffer.from('a.jpg').toString('base64')},filetype ${Buffer.from('image/jpeg').toString('base64')}`;
    throw Errors.validation(
      `Upload-Metadata must carry ${missing.map((k) => `"${k}"`).join(' and ')} (base64 values, e.g. "${example}")`,
      missing.map((k) => ({ field: `Upload-Metadata ${k}`, problems: ['is required'] })),
    );
  }
  const checksum = md.checksumSha256 ?? md.sha256 ?? null;
  return {
    filename,
    mimeType: filetype,
    sizeBytes,
    ...(checksum !== null ? { checksumSha256: checksum } : {}),
    ...(md.bucket ? { bucket: md.bucket } : {}),
    ...(md.path ? { path: md.path } : {}),
  };
}
