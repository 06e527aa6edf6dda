/**
 * The hot-metadata cache end to end: reads go through Redis, every kind of change invalidates the entry before
 * it returns (with a TTL of an hour, anything fresh below is fresh because of invalidation), hit/miss counters,
 * and Redis stopped mid-test (a dedicated redis-server; the machine's own Redis is never touched): reads fall
 * back to PostgreSQL, nothing answers 500, and an ACL revoked while Redis was down is never served stale
 * afterwards, although Redis comes back with the old entry.
 */
import Redis from 'ioredis';
import { api, Api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp, startReplica } from './support/app-process';
import { asAdmin } from './support/health';
import { readyAsset, userKeys } from './support/assets';
import { png } from './support/media-fixtures';
import { DedicatedRedis, startDedicatedRedis } from './support/redis-server';

const stats = async (admin: Api) => (await admin.get('/admin/cache/stats')).body;

describe('hot-metadata cache', () => {
  let app: RunningApp;
  let alice: Api;
  let bob: Api;
  let admin: Api;

  beforeAll(async () => {
    app = await startApp({ CACHE_TTL_SECONDS: '3600' });
    alice = api(app.baseUrl, 70);
    bob = api(app.baseUrl, 71, { groups: ['crew'] });
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
  });
  afterAll(() => app?.stop());

  it('serves GET /media/{id} from Redis, counting hits and misses', async () => {
    const id = await readyAsset(alice, 'cached');
    await alice.get(`/media/${id}`);
    const before = await stats(admin);
    for (let i = 0; i < 5; i++) expect((await alice.get(`/media/${id}`)).status).toBe(200);
    const after = await stats(admin);
    expect(after.hits - before.hits).toBeGreaterThanOrEqual(15); // record (guard + view), acl and metadata per request
    expect(after.misses).toBe(before.misses);
    expect(after).toMatchObject({ ttlSeconds: 3600, errors: 0, bypassed: 0 });
    expect(after.hitRatio).toBeGreaterThan(0);
    // A change made behind the service's back is not seen: the answer comes from the cache.
    await app.sql(`UPDATE media_assets SET filename = 'changed-behind-its-back' WHERE asset_id = $1`, [id]);
    expect((await alice.get(`/media/${id}`)).body.filename).toBe('file.txt');
    // The counters are for operators only.
    expect((await alice.get('/admin/cache/stats')).status).toBe(403);
  });

  it('invalidates on every status transition (pending → processing → ready, and → failed)', async () => {
    const up = await uploadBytes(alice, await png(), { filename: 'p.png', mimeType: 'image/png' });
    expect((await alice.get(`/media/${up.assetId}`)).body.status).toBe('pending');
    expect((await alice.get(`/media/${up.assetId}`)).body.status).toBe('pending'); // now cached
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    expect(['processing', 'ready']).toContain((await alice.get(`/media/${up.assetId}`)).body.status);
    const ready = await eventually(async () => {
      const r = await alice.get(`/media/${up.assetId}`);
      return r.body.status === 'ready' ? r.body : undefined;
    });
    expect(ready.metadata['media:width']).toBe('16'); // extracted metadata is part of the same invalidation

    const bad = await uploadBytes(alice, Buffer.from('not a png'), { mimeType: 'image/png' });
    await alice.get(`/media/${bad.assetId}`);
    await alice.post(`/media/${bad.assetId}/complete`);
    const failed = await eventually(async () => {
      const r = await alice.get(`/media/${bad.assetId}`);
      return r.body.status === 'failed' ? r.body : undefined;
    });
    expect(failed.failureReason).toMatch(/not a recognisable image/);
  });

  it('invalidates on metadata changes', async () => {
    const id = await readyAsset(alice, 'metadata');
    expect(userKeys((await alice.get(`/media/${id}`)).body.metadata)).toEqual({});
    expect(userKeys((await alice.get(`/media/${id}/metadata`)).body.metadata)).toEqual({});
    await alice.put(`/media/${id}/metadata/colour`, { value: 'blue' });
    expect(userKeys((await alice.get(`/media/${id}`)).body.metadata)).toEqual({ colour: 'blue' });
    expect(userKeys((await alice.get(`/media/${id}/metadata`)).body.metadata)).toEqual({ colour: 'blue' });
    await alice.put(`/media/${id}/metadata/colour`, { value: 'red' });
    expect(userKeys((await alice.get(`/media/${id}`)).body.metadata)).toEqual({ colour: 'red' });
    await alice.del(`/media/${id}/metadata/colour`);
    expect(userKeys((await alice.get(`/media/${id}`)).body.metadata)).toEqual({});
    expect(userKeys((await alice.get(`/media/${id}/metadata`)).body.metadata)).toEqual({});
  });

  it('invalidates on ACL changes: grant, revoke and replace take effect on the next request', async () => {
    const id = await readyAsset(alice, 'acl');
    expect((await bob.get(`/media/${id}`)).status).toBe(404); // the empty ACL is cached now
    await alice.post(`/media/${id}/acl`, { principal: 'user:71', permission: 'read' });
    expect((await bob.get(`/media/${id}`)).status).toBe(200);
    expect((await bob.get(`/media/${id}`)).status).toBe(200);
    await alice.del(`/media/${id}/acl/user:71/read`);
    expect((await bob.get(`/media/${id}`)).status).toBe(404);
    await alice.put(`/media/${id}/acl`, {
      entries: [
        { principal: 'group:crew', permission: 'read' },
        { principal: 'group:crew', permission: 'delete' },
      ],
    });
    expect((await bob.get(`/media/${id}`)).status).toBe(200);
    await alice.put(`/media/${id}/acl`, { entries: [{ principal: 'group:crew', permission: 'read' }] });
    expect((await bob.del(`/media/${id}`)).status).toBe(403);
    await alice.put(`/media/${id}/acl`, { entries: [] });
    expect((await bob.get(`/media/${id}`)).status).toBe(404);
  });

  it('invalidates on delete', async () => {
    const id = await readyAsset(alice, 'deleted soon');
    await alice.post(`/media/${id}/acl`, { principal: 'user:71', permission: 'read' });
    expect((await bob.get(`/media/${id}`)).status).toBe(200);
    expect((await alice.get(`/media/${id}`)).status).toBe(200);
    expect((await alice.del(`/media/${id}`)).status).toBe(204);
    expect((await alice.get(`/media/${id}`)).status).toBe(404);
    expect((await bob.get(`/media/${id}`)).status).toBe(404);
    expect((await alice.get(`/media/${id}/download`)).status).toBe(404);
  });
});

