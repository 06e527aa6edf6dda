/**
 * CDN_PROVIDER=cloudfront against the real built service.
 *
 * CloudFront cannot run here. What we test instead:
 * - our CreateInvalidation client against a local HTTP server that speaks that CloudFront API call
 *   (test/support/cloudfront.ts), checking the requests it received: batching, retries, idempotency;
 * - our signed URLs by verifying their signature with the key pair's public key, as CloudFront does.
 */
import { generateKeyPairSync } from 'node:crypto';
import { api, Api, uploadBytes } from './support/api';
import { jpegWithExif } from './support/media-fixtures';
import { eventually, RunningApp, startApp } from './support/app-process';
import { FakeCloudFront, startFakeCloudFront, verifyCloudFrontSignedUrl } from './support/cloudfront';
import { pendingJobs, QUEUES, waitForOutboxDrained, waitForQueuesIdle, withRedis } from './support/waits';

jest.setTimeout(60_000);

const CDN = 'https://d111111abcdef8.cloudfront.net';
const DISTRIBUTION = 'EDFDVBD6EXAMPLE';
const KEY_PAIR = 'K2JCJMDEHXQW5F';

describe('CloudFront delivery', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let cloudfront: FakeCloudFront;
  let app: RunningApp;
  let alice: Api;

  const keyOf = async (id: string) => (await app.sql(`SELECT object_key, cdn_url FROM media_assets WHERE asset_id = $1`, [id]))[0];
  /** Paths collected for the next invalidation batch (the service's Redis set, emptied by each flush). */
  const pendingPaths = () => withRedis(app, (redis) => redis.smembers(`${app.env.REDIS_KEY_PREFIX}:cdn:invalidation:pending`));

  async function readyAsset(text: string, filename: string) {
    const up = await uploadBytes(alice, Buffer.from(text), { mimeType: 'text/plain', filename });
    await alice.post(`/media/${up.assetId}/complete`);
    await eventually(async () => (await alice.get(`/media/${up.assetId}`)).body?.status === 'ready', 30000);
    return up.assetId;
  }

  beforeAll(async () => {
    cloudfront = await startFakeCloudFront();
    app = await startApp({
      CDN_PROVIDER: 'cloudfront',
      CDN_BASE_URL: CDN,
      CDN_SIGNED_URL_TTL_SECONDS: '120',
      CLOUDFRONT_DISTRIBUTION_ID: DISTRIBUTION,
      CLOUDFRONT_KEY_PAIR_ID: KEY_PAIR,
      // As a Secret or env file often carries it: one line with \n escapes.
      CLOUDFRONT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().replace(/\n/g, '\\n'),
      CLOUDFRONT_ENDPOINT: cloudfront.endpoint,
      CLOUDFRONT_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      CLOUDFRONT_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      CDN_INVALIDATION_BATCH_MS: '1500',
      CDN_INVALIDATION_BACKOFF_MS: '100',
    });
    alice = api(app.baseUrl, 81);
  });
  afterAll(async () => {
    await app?.stop();
    await cloudfront?.stop();
  });

  it('records the CDN URL when an asset becomes ready and links downloads to CloudFront signed URLs', async () => {
    const id = await readyAsset('served by the CDN', 'Sommer café.txt');
    const { object_key: key, cdn_url: cdnUrl } = await keyOf(id);
    expect(cdnUrl).toBe(`${CDN}/${key}`);

    const link = await alice.get(`/media/${id}/download?redirect=false`);
    expect(link.status).toBe(200);
    const url = new URL(link.body.url);
    expect(url.origin).toBe(CDN);
    expect(url.pathname).toBe(`/${key}`);
    expect(url.searchParams.get('response-content-disposition')).toContain(`filename*=UTF-8''Sommer%20caf%C3%A9.txt`);
    expect(url.searchParams.get('response-content-type')).toBe('text/plain');

    const v = verifyCloudFrontSignedUrl(link.body.url, publicPem);
    expect(v.valid).toBe(true);
    expect(v.keyPairId).toBe(KEY_PAIR);
    const now = Date.now() / 1000;
    expect(v.expires).toBeGreaterThan(now + 100);
    expect(v.expires).toBeLessThanOrEqual(now + 121);
    expect(Math.abs(Date.parse(link.body.expiresAt) / 1000 - v.expires)).toBeLessThanOrEqual(1);

    // Altered in any way, the signature no longer verifies (CloudFront would answer 403).
    expect(verifyCloudFrontSignedUrl(link.body.url.replace(`/${key}`, `/${key}x`), publicPem).valid).toBe(false);
    expect(verifyCloudFrontSignedUrl(link.body.url.replace(/Expires=\d+/, `Expires=${v.expires + 86400}`), publicPem).valid).toBe(false);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyCloudFrontSignedUrl(link.body.url, other).valid).toBe(false);

    const redirect = await alice.get(`/media/${id}/download`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')!.startsWith(`${CDN}/${key}?`)).toBe(true);
  });

  it('gives public assets (a `*` read grant) the plain CDN URL', async () => {
    const id = await readyAsset('for everyone', 'public.txt');
    const { object_key: key } = await keyOf(id);
    expect((await alice.post(`/media/${id}/acl`, { principal: '*', permission: 'read' })).status).toBe(200);
    const anonymous = await api(app.baseUrl).get(`/media/${id}/download?redirect=false`);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.url).toBe(`${CDN}/${key}`);
  });

  it('sends one batched CloudFront invalidation for deletes, retried until CloudFront accepts it', async () => {
    const a = await readyAsset('first to delete', 'a.txt');
    const b = await readyAsset('second to delete', 'b.txt');
    const keys = [(await keyOf(a)).object_key, (await keyOf(b)).object_key];
    const seen = cloudfront.received.length;
    // The SDK tries 3 times per job attempt: the first job attempt fails, Bull retries it with backoff.
    cloudfront.failNext(3);
    expect((await alice.del(`/media/${a}`)).status).toBe(204);
    expect((await alice.del(`/media/${b}`)).status).toBe(204);

    const accepted = await eventually(async () => cloudfront.received.slice(seen).find((r) => r.status === 201), 20000);
    const attempts = cloudfront.received.slice(seen);
    expect(attempts.filter((r) => r.status === 503)).toHaveLength(3);
    expect(accepted.distributionId).toBe(DISTRIBUTION);
    expect(accepted.paths.sort()).toEqual(keys.map((k) => `/${k}`).sort());
    // Every attempt carried the same batch under the same CallerReference (idempotent on CloudFront's side).
    expect(new Set(attempts.map((r) => r.callerReference)).size).toBe(1);
    expect(new Set(attempts.map((r) => r.paths.sort().join(','))).size).toBe(1);
    // SigV4-signed for the CloudFront API (global service, us-east-1).
    expect(accepted.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/cloudfront\/aws4_request/);

    // The flush job done (its retries included) and nothing else requested: no second invalidation can come.
    await waitForQueuesIdle(app, [QUEUES.cdn]);
    expect(cloudfront.received.slice(seen).filter((r) => r.status === 201)).toHaveLength(1);
    expect(await pendingPaths()).toEqual([]);
  });

  it('invalidates a public asset when its public read is withdrawn (revoke or replace), not when another grant changes', async () => {
    const a = await readyAsset('public, then private', 'withdrawn.txt');
    const b = await readyAsset('public, then replaced', 'replaced.txt');
    const keyA = (await keyOf(a)).object_key;
    const keyB = (await keyOf(b)).object_key;
    for (const id of [a, b]) expect((await alice.post(`/media/${id}/acl`, { principal: '*', permission: 'read' })).status).toBe(200);
    await waitForQueuesIdle(app, [QUEUES.cdn]);
    const seen = cloudfront.received.length;

    // A change that keeps public read sends nothing: once its follow-ups are relayed, no path and no flush job wait.
    expect((await alice.post(`/media/${a}/acl`, { principal: 'user:99', permission: 'read' })).status).toBe(200);
    await waitForOutboxDrained(app);
    expect(await pendingPaths()).toEqual([]);
    expect(await pendingJobs(app, QUEUES.cdn)).toEqual([]);
    // Revoking `*` read, and replacing the list with one without it, both withdraw public read.
    expect((await alice.del(`/media/${a}/acl/*/read`)).status).toBe(204);
    expect((await alice.put(`/media/${b}/acl`, { entries: [{ principal: 'user:99', permission: 'read' }] })).status).toBe(200);

    const accepted = await eventually(async () => cloudfront.received.slice(seen).find((r) => r.status === 201), 20000);
    expect(accepted.paths.sort()).toEqual([`/${keyA}`, `/${keyB}`].sort());
    // Anonymous callers lose access at once.
    expect((await api(app.baseUrl).get(`/media/${a}/download?redirect=false`)).status).toBe(401);
  });

  it('links thumbnails through CloudFront too, and invalidates them when the asset is deleted', async () => {
    const up = await uploadBytes(alice, await jpegWithExif(320, 240), { mimeType: 'image/jpeg', filename: 'thumb.jpg' });
    await alice.post(`/media/${up.assetId}/complete`);
    await eventually(async () => (await alice.get(`/media/${up.assetId}`)).body?.status === 'ready', 30000);
    const link = await alice.get(`/media/${up.assetId}/thumbnail?redirect=false`);
    expect(link.status).toBe(200);
    const url = new URL(link.body.url);
    expect(url.origin).toBe(CDN);
    expect(verifyCloudFrontSignedUrl(link.body.url, publicPem).valid).toBe(true);

    const seen = cloudfront.received.length;
    expect((await alice.del(`/media/${up.assetId}`)).status).toBe(204);
    const accepted = await eventually(
      async () => cloudfront.received.slice(seen).find((r) => r.status === 201 && r.paths.includes(url.pathname)),
      20000,
    );
    expect(accepted.paths).toContain(url.pathname);
  });
});
