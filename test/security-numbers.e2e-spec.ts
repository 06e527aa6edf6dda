/**
 * Out-of-range numbers never reach the database: every route that takes a number (query, path, body) answers 400
 * naming the parameter for values beyond its column (BIGINT, INTEGER) or beyond what a JSON number holds exactly,
 * sent as numbers and as strings; the largest in-range values still work; a JWT `sub` beyond BIGINT is a 401.
 */
import jwt from 'jsonwebtoken';
import { api, uploadBytes } from './support/api';
import { JWT_SECRET, RunningApp, startApp, token } from './support/app-process';

jest.setTimeout(120_000);

/** 2^63 (one past BIGINT), -2^63-1, a double far beyond 2^53, and 40 nines. */
const HUGE = ['9223372036854775808', '-9223372036854775809', '1e308', '9'.repeat(40)];

type Case = {
  route: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path (and query) for the value, as text. */
  path: (v: string) => string;
  /** Raw JSON body for the value, as text (`v` is a JSON number literal or a JSON string). */
  body?: (v: string) => string;
  admin?: boolean;
  /** The parameter the 400 must name. */
  names: RegExp;
};

describe('out-of-range numbers', () => {
  let app: RunningApp;
  let assetId: string;
  const OWNER = 41;

  beforeAll(async () => {
    app = await startApp({ RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '100000' });
    assetId = (await uploadBytes(api(app.baseUrl, OWNER), Buffer.from('numbers'), { mimeType: 'text/plain' })).assetId;
  });
  afterAll(() => app?.stop());

  const cases: Case[] = [
    { route: 'GET /media ?owner', method: 'GET', path: (v) => `/media?owner=${v}`, names: /owner/ },
    { route: 'GET /media ?limit', method: 'GET', path: (v) => `/media?limit=${v}`, names: /limit/ },
    { route: 'GET /media/{id} ?timeout', method: 'GET', path: (v) => `/media/${assetId}?waitFor=ready&timeout=${v}`, names: /timeout/ },
    { route: 'GET /admin/quotas/{ownerId}', method: 'GET', path: (v) => `/admin/quotas/${v}`, admin: true, names: /ownerId/ },
    {
      route: 'PUT /admin/quotas/{ownerId}',
      method: 'PUT',
      path: (v) => `/admin/quotas/${v}`,
      body: () => '{"maxBytes":1,"maxAssets":1}',
      admin: true,
      names: /ownerId/,
    },
    {
      route: 'PUT /admin/quotas maxBytes',
      method: 'PUT',
      path: () => '/admin/quotas/42',
      body: (v) => `{"maxBytes":${v},"maxAssets":null}`,
      admin: true,
      names: /maxBytes/,
    },
    {
      route: 'PUT /admin/quotas maxAssets',
      method: 'PUT',
      path: () => '/admin/quotas/42',
      body: (v) => `{"maxBytes":null,"maxAssets":${v}}`,
      admin: true,
      names: /maxAssets/,
    },
    {
      route: 'POST /media/upload-url sizeBytes',
      method: 'POST',
      path: () => '/media/upload-url',
      body: (v) => `{"filename":"a.txt","mimeType":"text/plain","sizeBytes":${v}}`,
      names: /sizeBytes/,
    },
    {
      route: 'POST /media/upload-url expiresInSeconds',
      method: 'POST',
      path: () => '/media/upload-url',
      body: (v) => `{"filename":"a.txt","mimeType":"text/plain","sizeBytes":1,"expiresInSeconds":${v}}`,
      names: /expiresInSeconds/,
    },
    {
      route: 'POST /media/upload-url acl user:<id>',
      method: 'POST',
      path: () => '/media/upload-url',
      body: (v) =>
        `{"filename":"a.txt","mimeType":"text/plain","sizeBytes":1,"acl":[{"principal":"user:${unquote(v)}","permission":"read"}]}`,
      names: /principal/,
    },
    {
      route: 'POST /media/{id}/parts partNumbers',
      method: 'POST',
      path: () => `/media/${assetId}/parts`,
      body: (v) => `{"partNumbers":[${v}]}`,
      names: /part/,
    },
    {
      route: 'POST /media/{id}/complete partNumber',
      method: 'POST',
      path: () => `/media/${assetId}/complete`,
      body: (v) => `{"parts":[{"partNumber":${v},"etag":"x"}]}`,
      names: /partNumber/,
    },
    {
      route: 'POST /media/{id}/acl user:<id>',
      method: 'POST',
      path: () => `/media/${assetId}/acl`,
      body: (v) => `{"principal":"user:${unquote(v)}","permission":"read"}`,
      names: /principal/,
    },
    {
      route: 'PUT /media/{id}/acl user:<id>',
      method: 'PUT',
      path: () => `/media/${assetId}/acl`,
      body: (v) => `{"entries":[{"principal":"user:${unquote(v)}","permission":"read"}]}`,
      names: /principal/,
    },
    {
      route: 'DELETE /media/{id}/acl/user:<id>/read',
      method: 'DELETE',
      path: (v) => `/media/${assetId}/acl/user:${v}/read`,
      names: /principal/,
    },
    {
      route: 'GET /admin/dead-letters ?offset',
      method: 'GET',
      path: (v) => `/admin/dead-letters?offset=${v}`,
      admin: true,
      names: /offset/,
    },
    { route: 'GET /admin/dead-letters ?limit', method: 'GET', path: (v) => `/admin/dead-letters?limit=${v}`, admin: true, names: /limit/ },
    {
      route: 'GET /admin/webhooks/{id}/deliveries ?limit',
      method: 'GET',
      path: (v) => `/admin/webhooks/00000000-0000-4000-8000-000000000000/deliveries?limit=${v}`,
      admin: true,
      names: /limit/,
    },
    { route: 'GET /admin/jobs/runs ?limit', method: 'GET', path: (v) => `/admin/jobs/runs?limit=${v}`, admin: true, names: /limit/ },
    {
      route: 'PUT /admin/clock advanceSeconds',
      method: 'PUT',
      path: () => '/admin/clock',
      body: (v) => `{"advanceSeconds":${v}}`,
      admin: true,
      names: /advanceSeconds/,
    },
  ];

  /** A body value as a JSON number literal and as a JSON string; path/query values as they are. */
  const inBody = (c: Case) => !!c.body && c.body('1') !== c.body('2');
  const variants = (c: Case) => HUGE.flatMap((v) => (inBody(c) ? [v, JSON.stringify(v)] : [v]));
  const table = cases.flatMap((c) => variants(c).map((v) => [c.route, v, c] as const));

  it.each(table)('%s = %s → 400 naming the parameter', async (_route, v, c) => {
    const client = c.admin ? api(app.baseUrl, 1, { roles: ['admin'] }) : api(app.baseUrl, OWNER);
    const res = await client.raw(c.method, c.path(v), c.body?.(v));
    if (res.status !== 400) throw new Error(`${c.method} ${c.path(v)} ${c.body?.(v) ?? ''} → ${res.status}: ${res.text.slice(0, 300)}`);
    expect(res.body).toMatchObject({ statusCode: 400 });
    expect(['ValidationFailed', 'InvalidRequest']).toContain(res.body.error);
    expect(`${res.body.message} ${JSON.stringify(res.body.details ?? '')}`).toMatch(c.names);
  });

  it('still takes the largest values in range', async () => {
    const admin = api(app.baseUrl, 1, { roles: ['admin'] });
    expect((await api(app.baseUrl, OWNER).get('/media?owner=9223372036854775807')).status).toBe(200);
    expect((await admin.get('/admin/quotas/9223372036854775807')).status).toBe(200);
    const set = await admin.put('/admin/quotas/9223372036854775807', {
      maxBytes: Number.MAX_SAFE_INTEGER,
      maxAssets: Number.MAX_SAFE_INTEGER,
    });
    expect(set.status).toBe(200);
    expect(
      (await api(app.baseUrl, OWNER).post(`/media/${assetId}/acl`, { principal: 'user:9223372036854775807', permission: 'read' })).status,
    ).toBe(200);
    expect((await api(app.baseUrl, OWNER).del(`/media/${assetId}/acl/user:9223372036854775807/read`)).status).toBe(204);
    expect((await api(app.baseUrl, 9223372036854775807n.toString()).get('/quota')).status).toBe(200);
  });

  it('refuses a JWT whose sub is beyond BIGINT (as text or as a number) with 401', async () => {
    for (const sub of ['9223372036854775808', '9'.repeat(40), 9223372036854775808, 1e308]) {
      const t = jwt.sign({ sub }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 60 });
      const res = await api(app.baseUrl).get('/quota', { authorization: `Bearer ${t}` });
      expect(res.status).toBe(401);
      expect(res.body.message).toMatch(/sub/);
    }
    expect((await api(app.baseUrl).get('/quota', { authorization: `Bearer ${token('9223372036854775807')}` })).status).toBe(200);
  });

  it('tus: a huge Upload-Length is a 4xx, never a 5xx', async () => {
    for (const v of HUGE) {
      const res = await fetch(`${app.baseUrl}/tus/`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token(OWNER)}`,
          'tus-resumable': '1.0.0',
          'upload-length': v,
          'upload-metadata': `filename ${Buffer.from('a.txt').toString('base64')},filetype ${Buffer.from('text/plain').toString('base64')}`,
        },
      });
      await res.text();
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });
});

function unquote(v: string): string {
  return v.startsWith('"') ? (JSON.parse(v) as string) : v;
}