describe('hot-metadata cache with Redis stopped mid-test', () => {
  let redis: DedicatedRedis;
  let app: RunningApp;
  let probe: Redis;
  const TTL = 6;

  beforeAll(async () => {
    redis = await startDedicatedRedis();
    app = await startApp({ REDIS_URL: redis.url, CACHE_TTL_SECONDS: String(TTL) });
    probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    probe.on('error', () => undefined);
  });
  afterAll(async () => {
    probe?.disconnect();
    await app?.stop();
    await redis?.destroy();
  });

  it('falls back to PostgreSQL without a 500, and never serves an ACL revoked while Redis was down', async () => {
    const alice = api(app.baseUrl, 80);
    const bob = api(app.baseUrl, 81);
    const admin = api(app.baseUrl, 1, { roles: ['admin'] });
    const id = await readyAsset(alice, 'survives redis');
    await alice.post(`/media/${id}/acl`, { principal: 'user:81', permission: 'read' });
    expect((await bob.get(`/media/${id}`)).status).toBe(200); // bob's grant is now in the cache
    const aclKey = `${app.env.REDIS_KEY_PREFIX}:cache:{${id}}:acl`;
    expect(JSON.parse((await probe.get(aclKey))!)).toEqual([{ principal: 'user:81', permission: 'read' }]);

    await redis.stop();
    const seen: number[] = [];
    const call = async (p: ReturnType<Api['get']>) => {
      const r = await p;
      seen.push(r.status);
      return r;
    };
    expect((await call(alice.get(`/media/${id}`))).status).toBe(200);
    expect((await call(bob.get(`/media/${id}`))).status).toBe(200);
    expect((await call(alice.del(`/media/${id}/acl/user:81/read`))).status).toBe(204);
    expect((await call(bob.get(`/media/${id}`))).status).toBe(404);
    expect((await call(alice.put(`/media/${id}/metadata/during`, { value: 'outage' }))).status).toBe(200);
    expect(userKeys((await call(alice.get(`/media/${id}`))).body.metadata)).toEqual({ during: 'outage' });
    expect((await call(alice.get(`/media/${id}/download`))).status).toBe(302);
    expect((await call(alice.get('/media'))).body.items).toHaveLength(1);
    expect((await call(alice.post('/media/upload-url', { filename: 'x.txt', mimeType: 'text/plain', sizeBytes: 2 }))).status).toBe(201);
    const ready = await fetch(`${app.baseUrl}/health/ready`, asAdmin());
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as any).details.redis.status).toBe('down');
    expect(seen.every((s) => s < 500)).toBe(true);
    const during = await stats(admin);
    expect(during.errors).toBeGreaterThan(0);
    expect(during.deferredInvalidations).toBeGreaterThanOrEqual(2); // the revoke and the metadata change

    // Redis comes back WITH the entry written before the outage (append-only file): bob's old grant.
    await redis.start();
    const restartedAt = Date.now();
    // Until the stale entry is invalidated (outbox retry) and the bypass window ends, bob must never get in.
    await eventually(
      async () => {
        expect((await bob.get(`/media/${id}`)).status).toBe(404);
        return (await probe.exists(aclKey)) === 0;
      },
      30000,
      100,
    );
    // Once the window has passed, the cache is used again: hits grow, and answers are right.
    await eventually(
      async () => {
        expect((await bob.get(`/media/${id}`)).status).toBe(404);
        const before = (await stats(admin)).hits;
        await alice.get(`/media/${id}`);
        await alice.get(`/media/${id}`);
        return (await stats(admin)).hits > before;
      },
      (TTL + 20) * 1000,
      250,
    );
    expect(Date.now() - restartedAt).toBeGreaterThan(0);
    expect(userKeys((await alice.get(`/media/${id}`)).body.metadata)).toEqual({ during: 'outage' });
    await eventually(async () => (await fetch(`${app.baseUrl}/health/ready`)).status === 200, 10000);
  }, 60000);
});

