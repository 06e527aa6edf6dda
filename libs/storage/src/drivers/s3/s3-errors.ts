import { StorageUnavailableError } from '../../storage-driver';

/** Error names/codes that mean "the store could not be reached or failed", not "the request was wrong". */
const UNAVAILABLE_NAMES = new Set([
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
  'NetworkingError',
  'ServiceUnavailable',
  'SlowDown',
  'InternalError',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

const NETWORK_CODE_IN_MESSAGE = /\b(ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/;

/** What the SDK's errors carry, as far as we read them. */
export interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

export function errorName(err: unknown): string | undefined {
  return (err as SdkErrorShape | undefined)?.name;
}

export function statusOf(err: unknown): number | undefined {
  const e = err as SdkErrorShape | undefined;
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

export function isNoSuchUpload(err: unknown): boolean {
  const e = err as SdkErrorShape | undefined;
  return e?.name === 'NoSuchUpload' || e?.code === 'NoSuchUpload' || (statusOf(err) === 404 && e?.name !== 'NoSuchBucket');
}

export function isNotFound(err: unknown): boolean {
  const e = err as SdkErrorShape | undefined;
  return statusOf(err) === 404 || e?.name === 'NotFound' || e?.name === 'NoSuchKey';
}

export function isUnavailable(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  const e = err as SdkErrorShape | undefined;
  if (!e || typeof e !== 'object') return false;
  if ((e.name && UNAVAILABLE_NAMES.has(e.name)) || (e.code && UNAVAILABLE_NAMES.has(e.code))) return true;
  // The SDK's retry layer attaches $metadata to every error it saw; without an HTTP status no response
  // arrived (a transport failure). It may also have replaced the original error by a bare Error whose
  // message is all that is left (it does so for errors from another realm, e.g. under jest).
  if (e.$metadata && status === undefined) return true;
  if (typeof e.message === 'string' && NETWORK_CODE_IN_MESSAGE.test(e.message)) return true;
  // Node's network errors sometimes arrive wrapped (AggregateError from happy-eyeballs, or `cause`).
  const inner = (e as { errors?: unknown[]; cause?: unknown }).errors?.[0] ?? (e as { cause?: unknown }).cause;
  return inner !== undefined && inner !== err && isUnavailable(inner);
}

export function describeError(err: unknown): string {
  const e = err as SdkErrorShape | undefined;
  const status = statusOf(err);
  const parts = [e?.name, e?.code && e.code !== e.name ? e.code : undefined, status ? `HTTP ${status}` : undefined];
  const label = parts.filter(Boolean).join(' ');
  return label ? `${label}: ${e?.message ?? String(err)}` : String(e?.message ?? err);
}

/** An SDK error as the port's errors: an outage becomes StorageUnavailableError, anything else stays as it is. */
export function translateS3Error(err: unknown, what: string): Error {
  if (err instanceof StorageUnavailableError) return err;
  if (isUnavailable(err)) return new StorageUnavailableError(`S3 ${what} failed: ${describeError(err)}`, err);
  return err instanceof Error ? err : new Error(`S3 ${what} failed: ${describeError(err)}`);
}

export function quoteEtag(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

/** Object paths in CopySource: the bucket, then the key with each segment URL-encoded. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
