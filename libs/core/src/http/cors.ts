import type { FastifyInstance } from 'fastify';
import { Errors } from '../errors/error-codes';
import { toProblem } from '../errors/problem.filter';
import { UPLOAD_URL_THROTTLER } from './rate-limit';

/**
 * Request headers a browser may send with our signed storage URLs (local driver and S3 buckets alike): the ones our
 * grants list (Content-Type, x-amz-checksum-sha256), Content-MD5 and the other checksum headers S3 clients send
 * with parts, and Range/If-* for reads. Content-Length is never among them: the browser sets it itself.
 */
export const STORAGE_CORS_REQUEST_HEADERS = [
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

/** Response headers a script must be able to read from storage: ETag above all (each part of a multipart upload). */
export const STORAGE_CORS_EXPOSED_HEADERS = ['ETag', 'Content-Length', 'Content-Range', 'x-amz-request-id', 'x-amz-version-id'];

/** Request headers of the tus 1.0 protocol (and tus-js-client's method override for proxies that drop PATCH). */
const TUS_REQUEST_HEADERS = ['tus-resumable', 'upload-length', 'upload-offset', 'upload-metadata', 'upload-defer-length', 'upload-concat'];

/**
 * Request headers allowed cross-origin: credentials as headers (Authorization: Bearer <JWT or API key>, X-Api-Key),
 * Content-Type (JSON), a caller's own X-Request-Id, the tus headers and the signed-storage ones.
 */
export const CORS_ALLOWED_REQUEST_HEADERS = [
  ...new Set([
    'authorization',
    'x-api-key',
    'content-type',
    'x-request-id',
    ...TUS_REQUEST_HEADERS,
    'x-http-method-override',
    'x-requested-with',
    ...STORAGE_CORS_REQUEST_HEADERS,
    'if-modified-since',
    'if-range',
  ]),
];

/** The headers the per-caller rate limit answers with (@nestjs/throttler names them after the throttler). */
export function rateLimitHeaders(throttlers: string[] = [UPLOAD_URL_THROTTLER]): string[] {
  return throttlers.flatMap((n) => [`X-RateLimit-Limit-${n}`, `X-RateLimit-Remaining-${n}`, `X-RateLimit-Reset-${n}`, `Retry-After-${n}`]);
}

/**
 * Response headers a script on another origin may read (beyond the CORS-safelisted Cache-Control, Content-Language,
 * Content-Length, Content-Type, Expires, Last-Modified, Pragma): ETag and Location (storage, redirects, tus),
 * Content-Disposition/Range, X-Request-Id, Retry-After (503) and the rate-limit headers, and tus's Upload-* and Tus-*.
 */
export const CORS_EXPOSED_HEADERS = [
  ...new Set([
    'ETag',
    'Location',
    'Content-Disposition',
    'Content-Range',
    'Accept-Ranges',
    'X-Request-Id',
    'Retry-After',
    ...rateLimitHeaders(),
    'Upload-Offset',
    'Upload-Length',
    'Upload-Expires',
    'Upload-Metadata',
    'Upload-Defer-Length',
    'Tus-Resumable',
    'Tus-Version',
    'Tus-Extension',
    'Tus-Max-Size',
    ...STORAGE_CORS_EXPOSED_HEADERS.filter((h) => !['ETag', 'Content-Length', 'Content-Range'].includes(h)),
  ]),
];

export const CORS_ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** How long a browser may keep a preflight's answer (Chromium caps it at 2 h, Firefox at 24 h). */
export const CORS_MAX_AGE_SECONDS = 3600;

/** Who may call from another origin: API_CORS_ORIGINS (`*` = any, answered as `*`). */
export class CorsPolicy {
  private readonly any: boolean;
  private readonly origins: Set<string>;

  constructor(origins: string[]) {
    this.any = origins.includes('*');
    this.origins = new Set(origins);
  }

  /** Any origin is allowed (answers carry `Access-Control-Allow-Origin: *`). */
  get anyOrigin(): boolean {
    return this.any;
  }

  /** The Access-Control-Allow-Origin value for a request from `origin`, or undefined when it gets no CORS headers. */
  allowOrigin(origin: string | undefined): string | undefined {
    if (origin === undefined) return undefined;
    if (this.any) return '*';
    return this.origins.has(origin) ? origin : undefined;
  }

  /** Whether `origin` may call (for libraries that ask a predicate, e.g. @tus/server's allowedOrigins). */
  allows(origin: string | undefined): boolean {
    return this.allowOrigin(origin) !== undefined;
  }
}

/**
 * CORS for every route of the service — the API's controllers, /tus/ and the local driver's /storage/ — in one
 * onRequest hook on the raw response (like the security headers), so routes that take over the reply get it too:
 * - a request with an allowed Origin gets Access-Control-Allow-Origin and Access-Control-Expose-Headers;
 * - a preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is answered here,
 *   204 with the allowed methods, request headers and Access-Control-Max-Age, before any route or guard (a
 *   preflight carries no token); from any other origin it is answered 403 without CORS headers, so the browser
 *   refuses the request it was asking about;
 * - Access-Control-Allow-Credentials is never sent: callers authenticate with headers a script sets (Authorization,
 *   X-Api-Key), not with cookies, so `*` is safe and `fetch(…, { credentials: 'include' })` is refused by browsers;
 * - `Vary: Origin` on every answer unless any origin is allowed (the answer then does not depend on it).
 */
export function installCors(fastify: FastifyInstance, policy: CorsPolicy): void {
  const exposed = CORS_EXPOSED_HEADERS.join(', ');
  const preflightHeaders = {
    'access-control-allow-methods': CORS_ALLOWED_METHODS.join(', '),
    'access-control-allow-headers': CORS_ALLOWED_REQUEST_HEADERS.join(', '),
    'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
  };
  fastify.addHook('onRequest', (req, reply, done) => {
    const raw = reply.raw;
    if (!policy.anyOrigin) raw.setHeader('vary', 'Origin');
    const origin = req.headers.origin;
    const allowOrigin = policy.allowOrigin(origin);
    const isPreflight = req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined;
    if (isPreflight) {
      if (!allowOrigin) {
        const problem = toProblem(Errors.forbidden(`Origin ${origin} may not call this service from a browser (see API_CORS_ORIGINS)`));
        reply.code(403).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(problem);
        return;
      }
      reply
        .code(204)
        .headers({ 'access-control-allow-origin': allowOrigin, ...preflightHeaders, 'content-length': '0' })
        .send();
      return;
    }
    if (allowOrigin) {
      raw.setHeader('access-control-allow-origin', allowOrigin);
      raw.setHeader('access-control-expose-headers', exposed);
    }
    done();
  });
}
