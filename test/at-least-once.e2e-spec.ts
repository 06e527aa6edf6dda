/**
 * At-least-once processing without loss: a worker SIGKILLed mid-batch, dead letters and their retry, the
 * reconciliation sweep (uploads never completed, jobs lost from Redis). Real PostgreSQL, Redis, clamd.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { api, Api, uploadBytes } from './support/api';
import { filesUnder } from './support/files';
import { eventually, RunningApp, startApp } from './support/app-process';
import { RunningClamd, startClamd } from './support/clamd';

// The e2e project's testTimeout is not applied per project by jest; bound every test and hook here.
jest.setTimeout(60000);

async function inBatches<T, R>(items: T[], size: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map((x, j) => fn(x, i + j)))));
  return out;
}

const countByStatus = async (app: RunningApp, ids: string[]) => {
  const rows = await app.sql<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM media_assets WHERE asset_id = ANY($1) GROUP BY status`,
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
};

describe('a worker killed (SIGKILL) while processing 100 uploads', () => {
  let clamd: RunningClamd;
  let app: RunningApp;

  beforeAll(async () => {
    clamd = await startClamd();
    // A short lock so that the restarted worker notices the killed one's jobs quickly (default 30 s).
    app = await startApp({ ...clamd.env, PROCESSING_CONCURRENCY: '2', PROCESSING_LOCK_DURATION_MS: '2000' });
  }, 150000);
  afterAll(async () => {
    await app?.stop();
    await clamd?.destroy();
  });

  it('ends with all 100 ready after a restart, each stored exactly once', async () => {
    const c = api(app.baseUrl, 7);
    const files = Array.from({ length: 100 }, () => randomBytes(192 * 1024));
    const ids = await inBatches(files, 10, async (bytes, i) => {
      const up = await uploadBytes(c, bytes, { filename: `f${i}.bin`, mimeType: 'application/octet-stream', checksum: i % 2 === 0 });
      expect(up.putStatus).toBe(200);
      return up.assetId;
    });
    await inBatches(ids, 20, async (id) => expect((await c.post(`/media/${id}/complete`)).status).toBe(202));

    await eventually(async () => ((await countByStatus(app, ids)).ready ?? 0) >= 10, 30000, 20);
    await app.stopProcess('SIGKILL');
    const atKill = await countByStatus(app, ids);
    expect(atKill.ready ?? 0).toBeLessThan(100); // it really died mid-batch
    expect(atKill.processing).toBeGreaterThan(0);

    await app.restart();
    await eventually(async () => (await countByStatus(app, ids)).ready === 100, 90000, 250);

    // Each asset → its own stored object, counted once; one file per object; no upload or stray copy left.
    const objects = await app.sql(`SELECT o.checksum_sha256, o.ref_count, o.object_key FROM stored_objects o`);
    expect(objects).toHaveLength(100);
    expect(objects.every((o) => o.ref_count === 1)).toBe(true);
    const linked = await app.sql(`SELECT count(DISTINCT stored_object_sha256)::int AS n FROM media_assets WHERE asset_id = ANY($1)`, [ids]);
    expect(linked[0].n).toBe(100);
    const bucket = path.join(app.storageRoot, 'media');
    await eventually(async () => filesUnder(path.join(bucket, 'uploads')).length === 0, 20000);
    expect(filesUnder(path.join(bucket, 'objects')).sort()).toEqual(objects.map((o) => path.join(bucket, o.object_key)).sort());
    await eventually(async () => (await app.sql(`SELECT count(*)::int AS n FROM outbox`))[0].n === 0, 20000);
  }, 180000);
});

describe('dead letters and the reconciliation sweep', () => {
  let app: RunningApp;
  let alice: Api;
  let admin: Api;

  beforeAll(async () => {
    app = await startApp({
      PROCESSING_ATTEMPTS: '3',
      PROCESSING_BACKOFF_MS: '100',
      PROCESSING_BACKOFF_MAX_MS: '200',
      RECONCILE_INTERVAL_MS: '1000',
      RECONCILE_PENDING_AFTER_MS: '1500',
    });
    alice = api(app.baseUrl, 42);
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
  });
  afterAll(() => app?.stop());

  it('dead-letters a job that always throws (its object unreadable), lists it, and retries it once fixed', async () => {
    const bytes = Buffer.from('bytes that storage will fail to read');
    const up = await uploadBytes(alice, bytes, { filename: 'broken.txt', mimeType: 'text/plain' });
    const [{ object_key: key }] = await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [up.assetId]);
    // Storage breaks: the object's file becomes a directory, so every read fails with EISDIR.
    const file = path.join(app.storageRoot, 'media', key);
    rmSync(file);
    mkdirSync(file);
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);

    const failed = (await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=20`)).body;
    expect(failed.status).toBe('failed');
    expect(failed.failureReason).toBe('processing failed after 3 attempts: the stored object could not be read; an operator can retry it');

    expect((await alice.get('/admin/dead-letters')).status).toBe(403);
    const list = await admin.get('/admin/dead-letters');
    expect(list.status).toBe(200);
    const letter = list.body.items.find((i: { assetId: string }) => i.assetId === up.assetId);
    expect(letter).toMatchObject({
      id: `${up.assetId}:undeclared`,
      queue: 'processing',
      job: 'process-asset',
      assetStatus: 'failed',
      attemptsMade: 3,
      maxAttempts: 3,
      failedReason: expect.stringMatching(/EISDIR/),
      failedAt: expect.any(String),
    });

    // The operator repairs storage and retries: back to processing, then ready, and out of the dead letters.
    rmSync(file, { recursive: true });
    writeFileSync(file, bytes);
    const retry = await admin.post(`/admin/dead-letters/${encodeURIComponent(letter.id)}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual({ id: letter.id, assetId: up.assetId, status: 'processing' });
    const ready = (await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=20`)).body;
    expect(ready).toMatchObject({ status: 'ready', failureReason: null });
    expect((await admin.get('/admin/dead-letters')).body.items.find((i: { assetId: string }) => i.assetId === up.assetId)).toBeUndefined();

    const again = await admin.post(`/admin/dead-letters/${encodeURIComponent(letter.id)}/retry`);
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ statusCode: 404, error: 'NotFound' });
  }, 60000);

  it('processes an upload whose client never called complete (repeatable sweep and on demand)', async () => {
    const up = await uploadBytes(alice, Buffer.from('nobody told the service'), { filename: 'quiet.txt', mimeType: 'text/plain' });
    expect(up.putStatus).toBe(200);
    const notUploaded = await alice.post('/media/upload-url', { filename: 'never.txt', mimeType: 'text/plain', sizeBytes: 4 });
    const r = await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=15`);
    expect(r.body.status).toBe('ready');
    // On demand: nothing left to do; the upload without bytes stays pending.
    const report = await admin.post('/admin/reconcile');
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ pendingStarted: 0, requeued: 0, deadLettered: 0 });
    expect((await alice.get(`/media/${notUploaded.body.assetId}`)).body.status).toBe('pending');
    expect((await alice.post('/admin/reconcile')).status).toBe(403);
  }, 30000);

  it('re-enqueues a processing asset whose job was lost from Redis', async () => {
    // An API-only process accepts the completion; its job reaches Redis; then Redis loses the queue.
    await app.restart({ WORKER_ENABLED: 'false' });
    const up = await uploadBytes(alice, Buffer.from('a job that Redis will forget'), { filename: 'lost.txt', mimeType: 'text/plain' });
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    await eventually(async () => (await app.sql(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'asset.process'`))[0].n === 0);
    await app.stopProcess();
    const redis = new Redis(app.env.REDIS_URL);
    try {
      const keys = await redis.keys(`${app.env.REDIS_KEY_PREFIX}:bull:processing:*`);
      expect(keys.some((k) => k.includes(up.assetId))).toBe(true);
      await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    expect((await app.sql(`SELECT status FROM media_assets WHERE asset_id = $1`, [up.assetId]))[0].status).toBe('processing');

    await app.restart({ WORKER_ENABLED: 'true', RECONCILE_PROCESSING_AFTER_MS: '0' });
    const r = await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=20`);
    expect(r.body.status).toBe('ready');
  }, 60000);
});
