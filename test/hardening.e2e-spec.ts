/**
 * Bad input and hardening against the real built service: a property-based test (fast-check) throws random and
 * hostile requests at every route, plus rate limiting, security headers and JWT algorithm pinning.
 * FUZZ_RUNS raises the number of cases (`npm run fuzz`); CI runs a bounded number.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { api, partialPost, uploadBytes } from './support/api';
import { JWT_SECRET, RunningApp, startApp, token } from './support/app-process';
import { filesUnder } from './support/files';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

describe('hostile input never gets a 5xx', () => {
  let app: RunningApp;
  let assetId: string;
  let sentinelId: string; // another user's asset: the fuzzer (user 1) must not be able to touch it
  let sentinelPathId: string; // another user's asset in another user's bucket
  const tmpBefore = new Set(readdirSync(os.tmpdir()));

  beforeAll(async () => {
    app = await startApp({ RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '100000' });
    const up = await uploadBytes(api(app.baseUrl, 1), Buffer.from('fuzz target'), { mimeType: 'text/plain' });
    assetId = up.assetId;
    sentinelId = (await uploadBytes(api(app.baseUrl, 2), Buffer.from('sentinel'), { mimeType: 'text/plain' })).assetId;
    // Buckets (issue 17): one of the fuzzer's own, and another user's with an asset at a path it must not reach.
    expect((await api(app.baseUrl, 1).post('/buckets', { name: 'fuzz-mine' })).status).toBe(201);
    expect((await api(app.baseUrl, 2).post('/buckets', { name: 'fuzz-sentinel' })).status).toBe(201);
    const res = await api(app.baseUrl, 2).post('/media/upload-url', {
      filename: 's.txt',
      mimeType: 'text/plain',
      sizeBytes: 1,
      bucket: 'fuzz-sentinel',
      path: 'keep/me.txt',
    });
    expect(res.status).toBe(201);
    sentinelPathId = res.body.assetId;
  });
  afterAll(() => app?.stop());

  /** Bidirectional controls (RLO, isolates, marks) mixed into strings: a spoofed extension is the classic. */
  const bidi = fc.constantFrom('\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f');
  const bidiString = fc
    .tuple(fc.string({ maxLength: 20 }), bidi, fc.string({ maxLength: 20 }), fc.constantFrom('', '.exe', 'gpj.exe', '.txt'))
    .map(([a, b, c, ext]) => `${a}${b}${c}${ext}`);
  /** Numbers beyond every column: 2^63, -2^63-1, 1e308, 40 nines (as JSON number literals; strings below). */
  const hugeNumberText = fc.constantFrom('9223372036854775808', '-9223372036854775809', '1e308', '9'.repeat(40), '-1e308', '1e400');
  const segment = fc.oneof(
    fc.constantFrom(
      '..',
      '%2e%2e',
      '..%2f..%2fetc%2fpasswd',
      '%00',
      'a'.repeat(3000),
      '💥',
      'upload-url',
      'acl',
      'metadata',
      'complete',
      '*',
      'move',
      'copy',
      'batch-delete',
      'objects',
      'default',
      'fuzz-sentinel',
      'keep%2Fme.txt',
      '%C3%A9%CC%81',
    ),
    fc.string({ maxLength: 40 }).map(encodeURIComponent),
    hugeNumberText,
    bidiString.map(encodeURIComponent),
    fc.uuid(),
    fc.constant('SENTINEL'),
  );
  const anyJson = fc.jsonValue({ maxDepth: 3 });
  /** Arrays/objects 50 to 5,000 deep, sometimes wrapped in a valid-looking body. */
  const deepJson = fc
    .tuple(fc.integer({ min: 50, max: 5000 }), fc.constantFrom('[', '{"a":'), fc.boolean())
    .map(([depth, open, wrapped]) => {
      const inner = open.repeat(depth) + (open === '[' ? '' : '1') + (open === '[' ? ']' : '}').repeat(depth);
      return wrapped ? `{"filename":"a.txt","mimeType":"text/plain","sizeBytes":1,"metadata":${inner}}` : inner;
    });
  const hostileBody = fc.oneof(
    deepJson,
    fc
      .tuple(fc.constantFrom('sizeBytes', 'expiresInSeconds', 'maxBytes', 'maxAssets', 'partNumber'), hugeNumberText, fc.boolean())
      .map(
        ([key, n, quoted]) =>
          `{"filename":"a.txt","mimeType":"text/plain","${key}":${quoted ? JSON.stringify(n) : n},"parts":[{"partNumber":${n},"etag":"x"}],"partNumbers":[${n}]}`,
      ),
    fc
      .record({
        filename: bidiString,
        mimeType: fc.constant('text/plain'),
        sizeBytes: fc.constant(1),
        metadata: fc.dictionary(fc.constantFrom('a', 'b'), bidiString),
      })
      .map((v) => JSON.stringify(v)),
    anyJson.map((v) => JSON.stringify(v)),
    fc
      .record(
        {
          filename: fc.oneof(
            fc.string({ maxLength: 300 }),
            fc.constantFrom('../../etc/passwd', '..\\..\\boot.ini', 'a\u0000b', '\u202etxt.exe', 'ok.jpg'),
          ),
          mimeType: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom('image/jpeg', 'text/html; charset=utf-8', '../x', 'image/')),
          sizeBytes: fc.oneof(fc.integer(), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(-0), fc.string()),
          checksumSha256: fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFxyz'), maxLength: 70 }), fc.constant(null)),
          mode: fc.oneof(fc.constantFrom('put', 'post', 'multipart', ''), fc.integer()),
          acl: anyJson,
          metadata: anyJson,
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
    // Buckets, paths, move/copy and batch delete bodies.
    fc
      .record(
        {
          name: fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('fuzz-sentinel', 'default', 'a..b', 'UPPER', '-x-')),
          bucket: fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('fuzz-sentinel', 'fuzz-mine', 'default'), fc.integer()),
          path: fc.oneof(
            fc.string({ maxLength: 1100 }),
            fc.constantFrom('../x', '/abs', 'a//b', 'a\u0000b', 'keep/me.txt', 'é'.repeat(600), 'a/./b', 'cafe\u0301'),
            bidiString,
          ),
          paths: fc.oneof(fc.array(fc.string({ maxLength: 50 }), { maxLength: 20 }), anyJson),
          ids: fc.oneof(fc.array(fc.oneof(fc.uuid(), fc.constant('SENTINEL')), { maxLength: 20 }), anyJson),
          public: fc.oneof(fc.boolean(), fc.string({ maxLength: 5 })),
          allowedMimeTypes: fc.oneof(fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }), anyJson),
          fileSizeLimit: fc.oneof(fc.integer(), fc.double(), fc.constant(null), fc.string({ maxLength: 5 })),
          entries: anyJson,
          filename: fc.constant('f.txt'),
          mimeType: fc.constant('text/plain'),
          sizeBytes: fc.constant(1),
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v).replace('"SENTINEL"', JSON.stringify(sentinelId ?? 'x'))),
    fc.string({ maxLength: 200 }),
    fc.constant('{"filename":'),
    fc.constant('x'.repeat(64 * 1024)),
  );
  const contentType = fc.constantFrom(
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/json; charset=latin1',
    '',
  );
  const query = fc.dictionary(
    fc.constantFrom(
      'limit',
      'cursor',
      'status',
      'mimeType',
      'tag',
      'owner',
      'waitFor',
      'timeout',
      'redirect',
      'dryRun',
      'createdAfter',
      'offset',
      'prefix',
      'delimiter',
      'q',
      'force',
    ),
    fc.oneof(fc.string({ maxLength: 30 }), hugeNumberText, bidiString),
    { maxKeys: 4 },
  );

  it(`answers ${RUNS} random requests with a 2xx/3xx/4xx, and every 4xx names the problem`, async () => {
    const goodToken = token(1);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'),
        fc.array(segment, { minLength: 0, maxLength: 4 }),
        fc.constantFrom('media', 'asset', 'buckets', 'bucket', 'objects', 'sentinel-objects'),
        query,
        hostileBody,
        contentType,
        fc.constantFrom('good', 'none', 'garbage', 'expired', 'alg-none'),
        async (method, segs, anchor, q, body, ctype, auth) => {
          const base = {
            media: ['media'],
            asset: ['media', assetId],
            buckets: ['buckets'],
            bucket: ['buckets', 'fuzz-mine'],
            objects: ['buckets', 'fuzz-mine', 'objects'],
            'sentinel-objects': ['buckets', 'fuzz-sentinel', 'objects'],
          }[anchor];
          const url = new URL(`${app.baseUrl}/${[...base, ...segs].join('/').replace('SENTINEL', sentinelId)}`);
          for (const [k, v] of Object.entries(q)) url.searchParams.append(k, v);
          const headers: Record<string, string> = {};
          if (ctype) headers['content-type'] = ctype;
          if (auth === 'good') headers.authorization = `Bearer ${goodToken}`;
          if (auth === 'garbage') headers.authorization = 'Bearer not.a.jwt';
          if (auth === 'expired') headers.authorization = `Bearer ${jwt.sign({ sub: '1', exp: 1 }, JWT_SECRET, { algorithm: 'HS256' })}`;
          if (auth === 'alg-none')
            headers.authorization = `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"1"}').toString('base64url')}.`;
          const res = await fetch(url, {
            method,
            headers,
            body: method === 'GET' || method === 'HEAD' ? undefined : body,
            redirect: 'manual',
            signal: AbortSignal.timeout(10_000), // a hang is a failure, not a stuck suite
          });
          const text = await res.text();
          if (res.status >= 500) throw new Error(`${method} ${url.pathname} → ${res.status}: ${text.slice(0, 300)}`);
          if (res.status >= 400 && method !== 'HEAD') {
            const problem = JSON.parse(text);
            expect(problem.statusCode).toBe(res.status);
            expect(typeof problem.error).toBe('string');
            expect(problem.message.length).toBeGreaterThan(3);
          }
        },
      ),
      { numRuns: RUNS, interruptAfterTimeLimit: 90_000, endOnFailure: true },
    );
    // Nothing was written outside the storage root, and the healthy asset is still intact.
    const strays = readdirSync(os.tmpdir()).filter(
      (n) => !tmpBefore.has(n) && !n.startsWith('media-e2e-') && !n.startsWith('redis-e2e-') && !n.startsWith('s3rver'),
    );
    expect(strays.filter((n) => /passwd|boot\.ini/.test(n))).toEqual([]);
    for (const f of filesUnder(app.storageRoot)) expect(path.resolve(f).startsWith(path.resolve(app.storageRoot))).toBe(true);
    expect((await api(app.baseUrl, 2).get(`/media/${sentinelId}`)).status).toBe(200);
    expect((await api(app.baseUrl, 2).get(`/media/${sentinelPathId}`)).body).toMatchObject({
      bucket: 'fuzz-sentinel',
      path: 'keep/me.txt',
    });
    expect((await api(app.baseUrl, 2).get('/buckets/fuzz-sentinel')).body).toMatchObject({ public: false, allowedMimeTypes: null });
  }, 120_000);
});

