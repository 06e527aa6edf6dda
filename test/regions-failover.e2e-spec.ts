/**
 * Two storage regions, each a real S3-protocol server (@20minutes/s3rver, SigV4-verifying), behind the real
 * built service: replication after ready, the primary stopped (reads, uploads and probes fail over), the
 * primary back (catch-up copies what it missed).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, Api, sha256, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { asAdmin } from './support/health';
import { s3DriverFor, S3TestServer, startS3Server } from './support/s3-server';
import { QUEUES, waitForQueuesIdle } from './support/waits';

jest.setTimeout(90_000);

const BUCKET = 'media-regions';

describe('two storage regions (S3 emulators) with replication and read failover', () => {
  let eu: S3TestServer;
  let us: S3TestServer;
  let app: RunningApp;
  let alice: Api;
  /** Assets uploaded before the outage, and during it. */
  let before: { id: string; key: string; bytes: Buffer };
  let during: { id: string; key: string; bytes: Buffer };

  const euDriver = () => s3DriverFor(eu, BUCKET, { requestTimeoutMs: 1000 });
  const usDriver = () => s3DriverFor(us, BUCKET, { requestTimeoutMs: 1000 });
  const regions = async () => (await fetch(`${app.baseUrl}/health/regions`, asAdmin())).json() as Promise<any>;
  const keyOf = async (id: string) =>
    (await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [id]))[0].object_key as string;
  const replicas = async (key: string) =>
    (await app.sql(`SELECT region FROM object_replicas WHERE bucket = $1 AND object_key = $2 ORDER BY region`, [BUCKET, key])).map(
      (r) => r.region,
    );

  async function uploadReady(bytes: Buffer, filename: string) {
    const up = await uploadBytes(alice, bytes, { mimeType: 'text/plain', filename });
    expect(up.putStatus).toBe(200);
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    await eventually(async () => (await alice.get(`/media/${up.assetId}`)).body?.status === 'ready', 30000);
    return { id: up.assetId, key: await keyOf(up.assetId), bytes, uploadUrl: up.grant.uploadUrl as string };
  }

  async function download(id: string) {
    const link = await alice.get(`/media/${id}/download`);
    expect(link.status).toBe(302);
    const location = link.headers.get('location')!;
    const res = await fetch(location);
    return { location, status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
  }

  beforeAll(async () => {
    eu = await startS3Server({ buckets: [BUCKET] });
    us = await startS3Server({ buckets: [BUCKET] });
    app = await startApp({
      STORAGE_DRIVER: 's3',
      STORAGE_BUCKET: BUCKET,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: eu.accessKeyId,
      S3_SECRET_ACCESS_KEY: eu.secretAccessKey,
      S3_REQUEST_TIMEOUT_MS: '1500',
      STORAGE_REGIONS: JSON.stringify([
        { name: 'eu', endpoint: eu.endpoint },
        { name: 'us', endpoint: us.endpoint },
      ]),
      STORAGE_PRIMARY_REGION: 'eu',
      STORAGE_HEALTH_CHECK_INTERVAL_MS: '300',
      STORAGE_HEALTH_CHECK_TIMEOUT_MS: '1000',
      REPLICATION_CATCHUP_INTERVAL_MS: '1000',
      REPLICATION_BACKOFF_MS: '200',
    });
    alice = api(app.baseUrl, 61);
  });

  afterAll(async () => {
    await app?.stop();
    await eu?.stop({ keepData: false });
    await us?.stop();
  });

  it('reports both regions up, with the primary taking writes', async () => {
    const r = await regions();
    expect(r).toMatchObject({ status: 'ok', primary: 'eu', writeRegion: 'eu', replication: 'on' });
    expect(r.regions.map((x: any) => [x.name, x.state, x.primary, x.circuit])).toEqual([
      ['eu', 'up', true, 'closed'],
      ['us', 'up', false, 'closed'],
    ]);
    expect(r.regions[0].latencyMs).toEqual(expect.any(Number));
    expect(r.regions[0].lastError).toBeNull();
  });

  it('uploads to the primary and replicates the ready object to the other region, recording both copies', async () => {
    const up = await uploadReady(Buffer.from('written while both regions are up'), 'before.txt');
    expect(new URL(up.uploadUrl).port).toBe(String(eu.port));
    before = up;
    await eventually(async () => (await usDriver().head(up.key)) !== null, 20000);
    const copy = Buffer.concat(await (await usDriver().read(up.key)).toArray());
    expect(sha256(copy)).toBe(sha256(up.bytes));
    await eventually(async () => (await replicas(up.key)).length === 2);
    expect(await replicas(up.key)).toEqual(['eu', 'us']);
  });

  it('with the primary stopped: downloads come from the secondary, probes report it, uploads go to the secondary', async () => {
    await eu.stop({ keepData: true });

    // Right away, before any health check noticed: the link is signed for a region that answered.
    const first = await download(before.id);
    expect(new URL(first.location).port).toBe(String(us.port));
    expect(first.status).toBe(200);
    expect(first.bytes.equals(before.bytes)).toBe(true);

    const report = await eventually(async () => {
      const r = await regions();
      return r.regions[0].state === 'down' ? r : undefined;
    }, 10000);
    expect(report).toMatchObject({ status: 'degraded', primary: 'eu', writeRegion: 'us' });
    expect(report.regions[0]).toMatchObject({
      name: 'eu',
      state: 'down',
      circuit: 'open',
      lastError: expect.any(String),
      lastErrorAt: expect.any(String),
    });
    expect(report.regions[1]).toMatchObject({ name: 'us', state: 'up' });

    const ready = await fetch(`${app.baseUrl}/health/ready`, asAdmin());
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as any).details.storage).toMatchObject({ status: 'up', regions: { eu: 'down', us: 'up' } });
    expect((await fetch(`${app.baseUrl}/health/live`)).status).toBe(200);

    for (let i = 0; i < 3; i++) {
      const again = await download(before.id);
      expect(again.status).toBe(200);
      expect(again.bytes.equals(before.bytes)).toBe(true);
    }

    const up = await uploadReady(Buffer.from('written while the primary is down'), 'during.txt');
    expect(new URL(up.uploadUrl).port).toBe(String(us.port));
    during = up;
    const got = await download(up.id);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(up.bytes)).toBe(true);
    await eventually(async () => (await replicas(up.key)).includes('us'));
    expect(await replicas(up.key)).toEqual(['us']);
  });

  it('with the primary back: catch-up copies what it missed, and the primary takes writes again', async () => {
    eu = await startS3Server({ buckets: [BUCKET], port: eu.port, directory: eu.directory });
    await eventually(async () => (await regions()).regions[0].state === 'up', 10000);

    await eventually(async () => (await euDriver().head(during.key)) !== null, 20000);
    const copy = Buffer.concat(await (await euDriver().read(during.key)).toArray());
    expect(copy.equals(during.bytes)).toBe(true);
    await eventually(async () => (await replicas(during.key)).length === 2);
    expect(await replicas(during.key)).toEqual(['eu', 'us']);
    // What the primary held before the outage is still there.
    expect(await euDriver().head(before.key)).not.toBeNull();

    const r = await regions();
    expect(r).toMatchObject({ status: 'ok', writeRegion: 'eu' });
    const fresh = await uploadBytes(alice, Buffer.from('after recovery'), { mimeType: 'text/plain' });
    expect(new URL(fresh.grant.uploadUrl).port).toBe(String(eu.port));
    // Reads prefer the primary again.
    expect(new URL((await download(before.id)).location).port).toBe(String(eu.port));
  });

  it('deletes remove the object from every region', async () => {
    expect((await alice.del(`/media/${before.id}`)).status).toBe(204);
    await eventually(async () => (await euDriver().head(before.key)) === null && (await usDriver().head(before.key)) === null, 20000);
    expect(await replicas(before.key)).toEqual([]);
  });
});

