import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendLocalProblem } from './local-problem';
import { BUCKET_CORS_ALLOWED_HEADERS, BUCKET_CORS_EXPOSE_HEADERS } from '../cors/bucket-cors.rule';

export interface StorageOriginSettings {
  /** PUBLIC_BASE_URL: the API's and the upload page's base URL. */
  publicBaseUrl: string;
  /** PUBLIC_STORAGE_URL in force: the base of the local driver's signed URLs. */
  publicStorageUrl: string;
  /** Browser origins that may send bytes to storage (CORS_ALLOWED_ORIGINS; `*` = any). */
  corsAllowedOrigins: string[];
}

/**
 * Runs before the local storage handler; answers the request itself (returning true) when it must not reach it.
 * `host` is the host the request was addressed to (the Host header, or X-Forwarded-Host from a trusted proxy).
 */
export type StorageOriginGate = (req: IncomingMessage, res: ServerResponse, host: string | undefined) => boolean;

const ALLOWED_METHODS = ['GET', 'HEAD', 'PUT', 'POST'];
const PREFLIGHT_MAX_AGE_SECONDS = 3000;

/**
 * The local storage routes on their own origin (PUBLIC_STORAGE_URL another origin than PUBLIC_BASE_URL):
 * - they answer only requests addressed to the storage host; any other gets 421 (the signature does not cover the
 *   host, so a signed URL with its host swapped would otherwise serve the bytes on the API's origin after all);
 * - browsers on CORS_ALLOWED_ORIGINS (by default the upload page's origin) may use them cross-origin, under the same
 *   rule as an S3 bucket's (bucketCorsRule): preflights are answered, answers carry Access-Control-Allow-Origin and
 *   expose ETag (multipart parts), and Cross-Origin-Resource-Policy lets the page show thumbnails from there.
 * Null when storage is served on the service's own origin: the routes then behave exactly as without this setting.
 */
export function storageOriginGate(settings: StorageOriginSettings): StorageOriginGate | null {
  const storage = new URL(settings.publicStorageUrl);
  if (storage.origin === new URL(settings.publicBaseUrl).origin) return null;
  const anyOrigin = settings.corsAllowedOrigins.includes('*');
  const origins = new Set(settings.corsAllowedOrigins);
  const allowedHeaders = new Set(BUCKET_CORS_ALLOWED_HEADERS);

  const addressedHere = (host: string | undefined): boolean => {
    if (!host) return false;
    try {
      return new URL(`${storage.protocol}//${host}`).host === storage.host;
    } catch {
      return false;
    }
  };

  return (req, res, host) => {
    if (!addressedHere(host)) {
      sendLocalProblem(res, 421, 'MisdirectedRequest', `Stored objects are served on ${storage.origin} only`, req);
      return true;
    }
    res.setHeader('vary', 'Origin');
    res.setHeader('cross-origin-resource-policy', 'cross-origin');
    const origin = req.headers.origin;
    const allowOrigin = origin === undefined ? undefined : anyOrigin ? '*' : origins.has(origin) ? origin : undefined;
    if (req.method !== 'OPTIONS') {
      if (allowOrigin) {
        res.setHeader('access-control-allow-origin', allowOrigin);
        res.setHeader('access-control-expose-headers', BUCKET_CORS_EXPOSE_HEADERS.join(', '));
      }
      return false;
    }
    const method = req.headers['access-control-request-method'];
    if (origin === undefined || method === undefined) {
      sendLocalProblem(res, 400, 'BadRequest', 'A CORS preflight needs the Origin and Access-Control-Request-Method headers', req);
      return true;
    }
    const requested = (req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    if (!allowOrigin || !ALLOWED_METHODS.includes(method) || !requested.every((h) => allowedHeaders.has(h))) {
      sendLocalProblem(
        res,
        403,
        'CORSResponse',
        'This CORS request is not allowed (origin, method or headers: see CORS_ALLOWED_ORIGINS)',
        req,
      );
      return true;
    }
    res.writeHead(204, {
      'access-control-allow-origin': allowOrigin,
      'access-control-allow-methods': ALLOWED_METHODS.join(', '),
      ...(requested.length ? { 'access-control-allow-headers': requested.join(', ') } : {}),
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    });
    res.end();
    return true;
  };
}
