import { createHash } from 'node:crypto';
import http from 'node:http';
import { token } from './app-process';

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Thin JSON helper over fetch for e2e tests. */
export function api(baseUrl: string, sub?: string | number, claims: Record<string, unknown> = {}) {
  const auth: Record<string, string> = sub === undefined ? {} : { authorization: `Bearer ${token(sub, claims)}` };
  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } as Record<string, string>,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, body: json, text };
  }
  return {
    get: (p: string, h?: Record<string, string>) => call('GET', p, undefined, h),
    post: (p: string, b?: unknown, h?: Record<string, string>) => call('POST', p, b, h),
    put: (p: string, b?: unknown, h?: Record<string, string>) => call('PUT', p, b, h),
    del: (p: string, h?: Record<string, string>) => call('DELETE', p, undefined, h),
    raw: call,
  };
}

export type Api = ReturnType<typeof api>;

/** POST /media/upload-url then PUT the bytes to the signed URL with its headers. */
export async function uploadBytes(client: Api, bytes: Buffer, opts: { filename?: string; mimeType: string; checksum?: boolean | string }) {
  const res = await client.post('/media/upload-url', {
    filename: opts.filename ?? 'file.bin',
    mimeType: opts.mimeType,
    sizeBytes: bytes.length,
    ...(opts.checksum ? { checksumSha256: typeof opts.checksum === 'string' ? opts.checksum : sha256(bytes) } : {}),
  });
  if (res.status !== 201) throw new Error(`upload-url answered ${res.status}: ${res.text}`);
  const put = await fetch(res.body.uploadUrl, { method: 'PUT', headers: res.body.headers, body: bytes });
  return { assetId: res.body.assetId as string, grant: res.body, putStatus: put.status, putBody: await put.text() };
}

/**
 * Sends the headers and only the first `sent` bytes of a body announced with `contentLength` (or chunked when it is
 * undefined), then waits for the answer: the service must answer without waiting for the rest.
 */
export function partialPost(
  url: string,
  headers: Record<string, string>,
  first: Buffer,
  contentLength?: number,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers: { ...headers, ...(contentLength === undefined ? {} : { 'content-length': String(contentLength) }) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s: the service waited for the body')));
    req.write(first); // and never the rest
  });
}
