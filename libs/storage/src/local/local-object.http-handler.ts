import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';
import { contentDisposition } from '../content-disposition';
import { LOCAL_URL_PREFIX, LocalRequestError, LocalStorageDriver } from '../drivers/local-storage.driver';
import { ByteRange } from '../storage-driver';

export type LocalObjectHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ statusCode: status, error: code, message });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
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
 * Serves the local driver's signed URLs with plain node http objects, so it mounts on any server:
 *   PUT  /storage/<bucket>/<key>?X-Media-…  single upload bound to size, type (and checksum)
 *   POST /storage/<bucket>                  browser form upload bound by a signed policy
 *   GET|HEAD /storage/<bucket>/<key>?…      download with Range, ETag, If-None-Match, Content-Disposition
 */
export function createLocalObjectHandler(driver: LocalStorageDriver): LocalObjectHandler {
  const bucketPrefix = `${LOCAL_URL_PREFIX}/${driver.bucket}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname !== bucketPrefix && !url.pathname.startsWith(`${bucketPrefix}/`)) {
      throw new LocalRequestError(404, 'NoSuchBucket', 'No such bucket');
    }
    let key: string;
    try {
      key = url.pathname.slice(bucketPrefix.length + 1).split('/').map(decodeURIComponent).join('/');
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
    const type = (req.headers['content-type'] ?? '').trim();
    if (type !== q['X-Media-Type']) {
      throw new LocalRequestError(403, 'SignatureDoesNotMatch', `Content-Type must be exactly "${q['X-Media-Type']}", the type this URL was signed for`);
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
    if (await driver.head(key)) {
      throw new LocalRequestError(412, 'PreconditionFailed', 'An object was already uploaded with this URL; upload URLs are single-use');
    }
    const r = await driver.store(key, req, type, { exactLength: expected, checksumSha256: checksum });
    res.writeHead(200, { etag: r.etag, 'content-length': 0 });
    res.end();
  }

  function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return new Promise((resolve, reject) => {
      const fields: Record<string, string> = {};
      let sawFile = false;
      let bb: busboy.Busboy;
      try {
        bb = busboy({ headers: req.headers, limits: { fields: 20, fieldSize: 64 * 1024, files: 1 } });
      } catch (e) {
        reject(new LocalRequestError(400, 'MalformedPOSTRequest', `Body must be multipart/form-data: ${(e as Error).message}`));
        return;
      }
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
          if (await driver.head(policy.key)) throw new LocalRequestError(412, 'PreconditionFailed', 'This upload policy was already used');
          const r = await driver.store(policy.key, file, policy.contentType, { maxLength: policy.max, minLength: policy.min });
          res.writeHead(204, { etag: r.etag });
          res.end();
        })().then(resolve, (e) => {
          file.resume();
          reject(e);
        });
      });
      bb.on('error', (e) => reject(new LocalRequestError(400, 'MalformedPOSTRequest', `Malformed form body: ${(e as Error).message}`)));
      bb.on('close', () => {
        if (!sawFile) reject(new LocalRequestError(400, 'MalformedPOSTRequest', 'The form has no "file" field (it must come after the policy fields)'));
      });
      req.pipe(bb);
    });
  }

  async function get(key: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse, headOnly: boolean) {
    const q = driver.verifyUrl(key, query, 'GET');
    const info = await driver.head(key);
    if (!info) throw new LocalRequestError(404, 'NoSuchKey', 'The object does not exist');
    const headers: Record<string, string | number> = {
      'accept-ranges': 'bytes',
      'content-type': q['X-Media-Type'] ?? info.contentType ?? 'application/octet-stream',
      'cache-control': 'private, max-age=' + Math.max(0, Number(q['X-Media-Expires']) - Math.floor(Date.now() / 1000)),
      'x-content-type-options': 'nosniff',
    };
    if (info.etag) headers.etag = info.etag;
    if (info.lastModified) headers['last-modified'] = info.lastModified.toUTCString();
    if (q['X-Media-Filename'] !== undefined) headers['content-disposition'] = contentDisposition(q['X-Media-Filename']);
    const inm = req.headers['if-none-match'];
    if (inm && info.etag && inm.split(',').some((t) => t.trim() === info.etag || t.trim() === '*')) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const range = parseRange(req.headers.range, info.size);
    if (range === 'invalid') {
      res.writeHead(416, { 'content-range': `bytes */${info.size}`, 'content-type': 'application/json' });
      res.end(JSON.stringify({ statusCode: 416, error: 'InvalidRange', message: `Range not satisfiable for ${info.size} bytes` }));
      return;
    }
    const ifRange = req.headers['if-range'];
    const useRange = range && (!ifRange || ifRange === info.etag) ? range : null;
    if (useRange) {
      headers['content-range'] = `bytes ${useRange.start}-${useRange.end}/${info.size}`;
      headers['content-length'] = useRange.end - useRange.start + 1;
    } else headers['content-length'] = info.size;
    res.writeHead(useRange ? 206 : 200, headers);
    if (headOnly || info.size === 0) {
      res.end();
      return;
    }
    const stream = driver.openRead(key, useRange ?? undefined);
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  }

  return async (req, res) => {
    try {
      await handle(req, res);
    } catch (e) {
      if (e instanceof LocalRequestError) {
        if (req.readable && !req.readableEnded) req.resume();
        sendError(res, e.status, e.code, e.message);
      } else {
        const code = (e as any)?.code;
        if (code === 'ENOSPC') sendError(res, 507, 'InsufficientStorage', 'The storage volume is full');
        else if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || req.destroyed) res.destroy();
        else sendError(res, 500, 'InternalError', 'Internal error');
      }
    }
  };
}

