import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import busboy from 'busboy';
import { contentDisposition } from '../content-disposition';
import { readCacheControl } from '../cache-control';
import { LocalRequestError, LocalStorageDriver, PartChecks, UploadTarget } from '../drivers/local-storage.driver';
import { BodyTimeout, watchBody } from '../drivers/local/body-watchdog';
import { ByteRange, StorageNotFoundError } from '../storage-driver';
import { sendLocalProblem } from './local-problem';
import type { LocalUploadHooks } from './local-upload.hooks';

export type LocalObjectHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Entity tags in an If-None-Match / If-Match list, without the weak prefix (If-None-Match compares weakly). */
function etagList(header: string): string[] {
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .filter(Boolean);
}

/** Second precision, as HTTP dates have. */
function httpDateSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

/**
 * RFC 9110 §13.1.2-3: If-None-Match decides when present (weak comparison, `*` matches any stored object);
 * otherwise If-Modified-Since is compared with Last-Modified at one-second precision.
 */
export function notModified(req: Pick<IncomingMessage, 'headers'>, etag: string | undefined, lastModified: Date | undefined): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    if (!etag) return false;
    const own = etag.replace(/^W\//, '');
    return etagList(inm).some((t) => t === '*' || t === own);
  }
  const ims = req.headers['if-modified-since'];
  if (ims === undefined || !lastModified) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && httpDateSeconds(lastModified) <= Math.floor(since / 1000);
}

/** RFC 9110 §13.1.5: a Range applies only while If-Range (a strong ETag or an HTTP date) still matches. */
export function ifRangeHolds(ifRange: string | undefined, etag: string | undefined, lastModified: Date | undefined): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return !!etag && !v.startsWith('W/') && !etag.startsWith('W/') && v === etag;
  const at = Date.parse(v);
  return Number.isFinite(at) && !!lastModified && httpDateSeconds(lastModified) === Math.floor(at / 1000);
}

/** A signed `X-Media-Modified` (Unix seconds) as a date; undefined when absent or not a number. */
function signedDate(seconds: string | undefined): Date | undefined {
  if (seconds === undefined || !/^\d{1,12}$/.test(seconds)) return undefined;
  return new Date(Number(seconds) * 1000);
}

/** Parses one `bytes=` range against `size`; null when absent, 'invalid' when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): ByteRange | null | 'invalid' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // multi-range or malformed: serve the whole body (RFC 9110 allows ignoring)
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'invalid';
  return { start, end };
}

/**
 * The Content-Security-Policy of a served object: `sandbox` first, then the directives the server already set on
 * the response (if any), so a policy added in front of the handler (e.g. frame-ancestors) still holds.
 */
export function sandboxedPolicy(existing: number | string | string[] | undefined): string {
  const rest = (Array.isArray(existing) ? existing.join('; ') : typeof existing === 'string' ? existing : '')
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d !== '' && !/^sandbox(\s|$)/i.test(d));
  return ['sandbox', ...rest].join('; ');
}

/** A header's one value (a repeated header counts as its first). */
function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The digests a part's client sent, as S3 reads them: Content-MD5 (base64 of 16 bytes; else 400 InvalidDigest) and
 * x-amz-checksum-crc32 (base64 of 4 bytes, big-endian; else 400 InvalidRequest). With Content-MD5 the part's ETag is
 * its MD5, as on S3.
 */
