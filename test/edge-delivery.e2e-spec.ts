/**
 * CDN_PROVIDER=none: the service is the edge. Its signed read URLs (local storage) are served with a strong
 * ETag, Last-Modified, Cache-Control (immutable for content-addressed URLs, private for access-controlled
 * ones), conditional requests and Range, and refuse any tampering, so the same URL can sit behind any CDN
 * that forwards the query string. Also: two local regions, served under their own URL prefixes.
 */
import { rm } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalStorageDriver } from '@app/storage';
import { api, Api, sha256, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { asAdmin } from './support/health';

jest.setTimeout(60_000);

const SIGNING_SECRET = 'edge-delivery-signing-secret-0123456789abcdef';

async function readyAsset(client: Api, bytes: Buffer, mimeType = 'application/octet-stream') {
  const up = await uploadBytes(client, bytes, { mimeType, filename: 'edge.bin' });
  expect(up.putStatus).toBe(200);
  await client.post(`/media/${up.assetId}/complete`);
  await eventually(async () => (await client.get(`/media/${up.assetId}`)).body?.status === 'ready', 30000);
  return up.assetId;
}

describe('the service as the edge (CDN_PROVIDER=none, local storage)', () => {
  let app: RunningApp;
  let alice: Api;
  let url: string;
  let key: string;
  let signer: LocalStorageDriver;
  const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));

  beforeAll(async () => {
    app = await startApp({ STORAGE_SIGNING_SECRET: SIGNING_SECRET, DOWNLOAD_URL_TTL_SECONDS: '300' });
    alice = api(app.baseUrl, 71);
    const id = await readyAsset(alice, bytes);
    const link = await alice.get(`/media/${id}/download?redirect=false`);
    expect(link.status).toBe(200);
    url = link.body.url;
    key = (await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [id]))[0].object_key;
    signer = new LocalStorageDriver({ root: app.storageRoot, bucket: 'media', baseUrl: app.baseUrl, signingSecret: SIGNING_SECRET });
  });
  afterAll(() => app?.stop());

  it('serves the bytes with a strong ETag, Last-Modified and immutable private caching for the content-addressed link', async () => {
    expect(new URL(url).searchParams.get('X-Media-Sha256')).toBe(sha256(bytes));
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    expect(res.headers.get('etag')).toBe(`"${sha256(bytes)}"`);
    expect(new Date(res.headers.get('last-modified')!).getTime()).toBeGreaterThan(Date.now() - 120_000);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    const cc = res.headers.get('cache-control')!;
    expect(cc).toMatch(/^private, max-age=(\d+), immutable$/);
    const maxAge = Number(/max-age=(\d+)/.exec(cc)![1]);
    expect(maxAge).toBeGreaterThan(250);
    expect(maxAge).toBeLessThanOrEqual(300);

    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it('answers conditional requests: If-None-Match and If-Modified-Since give 304 with the validators', async () => {
    const first = await fetch(url);
    await first.arrayBuffer();
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;

    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const r = await fetch(url, { headers: { 'if-none-match': inm } });
      expect(r.status).toBe(304);
      expect(r.headers.get('etag')).toBe(etag);
      expect(r.headers.get('cache-control')).toMatch(/immutable/);
      expect((await r.arrayBuffer()).byteLength).toBe(0);
    }
    expect((await fetch(url, { headers: { 'if-none-match': '"something-else"' } })).status).toBe(200);

    expect((await fetch(url, { headers: { 'if-modified-since': lastModified } })).status).toBe(304);
    expect((await fetch(url, { headers: { 'if-modified-since': new Date(Date.parse(lastModified) - 60_000).toUTCString() } })).status).toBe(
      200,
    );
    // If-None-Match wins over If-Modified-Since (RFC 9110).
    expect((await fetch(url, { headers: { 'if-none-match': '"other"', 'if-modified-since': lastModified } })).status).toBe(200);
  });

  it('serves ranges, honours If-Range, and answers 416 in the problem shape', async () => {
    const r = await fetch(url, { headers: { range: 'bytes=100-199' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 100-199/${bytes.length}`);
    expect(Buffer.from(await r.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);

    const suffix = await fetch(url, { headers: { range: 'bytes=-10' } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(bytes.subarray(bytes.length - 10))).toBe(true);

    const etag = `"${sha256(bytes)}"`;
    expect((await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': etag } })).status).toBe(206);
    const stale = await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } });
    expect(stale.status).toBe(200);
    expect(Buffer.from(await stale.arrayBuffer()).length).toBe(bytes.length);

    const bad = await fetch(url, { headers: { range: `bytes=${bytes.length}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    expect(await bad.json()).toMatchObject({ statusCode: 416, error: expect.any(String), message: expect.any(String) });
  });

  it('links public assets (a `*` read grant) for shared caches', async () => {
    const id = await readyAsset(alice, Buffer.from('public bytes'), 'text/plain');
    expect((await alice.post(`/media/${id}/acl`, { principal: '*', permission: 'read' })).status).toBe(200);
    const link = await api(app.baseUrl).get(`/media/${id}/download?redirect=false`);
    expect(link.status).toBe(200);
    const r = await fetch(link.body.url);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toMatch(/^public, max-age=\d+, immutable$/);
    // The owner's own (authenticated) link stays private.
    const own = await alice.get(`/media/${id}/download?redirect=false`);
    expect((await fetch(own.body.url)).headers.get('cache-control')).toMatch(/^private, /);
  });

  it('refuses every tampered link with 403 in the problem shape, never cacheable', async () => {
    const u = new URL(url);
    const tampered: Record<string, string> = {};
    const withParam = (name: string, value: string | null) => {
      const t = new URL(u);
      if (value === null) t.searchParams.delete(name);
      else t.searchParams.set(name, value);
      return t.toString();
    };
    const sig = u.searchParams.get('X-Media-Signature')!;
    tampered['another key'] = url.replace(encodeURI(key).split('/').pop()!, '00000000-0000-4000-8000-000000000000');
    tampered['later expiry'] = withParam('X-Media-Expires', String(Number(u.searchParams.get('X-Media-Expires')) + 3600));
    tampered['other content hash'] = withParam('X-Media-Sha256', sha256('other bytes'));
    tampered['content hash removed'] = withParam('X-Media-Sha256', null);
    tampered['made public'] = withParam('X-Media-Cache', 'public');
    tampered['other filename'] = withParam('X-Media-Filename', 'evil.html');
    tampered['other type'] = withParam('X-Media-Type', 'text/html');
    tampered['one signature digit changed'] = withParam('X-Media-Signature', sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0'));
    tampered['signature truncated'] = withParam('X-Media-Signature', sig.slice(0, 10));
    tampered['signed for PUT'] = withParam('X-Media-Method', 'PUT');
    for (const [what, t] of Object.entries(tampered)) {
      const r = await fetch(t);
      expect({ what, status: r.status }).toEqual({ what, status: 403 });
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(await r.json()).toEqual({ statusCode: 403, error: 'SignatureDoesNotMatch', message: expect.any(String) });
    }
  });

  it('refuses an expired link', async () => {
    const short = await signer.presignGet({ key, expiresInSeconds: 1, contentSha256: sha256(bytes) });
    const expiresAtMs = Number(new URL(short).searchParams.get('X-Media-Expires')) * 1000;
    expect((await fetch(short)).status).toBe(200);
    // Asked again until it is refused: the refusal comes, and never before the expiry the link names.
    const r = await eventually(async () => {
      const res = await fetch(short);
      if (res.status === 200) {
        await res.arrayBuffer();
        return null;
      }
      return { res, at: Date.now() };
    }, 10000);
    expect(r.at).toBeGreaterThanOrEqual(expiresAtMs);
    expect(r.res.status).toBe(403);
    expect(await r.res.json()).toMatchObject({ statusCode: 403, error: 'AccessDenied', message: 'The signed URL has expired' });
  });

  it('lets shared caches keep public links, and a content-addressed link never serves other bytes', async () => {
    const pub = await signer.presignGet({ key, expiresInSeconds: 3600, contentSha256: sha256(bytes), cacheScope: 'public' });
    const r = await fetch(pub);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toMatch(/^public, max-age=\d+, immutable$/);

    const plain = await signer.presignGet({ key, expiresInSeconds: 60 });
    expect((await fetch(plain)).headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);

    // Different bytes under the same key (an operator restoring the wrong file): the hash-bound link refuses.
    const other = Buffer.from('replaced');
    await signer.write({ key, body: Readable.from([other]), contentType: 'application/octet-stream', contentLength: other.length });
    const refused = await fetch(pub);
    expect(refused.status).toBe(404);
    expect(Buffer.from(await (await fetch(plain)).arrayBuffer()).equals(other)).toBe(true);
  });
});

describe('two local regions', () => {
  let app: RunningApp;
  let alice: Api;
  const rootB = mkdtempSync(join(tmpdir(), 'media-region-b-'));

  beforeAll(async () => {
    app = await startApp({
      STORAGE_REGIONS: JSON.stringify([{ name: 'a' }, { name: 'b', root: rootB }]),
      STORAGE_HEALTH_CHECK_INTERVAL_MS: '300',
      REPLICATION_CATCHUP_INTERVAL_MS: '1000',
      REPLICATION_BACKOFF_MS: '200',
    });
    alice = api(app.baseUrl, 72);
  });
  afterAll(async () => {
    await app?.stop();
    await rm(rootB, { recursive: true, force: true });
  });

  it('replicates to the second root and serves from its own prefix once the first region is gone', async () => {
    const bytes = Buffer.from('kept in two local regions');
    const id = await readyAsset(alice, bytes, 'text/plain');
    const key: string = (await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [id]))[0].object_key;
    const inB = new LocalStorageDriver({ root: rootB, bucket: 'media', baseUrl: app.baseUrl, signingSecret: 'x'.repeat(32) });
    await eventually(async () => (await inB.head(key)) !== null, 20000);

    const fromA = (await alice.get(`/media/${id}/download?redirect=false`)).body.url as string;
    expect(new URL(fromA).pathname.startsWith('/storage/media/')).toBe(true);

    // Region a's disk disappears: its health check fails and reads move to region b.
    await rm(app.storageRoot, { recursive: true, force: true });
    await eventually(
      async () => ((await (await fetch(`${app.baseUrl}/health/regions`, asAdmin())).json()) as any).regions[0].state === 'down',
      10000,
    );
    const fromB = (await alice.get(`/media/${id}/download?redirect=false`)).body.url as string;
    expect(new URL(fromB).pathname.startsWith('/storage/r/b/media/')).toBe(true);
    const res = await fetch(fromB);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });
});