describe('REPLICATION_ENABLED=false (the provider replicates the buckets itself)', () => {
  let app: RunningApp;
  const rootB = mkdtempSync(join(tmpdir(), 'media-region-b-'));
  beforeAll(async () => {
    app = await startApp({ STORAGE_REGIONS: JSON.stringify([{ name: 'a' }, { name: 'b', root: rootB }]), REPLICATION_ENABLED: 'false' });
  });
  afterAll(async () => {
    await app?.stop();
    await rm(rootB, { recursive: true, force: true });
  });

  it('copies nothing and records nothing, but still reports every region', async () => {
    const alice = api(app.baseUrl, 62);
    const up = await uploadBytes(alice, Buffer.from('left to the provider'), { mimeType: 'text/plain' });
    await alice.post(`/media/${up.assetId}/complete`);
    await eventually(async () => (await alice.get(`/media/${up.assetId}`)).body?.status === 'ready', 30000);
    // What becoming ready set off (outbox messages, replication jobs) is over.
    await waitForQueuesIdle(app, [QUEUES.replication]);
    expect(await app.sql(`SELECT * FROM replicated_objects`)).toEqual([]);
    const key: string = (await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [up.assetId]))[0].object_key;
    expect(existsSync(join(rootB, 'media', key))).toBe(false);
    const r = (await (await fetch(`${app.baseUrl}/health/regions`, asAdmin())).json()) as any;
    expect(r).toMatchObject({ status: 'ok', replication: 'off', primary: 'a' });
    expect(r.regions.map((x: any) => x.name)).toEqual(['a', 'b']);
  });
});