export function partChecks(req: IncomingMessage): PartChecks {
  const checks: PartChecks = { md5Etag: false };
  const md5 = headerValue(req, 'content-md5');
  if (md5 !== undefined) {
    if (!/^[A-Za-z0-9+/]{22}==$/.test(md5.trim())) {
      throw new LocalRequestError(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid (base64 of 16 bytes)');
    }
    checks.md5 = Buffer.from(md5.trim(), 'base64').toString('hex');
    checks.md5Etag = true;
  }
  const crc = headerValue(req, 'x-amz-checksum-crc32');
  if (crc !== undefined) {
    if (!/^[A-Za-z0-9+/]{6}==$/.test(crc.trim())) {
      throw new LocalRequestError(400, 'InvalidRequest', 'Value for x-amz-checksum-crc32 header is invalid (base64 of 4 bytes)');
    }
    checks.crc32 = Buffer.from(crc.trim(), 'base64').readUInt32BE(0);
  }
  return checks;
}

/**
 * Serves the local driver's signed URLs with plain node http objects, so it mounts on any server:
 *   PUT  /storage/<bucket>/<key>?X-Media-…  single upload bound to size, type (and checksum), or one part of a
 *                                           multipart upload (X-Media-Upload-Id, X-Media-Part) bound to its size
 *   POST /storage/<bucket>                  browser form upload bound by a signed policy
 *   GET|HEAD /storage/<bucket>/<key>?…      download with Range, ETag, If-None-Match, Content-Disposition, and
 *                                           `Content-Security-Policy: sandbox` + nosniff on every answer
 * A stored single upload (PUT or POST, not a part) is announced to `hooks` before it is answered (see
 * LocalUploadHooks: the local driver's storage event).
 */
export function createLocalObjectHandler(driver: LocalStorageDriver, hooks?: LocalUploadHooks): LocalObjectHandler {
  const bucketPrefix = `${driver.urlPrefix}/${driver.bucket}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname !== bucketPrefix && !url.pathname.startsWith(`${bucketPrefix}/`)) {
      throw new LocalRequestError(404, 'NoSuchBucket', 'No such bucket');
    }
    let key: string;
    try {
      key = url.pathname
        .slice(bucketPrefix.length + 1)
        .split('/')
        .map(decodeURIComponent)
        .join('/');
    } catch {
      throw new LocalRequestError(400, 'InvalidKey', 'Object key is not valid');
    }
    const method = req.method ?? 'GET';
    if (method === 'PUT') return put(key, url.searchParams, req, res);
    if (method === 'POST' && url.pathname === bucketPrefix) return post(req, res);
    if (method === 'GET' || method === 'HEAD') return get(key, url.searchParams, req, res, method === 'HEAD');
    res.setHeader('allow', 'GET, HEAD, PUT, POST');
    throw new LocalRequestError(405, 'MethodNotAllowed', `${method} is not allowed here`);
  }

  async function put(key: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse) {
    const q = driver.verifyUrl(key, query, 'PUT');
    if (q['X-Media-Upload-Id'] !== undefined) return putPart(key, q, req, res);
    const type = (req.headers['content-type'] ?? '').trim();
    if (type !== q['X-Media-Type']) {
      throw new LocalRequestError(
        403,
        'SignatureDoesNotMatch',
        `Content-Type must be exactly "${q['X-Media-Type']}", the type this URL was signed for`,
      );
    }
    const expected = Number(q['X-Media-Length']);
    const lengthHeader = req.headers['content-length'];
    if (lengthHeader === undefined) throw new LocalRequestError(411, 'MissingContentLength', 'Content-Length is required');
    if (Number(lengthHeader) !== expected) {
      throw new LocalRequestError(403, 'SignatureDoesNotMatch', `Content-Length must be ${expected}, the size this URL was signed for`);
    }
    const checksum = q['X-Media-Checksum'];
    if (checksum) {
      const sent = req.headers['x-amz-checksum-sha256'];
      if (sent !== Buffer.from(checksum, 'hex').toString('base64')) {
        throw new LocalRequestError(403, 'SignatureDoesNotMatch', 'x-amz-checksum-sha256 must carry the checksum this URL was signed for');
      }
    }
    const deadlineMs = driver.uploadDeadline(Number(q['X-Media-Expires']));
    const r = await receiveUpload(req, { key, deadlineMs }, async (body) => {
      // Checked under the claim: a body that ended before this one began has stored its object (or left its marker).
      if ((await driver.head(key)) || (await driver.wasConsumed(key))) {
        throw new LocalRequestError(412, 'PreconditionFailed', 'An object was already uploaded with this URL; upload URLs are single-use');
      }
      return driver.store(key, body, type, { exactLength: expected, checksumSha256: checksum, deadlineMs, noColdCopies: true });
    });
    await hooks?.uploadStored({ bucket: driver.bucket, key, size: expected, etag: r.etag });
    res.writeHead(200, { etag: r.etag, 'content-length': 0 });
    res.end();
  }

  /**
   * Receives one upload body: claims its target before a byte is read (one body per URL's key or part, a bounded
   * number per owner; see LocalStorageDriver.claimUpload), then lets `receive` stream the body while a watch cuts it
   * (408) when no byte arrives for the idle timeout or the deadline passes. The claim is released however the body
   * ends, before the answer is sent, so a failed upload can be retried at once with the same URL.
   */
  async function receiveUpload<T>(req: IncomingMessage, target: UploadTarget, receive: (body: Readable) => Promise<T>): Promise<T> {
    const claim = await driver.claimUpload(target);
    const body = new PassThrough();
    // The body may fail before `receive` has a consumer on it (e.g. while it checks the key): that error is its
    // consumer's to see, never an unhandled 'error' event.
    body.on('error', () => undefined);
    const fail = (e: Error) => {
      req.unpipe(body);
      body.destroy(e);
    };
    const onClose = () => {
      if (!req.complete) fail(Object.assign(new Error('The client closed the request before its body ended'), { code: 'ECONNRESET' }));
    };
    req.once('close', onClose);
    const watch = watchBody(req, { idleMs: idleMs(), deadlineMs: target.deadlineMs }, (why) => fail(bodyTimeout(why)));
    req.pipe(body);
    try {
      return await receive(body);
    } finally {
      watch.stop();
      req.off('close', onClose);
      req.unpipe(body);
      await claim.release();
    }
  }

  const idleMs = () => driver.uploadLimits.bodyIdleTimeoutSeconds * 1000;

  function bodyTimeout(why: BodyTimeout): LocalRequestError {
    return new LocalRequestError(
      408,
      'RequestTimeout',
      why === 'idle'
        ? `No byte of the body arrived for ${driver.uploadLimits.bodyIdleTimeoutSeconds} s; the upload was cut`
        : 'The body did not finish before the URL expired (plus its grace period); the upload was cut',
    );
  }

  /**
   * One part of a multipart upload: exact signed size, any Content-Type; a re-PUT replaces the part. Content-MD5 and
   * x-amz-checksum-crc32, when sent, are verified (400 BadDigest); the ETag is the part's MD5 when Content-MD5 was
   * sent (S3's), a cheaper CRC32 one otherwise (see PartChecks).
   */
  async function putPart(key: string, q: Record<string, string | undefined>, req: IncomingMessage, res: ServerResponse) {
    const expected = Number(q['X-Media-Length']);
    const lengthHeader = req.headers['content-length'];
    if (lengthHeader === undefined) throw new LocalRequestError(411, 'MissingContentLength', 'Content-Length is required');
    if (Number(lengthHeader) !== expected) {
      throw new LocalRequestError(403, 'SignatureDoesNotMatch', `Content-Length must be ${expected}, the size this URL was signed for`);
    }
    const checks = partChecks(req);
    const uploadId = q['X-Media-Upload-Id']!;
    const partNumber = Number(q['X-Media-Part']);
    const deadlineMs = driver.uploadDeadline(Number(q['X-Media-Expires']));
    const r = await receiveUpload(req, { key, part: { uploadId, partNumber }, deadlineMs }, async (body) => {
      try {
        return await driver.storePart(key, uploadId, partNumber, body, expected, deadlineMs, checks);
      } catch (e) {
        if (e instanceof StorageNotFoundError) {
          throw new LocalRequestError(404, 'NoSuchUpload', 'The multipart upload does not exist (it was completed or aborted)');
        }
        throw e;
      }
    });
    res.writeHead(200, { etag: r.etag, 'content-length': 0 });
    res.end();
  }

  function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const fields: Record<string, string> = {};
      let sawFile = false;
      let bb: busboy.Busboy;
      try {
        bb = busboy({ headers: req.headers, limits: { fields: 20, fieldSize: 64 * 1024, files: 1 } });
      } catch (e) {
        reject(new LocalRequestError(400, 'MalformedPOSTRequest', `Body must be multipart/form-data: ${(e as Error).message}`));
        return;
      }
      // The whole form is watched for stalls (the policy fields come first); the deadline applies once the policy is
      // known. A cut, or a request abandoned mid-form, ends the form and the file stream being stored with an error.
      const watch = watchBody(req, { idleMs: idleMs() }, (why) => bb.destroy(bodyTimeout(why)));
      req.once('close', () => {
        if (!req.complete)
          bb.destroy(Object.assign(new Error('The client closed the request before its body ended'), { code: 'ECONNRESET' }));
      });
      const done = (e?: Error) => {
        watch.stop();
        if (e) reject(e);
        else resolve();
      };
      bb.on('field', (name, value) => (fields[name] = value));
      bb.on('file', (name, file) => {
        if (name !== 'file' || sawFile) {
          file.resume();
          return;
        }
        sawFile = true;
        (async () => {
          const policy = driver.verifyPostPolicy(fields.policy ?? '', fields.signature ?? '');
          if (fields.key !== policy.key) throw new LocalRequestError(403, 'AccessDenied', 'Field "key" does not match the policy');
          if (fields['Content-Type'] !== policy.contentType) {
            throw new LocalRequestError(403, 'AccessDenied', `Field "Content-Type" must be "${policy.contentType}"`);
          }
          const deadlineMs = driver.uploadDeadline(policy.exp);
          watch.deadline(deadlineMs);
          const claim = await driver.claimUpload({ key: policy.key, deadlineMs });
          let r: { etag: string; size: number };
          try {
            if ((await driver.head(policy.key)) || (await driver.wasConsumed(policy.key))) {
              throw new LocalRequestError(412, 'PreconditionFailed', 'This upload policy was already used');
            }
            r = await driver.store(policy.key, file, policy.contentType, {
              maxLength: policy.max,
              minLength: policy.min,
              deadlineMs,
              noColdCopies: true,
            });
          } finally {
            await claim.release();
          }
          await hooks?.uploadStored({ bucket: driver.bucket, key: policy.key, size: r.size, etag: r.etag });
          res.writeHead(204, { etag: r.etag });
          res.end();
        })().then(
          () => done(),
          (e: Error) => {
            file.resume();
            done(e);
          },
        );
      });
      bb.on('error', (e) => {
        if (e instanceof LocalRequestError || (e as NodeJS.ErrnoException).code === 'ECONNRESET') done(e as Error);
        else done(new LocalRequestError(400, 'MalformedPOSTRequest', `Malformed form body: ${(e as Error).message}`));
      });
      bb.on('close', () => {
        if (!sawFile)
          done(new LocalRequestError(400, 'MalformedPOSTRequest', 'The form has no "file" field (it must come after the policy fields)'));
      });
      req.pipe(bb);
    });
  }

  async function get(key: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse, headOnly: boolean) {
    // On every answer of a read (object, 304, 416 and errors alike): whatever a browser makes of the bytes, it
    // renders them in a sandbox (an opaque origin: no scripts, forms, plugins or access to this origin's storage).
    res.setHeader('content-security-policy', sandboxedPolicy(res.getHeader('content-security-policy')));
    res.setHeader('x-content-type-options', 'nosniff');
    const q = driver.verifyUrl(key, query, 'GET');
    const info = await driver.head(key);
    if (!info) throw new LocalRequestError(404, 'NoSuchKey', 'The object does not exist');
    // A content-addressed URL names exactly these bytes: it never serves anything else under the key.
    const sha = q['X-Media-Sha256'];
    if (sha !== undefined && info.etag !== `"${sha}"`)
      throw new LocalRequestError(404, 'NoSuchKey', 'The object no longer has the content this URL names');
    const headers: Record<string, string | number> = {
      'accept-ranges': 'bytes',
      'content-type': q['X-Media-Type'] ?? info.contentType ?? 'application/octet-stream',
      'cache-control': readCacheControl({
        scope: q['X-Media-Cache'] === 'public' ? 'public' : 'private',
        maxAgeSeconds:
          q['X-Media-Max-Age'] !== undefined ? Number(q['X-Media-Max-Age']) : Number(q['X-Media-Expires']) - Math.floor(Date.now() / 1000),
        contentAddressed: sha !== undefined,
      }),
      'x-content-type-options': 'nosniff',
    };
    // The signed date (the asset's own) wins over the file's: deduplicated files share one inode and its mtime.
    const lastModified = signedDate(q['X-Media-Modified']) ?? info.lastModified;
    if (info.etag) headers.etag = info.etag;
    if (lastModified) headers['last-modified'] = lastModified.toUTCString();
    if (q['X-Media-Filename'] !== undefined) headers['content-disposition'] = contentDisposition(q['X-Media-Filename']);
    if (notModified(req, info.etag, lastModified)) {
      // RFC 9110 §15.4.5: a 304 carries the validators and caching headers, not the representation's.
      const notModifiedHeaders: Record<string, string> = { 'cache-control': String(headers['cache-control']) };
      if (info.etag) notModifiedHeaders.etag = info.etag;
      if (lastModified) notModifiedHeaders['last-modified'] = lastModified.toUTCString();
      res.writeHead(304, notModifiedHeaders);
      res.end();
      return;
    }
    const range = parseRange(req.headers.range, info.size);
    if (range === 'invalid') {
      res.writeHead(416, {
        'content-range': `bytes */${info.size}`,
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify({ statusCode: 416, error: 'InvalidRange', message: `Range not satisfiable for ${info.size} bytes` }));
      return;
    }
    const ifRange = req.headers['if-range'];
    const useRange = range && ifRangeHolds(Array.isArray(ifRange) ? ifRange[0] : ifRange, info.etag, lastModified) ? range : null;
    if (useRange) {
      headers['content-range'] = `bytes ${useRange.start}-${useRange.end}/${info.size}`;
      headers['content-length'] = useRange.end - useRange.start + 1;
    } else headers['content-length'] = info.size;
    // Open before answering, so an object removed since the head above is a 404, not a cut-off 200.
    const stream = headOnly || info.size === 0 ? null : await openObject(key, useRange ?? undefined);
    if (!stream) {
      res.writeHead(useRange ? 206 : 200, headers);
      res.end();
      return;
    }
    sendStream(res, stream, useRange ? 206 : 200, headers);
  }

  /**
   * Pipes an open object stream into the response. The stream holds a file handle, so it is destroyed (closing the
   * handle) on every way this can end: the client went away while the file was being opened (the response's
   * 'close' has already fired and will not fire again), writing the head failed, the client aborts mid-body, or
   * reading fails. Ending normally closes the handle too.
   */
  function sendStream(res: ServerResponse, stream: Readable, status: number, headers: Record<string, string | number>) {
    const release = () => {
      if (!stream.destroyed) stream.destroy();
    };
    if (res.destroyed) {
      release();
      return;
    }
    res.once('close', release);
    stream.on('error', () => {
      release();
      res.destroy();
    });
    try {
      res.writeHead(status, headers);
    } catch (e) {
      release();
      throw e;
    }
    stream.pipe(res);
  }

  async function openObject(key: string, range?: ByteRange) {
    try {
      return await driver.read(key, range);
    } catch (e) {
      if (e instanceof StorageNotFoundError) throw new LocalRequestError(404, 'NoSuchKey', 'The object does not exist');
      throw e;
    }
  }

  return async (req, res) => {
    try {
      await handle(req, res);
    } catch (e) {
      if (e instanceof LocalRequestError) {
        if (e.status === 408) {
          // A cut body: the connection goes once the answer is out (the rest of the body is never read).
          res.once('finish', () => req.socket?.destroy());
          setTimeout(() => req.socket?.destroy(), 1000).unref();
        } else if (req.readable && !req.readableEnded) req.resume();
        sendLocalProblem(res, e.status, e.code, e.message);
      } else {
        const code = (e as NodeJS.ErrnoException | undefined)?.code;
        if (code === 'ENOSPC') sendLocalProblem(res, 507, 'InsufficientStorage', 'The storage volume is full');
        else if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || req.destroyed) res.destroy();
        else sendLocalProblem(res, 500, 'InternalError', 'Internal error');
      }
    }
  };
}

/**
 * One handler for several local drivers (the local regions of a multi-region deployment): a request goes
 * to the driver whose `<urlPrefix>/<bucket>` its path starts with (longest first); others get 404.
 */
export function createLocalObjectsHandler(drivers: LocalStorageDriver[], hooks?: LocalUploadHooks): LocalObjectHandler {
  const routes = drivers
    .map((d) => ({ prefix: `${d.urlPrefix}/${d.bucket}`, handle: createLocalObjectHandler(d, hooks) }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  return async (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://local').pathname;
    const route = routes.find((r) => pathname === r.prefix || pathname.startsWith(`${r.prefix}/`));
    if (route) return route.handle(req, res);
    if (req.readable && !req.readableEnded) req.resume();
    sendLocalProblem(res, 404, 'NoSuchBucket', 'No such bucket');
  };
}