describe('hot-metadata cache across two replicas (in-memory layer invalidated through Redis pub/sub)', () => {
  let a: RunningApp;
  let b: RunningApp;

  beforeAll(async () => {
    // An hour in memory: only the pub/sub notification can make replica B see a change made through replica A.
    const env = { CACHE_TTL_SECONDS: '3600', CACHE_LOCAL_TTL_MS: '3600000' };
    a = await startApp(env);
    b = await startReplica(a, env);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('a change made on one replica is seen by the other on its next request', async () => {
    const aliceA = api(a.baseUrl, 60);
    const bobB = api(b.baseUrl, 61);
    const adminB = api(b.baseUrl, 1, { roles: ['admin'] });
    const id = await readyAsset(aliceA, 'two replicas');
    await aliceA.post(`/media/${id}/acl`, { principal: 'user:61', permission: 'read' });
    // B reads it twice: the second answer comes from B's memory.
    expect((await bobB.get(`/media/${id}`)).status).toBe(200);
    const before = await stats(adminB);
    expect((await bobB.get(`/media/${id}`)).status).toBe(200);
    expect((await stats(adminB)).localHits).toBeGreaterThan(before.localHits);
    // A change behind the service's back stays unseen (the answer really is cached)...
    await a.sql(`UPDATE media_assets SET filename = 'behind-its-back' WHERE asset_id = $1`, [id]);
    expect((await bobB.get(`/media/${id}`)).body.filename).toBe('file.txt');

    // ...but changes through replica A reach B at once: metadata, then the revoked grant.
    expect((await aliceA.put(`/media/${id}/metadata/colour`, { value: 'blue' })).status).toBe(200);
    const seen = await eventually(
      async () => {
        const r = await bobB.get(`/media/${id}`);
        return r.body.metadata?.colour === 'blue' ? r.body : undefined;
      },
      2000,
      20,
    );
    expect(seen.filename).toBe('behind-its-back'); // reloaded from Postgres
    expect((await bobB.get(`/media/${id}`)).status).toBe(200);
    expect((await aliceA.del(`/media/${id}/acl/user:61/read`)).status).toBe(204);
    const revokedAt = Date.now();
    await eventually(async () => (await bobB.get(`/media/${id}`)).status === 404, 2000, 20);
    expect(Date.now() - revokedAt).toBeLessThan(2000);
    // Deleted on A: gone on B.
    const aliceB = api(b.baseUrl, 60);
    expect((await aliceB.get(`/media/${id}`)).status).toBe(200);
    expect((await aliceA.del(`/media/${id}`)).status).toBe(204);
    await eventually(async () => (await aliceB.get(`/media/${id}`)).status === 404, 2000, 20);
  });
});