describe('hardening', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '5' });
  });
  afterAll(() => app?.stop());

  it('rate-limits upload-url per principal with a 429 naming the limit', async () => {
    const a = api(app.baseUrl, 21);
    const body = { filename: 'a.txt', mimeType: 'text/plain', sizeBytes: 1 };
    for (let i = 0; i < 5; i++) expect((await a.post('/media/upload-url', body)).status).toBe(201);
    const limited = await a.post('/media/upload-url', body);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ statusCode: 429, error: 'RateLimited' });
    expect(limited.body.message).toMatch(/at most 5 per 60 s/);
    expect((await api(app.baseUrl, 22).post('/media/upload-url', body)).status).toBe(201);
  });

  it('sends security headers', async () => {
    const r = await fetch(`${app.baseUrl}/health/live`);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(r.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });

  it('pins the JWT algorithm: HS512, none and a public-key confusion attempt are refused', async () => {
    const c = api(app.baseUrl);
    const hs512 = jwt.sign({ sub: '21' }, JWT_SECRET, { algorithm: 'HS512' });
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"21"}').toString('base64url')}.`;
    for (const t of [hs512, none]) {
      const r = await c.post(
        '/media/upload-url',
        { filename: 'a', mimeType: 'text/plain', sizeBytes: 1 },
        { authorization: `Bearer ${t}` },
      );
      expect(r.status).toBe(401);
    }
  });

  it('refuses an oversized JSON body with 413', async () => {
    // Answered from Content-Length before the body is read (and the connection closed): send only its start, as
    // fetch may report the early answer as EPIPE while it is still writing the rest.
    const body = Buffer.from(JSON.stringify({ filename: 'x'.repeat(2 * 1024 * 1024) }));
    const headers = { authorization: `Bearer ${token(23)}`, 'content-type': 'application/json' };
    const r = await partialPost(`${app.baseUrl}/media/upload-url`, headers, body.subarray(0, 64 * 1024), body.length);
    expect(r.status).toBe(413);
    expect(r.body.error).toBe('PayloadTooLarge');
  });
});
