/**
 * Fault tests (bounded, loopback only): the database connection dropped, Redis stopped for 10 s, the storage
 * server stopped. Each runs against the real built service with real PostgreSQL, Redis and S3-protocol server.
 */
import { Client } from 'pg';
import { api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { asAdmin } from './support/health';
import { startDedicatedRedis, DedicatedRedis } from './support/redis-server';
import { s3ServiceEnv, startS3Server } from './support/s3-server';

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t = Date.now();
  const value = await p;
  return { value, ms: Date.now() - t };
}

describe('PostgreSQL connections dropped (pg_terminate_backend)', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app?.stop());

  it('recovers without a restart; requests during the blip answer 503 or succeed, never 500, never hang', async () => {
    const c = api(app.baseUrl, 11);
    const up = await uploadBytes(c, Buffer.from('survives a blip'), { mimeType: 'text/plain' });
    const dbName = new URL(app.databaseUrl).pathname.slice(1);
    const admin = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await admin.connect();
    try {
      for (let round = 0; round < 3; round++) {
        const killed = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
          [dbName],
        );
        expect(killed.rowCount).toBeGreaterThan(0);
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            timed(
              i % 2
                ? c.get(`/media/${up.assetId}`)
                : c.post('/media/upload-url', { filename: 'x.txt', mimeType: 'text/plain', sizeBytes: 3 }),
            ),
          ),
        );
        for (const { value, ms } of results) {
          expect([200, 201, 503]).toContain(value.status);
          if (value.status === 503) expect(value.body.error).toBe('ServiceUnavailable');
          expect(ms).toBeLessThan(10000);
        }
      }
      await eventually(async () => (await c.get(`/media/${up.assetId}`)).status === 200, 10000);
      expect((await c.post(`/media/${up.assetId}/complete`)).status).toBe(202);
      await eventually(async () => (await c.get(`/media/${up.assetId}`)).body.status === 'ready');
      expect((await fetch(`${app.baseUrl}/health/live`)).status).toBe(200);
    } finally {
      await admin.end();
    }
  });
});

describe('Redis stopped for 10 s during uploads and completions', () => {
  let redis: DedicatedRedis;
  let app: RunningApp;
  beforeAll(async () => {
    redis = await startDedicatedRedis();
    app = await startApp({ REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await app?.stop();
    await redis?.destroy();
  });

  it('keeps reads working, loses no completion, and drains the queue when Redis returns', async () => {
    const c = api(app.baseUrl, 12);
    const before = await Promise.all(
      Array.from({ length: 5 }, (_, i) => uploadBytes(c, Buffer.from(`before outage ${i}`), { mimeType: 'text/plain' })),
    );
    await redis.stop();
    const outageStarted = Date.now();

    // During the outage: new uploads, completions and reads all work (PostgreSQL holds the state).
    const during = await Promise.all(
      Array.from({ length: 5 }, (_, i) => uploadBytes(c, Buffer.from(`during outage ${i}`), { mimeType: 'text/plain' })),
    );
    const all = [...before, ...during];
    for (const u of all) {
      const r = await c.post(`/media/${u.assetId}/complete`);
      expect(r.status).toBe(202);
    }
    for (const u of all) expect((await c.get(`/media/${u.assetId}`)).status).toBe(200);
    expect((await fetch(`${app.baseUrl}/health/ready`)).status).toBe(503);
    expect((await fetch(`${app.baseUrl}/health/live`)).status).toBe(200);
    const waiting = await app.sql(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'asset.process'`);
    expect(waiting[0].n).toBeGreaterThan(0); // the work requests are safe in PostgreSQL

    await new Promise((r) => setTimeout(r, Math.max(0, 10000 - (Date.now() - outageStarted))));
    await redis.start();

    await eventually(
      async () => {
        const rows = await app.sql(`SELECT count(*)::int AS n FROM media_assets WHERE asset_id = ANY($1) AND status = 'ready'`, [
          all.map((u) => u.assetId),
        ]);
        return rows[0].n === all.length;
      },
      45000,
      250,
    );
    await eventually(async () => (await fetch(`${app.baseUrl}/health/ready`)).status === 200, 10000);
    await eventually(async () => (await app.sql(`SELECT count(*)::int AS n FROM outbox`))[0].n === 0, 10000);
  }, 90000);
});

describe('storage server stopped', () => {
  it('answers 503 where storage is needed, fails readiness, and marks nothing ready that is not stored', async () => {
    const s3 = await startS3Server({ buckets: ['faults'] });
    const app = await startApp({
      ...s3ServiceEnv(s3, 'faults'),
      S3_REQUEST_TIMEOUT_MS: '1500',
    });
    try {
      const c = api(app.baseUrl, 13);
      const stored = await uploadBytes(c, Buffer.from('stored before the outage'), { mimeType: 'text/plain' });
      expect(stored.putStatus).toBe(200);
      const neverStored = await c.post('/media/upload-url', { filename: 'n.txt', mimeType: 'text/plain', sizeBytes: 5 });
      await s3.stop();

      const complete = await timed(c.post(`/media/${stored.assetId}/complete`));
      expect(complete.value.status).toBe(503);
      expect(complete.value.body).toMatchObject({ statusCode: 503, error: 'StorageUnavailable' });
      expect(complete.ms).toBeLessThan(15000);
      expect((await c.post(`/media/${neverStored.body.assetId}/complete`)).status).toBe(503);
      const ready = await fetch(`${app.baseUrl}/health/ready`, asAdmin());
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as any).details.storage.status).toBe('down');
      expect((await fetch(`${app.baseUrl}/health/live`)).status).toBe(200);
      const rows = await app.sql(`SELECT status FROM media_assets`);
      expect(rows.every((r) => r.status === 'pending')).toBe(true);
    } finally {
      await app.stop();
    }
  }, 60000);
});
