import Fastify, { FastifyInstance } from 'fastify';
import { CORS_ALLOWED_REQUEST_HEADERS, CORS_EXPOSED_HEADERS, CORS_MAX_AGE_SECONDS, CorsPolicy, installCors } from './cors';

const APP = 'https://app.example.com';

/** A Fastify app with one ordinary route and one that takes over the raw response (as /storage and /tus do). */
async function appWith(origins: string[]): Promise<FastifyInstance> {
  const app = Fastify();
  installCors(app, new CorsPolicy(origins));
  app.post('/media/upload-url', async () => ({ ok: true }));
  app.put('/storage/*', (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { etag: '"abc"' });
    reply.raw.end();
  });
  await app.ready();
  return app;
}

describe('CORS', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await appWith([APP, 'http://127.0.0.1:5173']);
  });
  afterAll(() => app.close());

  const preflight = (origin: string, url = '/media/upload-url', method = 'POST') =>
    app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type' },
    });

  it('answers a preflight from an allowed origin before any route, cacheable, without credentials', async () => {
    for (const url of ['/media/upload-url', '/storage/media/k', '/tus/', '/no/such/route']) {
      const res = await preflight(APP, url);
      expect([url, res.statusCode]).toEqual([url, 204]);
      expect(res.headers['access-control-allow-origin']).toBe(APP);
      expect(res.headers['access-control-allow-methods']).toBe('GET, HEAD, POST, PUT, PATCH, DELETE');
      const allowed = String(res.headers['access-control-allow-headers']).split(', ');
      expect(allowed).toEqual(expect.arrayContaining(['authorization', 'x-api-key', 'content-type', 'tus-resumable', 'upload-offset']));
      expect(allowed).not.toContain('content-length');
      expect(res.headers['access-control-max-age']).toBe(String(CORS_MAX_AGE_SECONDS));
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(res.headers.vary).toBe('Origin');
    }
  });

  it('refuses a preflight from any other origin with 403 and no CORS headers', async () => {
    for (const origin of ['https://evil.example', 'https://app.example.com:8443', 'http://app.example.com', 'null']) {
      const res = await preflight(origin);
      expect([origin, res.statusCode]).toEqual([origin, 403]);
      expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
      expect(res.json()).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    }
  });

  it('lets an OPTIONS that is not a preflight reach the routes (tus discovery)', async () => {
    expect((await app.inject({ method: 'OPTIONS', url: '/media/upload-url', headers: { origin: APP } })).statusCode).toBe(404);
  });

  it('labels answers to allowed origins (ordinary and raw routes alike) and exposes the headers clients read', async () => {
    for (const [method, url] of [
      ['POST', '/media/upload-url'],
      ['PUT', '/storage/media/k'],
    ] as const) {
      const res = await app.inject({ method, url, headers: { origin: 'http://127.0.0.1:5173' } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('http://127.0.0.1:5173');
      expect(res.headers['access-control-expose-headers']).toBe(CORS_EXPOSED_HEADERS.join(', '));
      expect(res.headers.vary).toBe('Origin');
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    }
    const exposed = CORS_EXPOSED_HEADERS.map((h) => h.toLowerCase());
    for (const h of ['etag', 'location', 'upload-offset', 'upload-length', 'tus-resumable', 'retry-after', 'x-request-id'])
      expect(exposed).toContain(h);
    expect(exposed).toEqual(
      expect.arrayContaining(['x-ratelimit-limit-upload-url', 'x-ratelimit-remaining-upload-url', 'x-ratelimit-reset-upload-url']),
    );
  });

  it('gives other origins and same-origin calls no CORS headers (still Vary: Origin)', async () => {
    for (const headers of [{ origin: 'https://evil.example' }, {}]) {
      const res = await app.inject({ method: 'POST', url: '/media/upload-url', headers });
      expect(res.statusCode).toBe(200);
      expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
      expect(res.headers.vary).toBe('Origin');
    }
  });

  it('with `*` answers every origin with `*` (never with credentials) and no Vary', async () => {
    const any = await appWith(['*']);
    try {
      const pre = await any.inject({
        method: 'OPTIONS',
        url: '/media/upload-url',
        headers: { origin: 'https://anywhere.example', 'access-control-request-method': 'POST' },
      });
      expect(pre.statusCode).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe('*');
      expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
      const res = await any.inject({ method: 'POST', url: '/media/upload-url', headers: { origin: 'https://anywhere.example' } });
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers.vary).toBeUndefined();
    } finally {
      await any.close();
    }
  });

  it('never allows a header list with a wildcard or a duplicate', () => {
    expect(CORS_ALLOWED_REQUEST_HEADERS).not.toContain('*');
    expect(new Set(CORS_ALLOWED_REQUEST_HEADERS).size).toBe(CORS_ALLOWED_REQUEST_HEADERS.length);
    expect(new Set(CORS_EXPOSED_HEADERS.map((h) => h.toLowerCase())).size).toBe(CORS_EXPOSED_HEADERS.length);
  });
});
