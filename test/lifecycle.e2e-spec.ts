/**
 * Lifecycle jobs against the real built service: two local storage regions (a primary and a replica), real
 * PostgreSQL and Redis/Bull, and the controllable clock. Each job runs through POST /admin/jobs/{name}/run
 * against seeded data; the tests assert exactly what was and was not deleted, re-hashed, restored or moved.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import Bull from 'bull';
import Redis from 'ioredis';
import { api, Api, sha256, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp, startReplica, token } from './support/app-process';
import { readyAsset } from './support/assets';
import { s3DriverFor, s3ServiceEnv, S3TestServer, startS3Server } from './support/s3-server';

jest.setTimeout(120_000);

const BUCKET = 'media';
const DAY = 24 * 3600;
const JOBS = ['expire-pending', 'reconcile', 'integrity-scan', 'tiering'];
const SCHEDULES_OFF = {
  LIFECYCLE_EXPIRE_PENDING_SCHEDULE: 'off',
  LIFECYCLE_RECONCILE_SCHEDULE: 'off',
  LIFECYCLE_INTEGRITY_SCAN_SCHEDULE: 'off',
  LIFECYCLE_TIERING_SCHEDULE: 'off',
};

/** POST /admin/jobs/{name}/run; the run's report. */
async function runJob(admin: Api, name: string, dryRun = false) {
  const res = await admin.post(`/admin/jobs/${name}/run${dryRun ? '?dryRun=true' : ''}`);
  if (res.status !== 200) throw new Error(`run ${name} answered ${res.status}: ${res.text}`);
  expect(res.body).toMatchObject({ name, trigger: 'manual', dryRun, status: 'succeeded' });
  return res.body.summary;
}

/** Sets a file's modification time `seconds` into the past. */
function age(file: string, seconds: number) {
  const t = new Date(Date.now() - seconds * 1000);
  utimesSync(file, t, t);
}

function plant(root: string, key: string, bytes: string, ageSeconds?: number) {
  const file = path.join(root, BUCKET, key);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  if (ageSeconds) age(file, ageSeconds);
  return file;
}

describe('lifecycle jobs (two local regions, controllable clock)', () => {
  let app: RunningApp;
  let rootA: string;
  let rootB: string;
  let admin: Api;
  let alice: Api;

  const objectKey = async (id: string) =>
    (await app.sql(`SELECT object_key, stored_object_sha256 FROM media_assets WHERE asset_id = $1`, [id]))[0];
  const status = async (id: string) => (await app.sql(`SELECT status FROM media_assets WHERE asset_id = $1`, [id]))[0]?.status;
  const run = (name: string, dryRun = false) => runJob(admin, name, dryRun);
  /** Waits until both regions hold the asset's stored object (replication). */
  const replicated = async (id: string) => {
    const { object_key } = await objectKey(id);
    await eventually(
      async () => existsSync(path.join(rootA, BUCKET, object_key)) && existsSync(path.join(rootB, BUCKET, object_key)),
      30000,
    );
    return object_key as string;
  };

  beforeAll(async () => {
    rootA = mkdtempSync(path.join(tmpdir(), 'lifecycle-a-'));
    rootB = mkdtempSync(path.join(tmpdir(), 'lifecycle-b-'));
    app = await startApp({
      CLOCK_CONTROL: 'true',
      ...SCHEDULES_OFF,
      // The processing sweep would start pending uploads whose bytes arrived; these tests want them left pending.
      RECONCILE_INTERVAL_MS: '0',
      STORAGE_REGIONS: JSON.stringify([
        { name: 'a', driver: 'local', root: rootA },
        { name: 'b', driver: 'local', root: rootB },
      ]),
      STORAGE_PRIMARY_REGION: 'a',
      REPLICATION_BACKOFF_MS: '200',
    });
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
    alice = api(app.baseUrl, 42);
  });

  afterAll(async () => {
    await app?.stop();
    for (const r of [rootA, rootB]) if (r) rmSync(r, { recursive: true, force: true });
  });

  it('is admin-only, names the known jobs on a 404, and validates dryRun', async () => {
    expect((await alice.post('/admin/jobs/reconcile/run')).status).toBe(403);
    expect((await alice.get('/admin/jobs/runs')).status).toBe(403);
    expect((await alice.put('/admin/clock', { advanceSeconds: 1 })).status).toBe(403);
    expect((await api(app.baseUrl).post('/admin/jobs/reconcile/run')).status).toBe(401);
    const unknown = await admin.post('/admin/jobs/compact/run');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('NotFound');
    for (const name of JOBS) expect(unknown.body.message).toContain(name);
    expect(unknown.body.details).toEqual({ known: JOBS });
    const bad = await admin.post('/admin/jobs/reconcile/run?dryRun=maybe');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('dryRun');
    expect((await admin.get('/admin/jobs/runs?name=compact')).status).toBe(400);
    expect((await admin.put('/admin/clock', { now: 'yesterday' })).status).toBe(400);
  });

  it('refuses a manual run while another run holds the job lock (409), then runs once it is free', async () => {
    const redis = new Redis(app.env.REDIS_URL);
    const key = `${app.env.REDIS_KEY_PREFIX}:lifecycle:lock:tiering`;
    try {
      await redis.set(key, 'someone-else', 'PX', 30000);
      const busy = await admin.post('/admin/jobs/tiering/run?dryRun=true');
      expect(busy.status).toBe(409);
      expect(busy.body.error).toBe('JobAlreadyRunning');
      await redis.del(key);
      expect((await admin.post('/admin/jobs/tiering/run?dryRun=true')).status).toBe(200);
    } finally {
      redis.disconnect();
    }
  });

  it('expire-pending deletes old pending uploads (with their partial bytes) and touches nothing else; dry run first', async () => {
    const ready = await readyAsset(alice, 'a ready asset that must survive', { filename: 'ready.txt' });
    const noBytes = (await alice.post('/media/upload-url', { filename: 'never.txt', mimeType: 'text/plain', sizeBytes: 10 })).body
      .assetId as string;
    const partial = await uploadBytes(alice, Buffer.from('uploaded but never completed'), {
      mimeType: 'text/plain',
      filename: 'partial.txt',
    });
    expect(partial.putStatus).toBe(200);
    const young = (await alice.post('/media/upload-url', { filename: 'young.txt', mimeType: 'text/plain', sizeBytes: 5 })).body
      .assetId as string;
    const longUrl = (await alice.post('/media/upload-url', { filename: 'long.txt', mimeType: 'text/plain', sizeBytes: 5 })).body
      .assetId as string;
    const failed = (await alice.post('/media/upload-url', { filename: 'failed.txt', mimeType: 'text/plain', sizeBytes: 5 })).body
      .assetId as string;
    const quarantined = (await alice.post('/media/upload-url', { filename: 'q.txt', mimeType: 'text/plain', sizeBytes: 5 })).body
      .assetId as string;
    const processing = (await alice.post('/media/upload-url', { filename: 'p.txt', mimeType: 'text/plain', sizeBytes: 5 })).body
      .assetId as string;
    await app.sql(`UPDATE media_assets SET status = 'failed', failure_reason = 'seeded' WHERE asset_id = $1`, [failed]);
    await app.sql(`UPDATE media_assets SET status = 'quarantined', failure_reason = 'seeded' WHERE asset_id = $1`, [quarantined]);
    await app.sql(`UPDATE media_assets SET status = 'processing' WHERE asset_id = $1`, [processing]);
    // Two days old, URL long expired: everything but `young` (fresh) and `longUrl` (old, but its URL is still valid).
    await app.sql(
      `UPDATE media_assets SET created_at = now() - interval '2 days', upload_expires_at = now() - interval '47 hours' WHERE asset_id = ANY($1::uuid[])`,
      [[ready, noBytes, partial.assetId, failed, quarantined, processing]],
    );
    await app.sql(
      `UPDATE media_assets SET created_at = now() - interval '2 days', upload_expires_at = now() + interval '1 hour' WHERE asset_id = $1`,
      [longUrl],
    );
    const partialFile = path.join(rootA, BUCKET, (await objectKey(partial.assetId)).object_key);
    expect(existsSync(partialFile)).toBe(true);

    const dry = await run('expire-pending', true);
    expect(dry.expired).toBe(2);
    expect(dry.assets.map((a: any) => a.assetId).sort()).toEqual([noBytes, partial.assetId].sort());
    expect(dry.freedBytes).toBe(10 + 'uploaded but never completed'.length);
    expect(await status(noBytes)).toBe('pending');
    expect(existsSync(partialFile)).toBe(true);

    const real = await run('expire-pending');
    expect(real.assets.map((a: any) => a.assetId).sort()).toEqual(dry.assets.map((a: any) => a.assetId).sort());
    expect(real.freedBytes).toBe(dry.freedBytes);
    expect(real.multipartAborted).toBe(0); // none of these was a multipart upload
    expect(await status(noBytes)).toBe('deleted');
    expect(await status(partial.assetId)).toBe('deleted');
    await eventually(async () => !existsSync(partialFile), 10000);
    expect((await alice.get(`/media/${noBytes}`)).status).toBe(404);
    // Untouched: every other status, the fresh upload, the one whose URL still works.
    expect(await status(ready)).toBe('ready');
    expect(await status(young)).toBe('pending');
    expect(await status(longUrl)).toBe('pending');
    expect(await status(failed)).toBe('failed');
    expect(await status(quarantined)).toBe('quarantined');
    expect(await status(processing)).toBe('processing');
    expect((await alice.get(`/media/${ready}`)).body.status).toBe('ready');

    // A second run finds nothing; the runs are listed.
    expect((await run('expire-pending')).expired).toBe(0);
    const runs = await admin.get('/admin/jobs/runs?name=expire-pending');
    expect(runs.status).toBe(200);
    expect(runs.body.map((r: any) => [r.trigger, r.dryRun, r.status, r.summary.expired])).toEqual([
      ['manual', false, 'succeeded', 0],
      ['manual', false, 'succeeded', 2],
      ['manual', true, 'succeeded', 2],
    ]);
    expect(runs.body.every((r: any) => r.name === 'expire-pending' && r.finishedAt && r.durationMs >= 0)).toBe(true);
  });

  it('expire-pending aborts the multipart upload of an expired pending asset, dropping its stored parts (local driver: the S3 emulator cannot abort)', async () => {
    const s = await alice.post('/media/upload-url', {
      filename: 'abandoned.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: 10,
      multipart: true,
    });
    expect(s.status).toBe(201);
    expect(s.body.method).toBe('MULTIPART');
    const part = s.body.parts[0];
    const put = await fetch(part.url, { method: part.method, headers: part.headers, body: Buffer.alloc(10, 7) });
    expect(put.status).toBe(200);
    const staging = path.join(rootA, '.multipart', BUCKET);
    expect(readdirSync(staging)).toHaveLength(1);
    try {
      await admin.put('/admin/clock', { advanceSeconds: 2 * DAY });
      const report = await run('expire-pending');
      expect(report.assets.map((a: any) => a.assetId)).toContain(s.body.assetId); // with what earlier tests left pending
      expect(report.multipartAborted).toBe(1);
      expect(readdirSync(staging)).toEqual([]);
      expect(await status(s.body.assetId)).toBe('deleted');
      // The upload module closes the session when it hears of the deletion (asset.deleted, through the outbox).
      const session = () => app.sql(`SELECT state, storage_released FROM upload_sessions WHERE asset_id = $1`, [s.body.assetId]);
      // It aborts the session first, then releases the storage and records that: wait for the last step, not the first.
      await eventually(async () => (await session())[0].storage_released === true, 15000);
      expect(await session()).toEqual([{ state: 'aborted', storage_released: true }]);
      // The part URL is dead, and a second run finds nothing more to do.
      expect((await fetch(part.url, { method: part.method, headers: part.headers, body: Buffer.alloc(10, 7) })).status).toBe(404);
      expect((await run('expire-pending')).multipartAborted).toBe(0);
    } finally {
      await admin.put('/admin/clock', {});
    }
  });

  it('expire-pending also purges an abandoned tus upload (the tus expirer), with its staged bytes and pending asset', async () => {
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const headers = { authorization: `Bearer ${token(42)}`, 'tus-resumable': '1.0.0' };
    const created = await fetch(`${app.baseUrl}/tus/`, {
      method: 'POST',
      headers: { ...headers, 'upload-length': '20', 'upload-metadata': `filename ${b64('abandoned.txt')},filetype ${b64('text/plain')}` },
    });
    expect(created.status).toBe(201);
    const location = new URL(created.headers.get('location')!, app.baseUrl).toString();
    const id = location.split('/').pop()!;
    const patched = await fetch(location, {
      method: 'PATCH',
      headers: { ...headers, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: Buffer.from('half of it'),
    });
    expect(patched.status).toBe(204);
    expect(await status(id)).toBe('pending');
    try {
      await admin.put('/admin/clock', { advanceSeconds: 2 * DAY });
      const report = await run('expire-pending');
      expect(report.assets.map((a: any) => a.assetId)).toContain(id);
      expect(report.extra.tus).toEqual({ removed: 1 });
      expect(await status(id)).toBe('deleted');
      expect((await fetch(location, { method: 'HEAD', headers })).status).toBe(404);
    } finally {
      await admin.put('/admin/clock', {});
    }
  });

  it('reconcile deletes old orphans in every region, keeps young ones and everything in use, marks missing objects; dry run reports the same', async () => {
    const kept = await readyAsset(alice, 'kept: in use, and old on disk', { filename: 'kept.txt' });
    const keptKey = await replicated(kept);
    const gone = await readyAsset(alice, 'this object will vanish from every region', { filename: 'gone.txt' });
    const goneKey = await replicated(gone);
    const goneSha = (await objectKey(gone)).stored_object_sha256;
    // In use but old: must be kept in both regions.
    age(path.join(rootA, BUCKET, keptKey), 3 * DAY);
    age(path.join(rootB, BUCKET, keptKey), 3 * DAY);
    // Orphans: old ones under each of our prefixes (both regions), a young one, an old file outside our prefixes.
    const oldOrphans = [
      ['a', `objects/zz/${'0'.repeat(64)}`],
      ['a', `uploads/42/${randomUUID()}`],
      ['a', `derived/${randomUUID()}/thumbnail.webp`],
      ['a', `quarantine/${randomUUID()}`],
      ['b', `objects/zy/${'1'.repeat(64)}`],
    ];
    for (const [region, key] of oldOrphans) plant(region === 'a' ? rootA : rootB, key, `orphan ${key}`, 2 * DAY);
    const young = plant(rootA, `objects/zx/${'2'.repeat(64)}`, 'young orphan');
    const foreign = plant(rootA, 'backups/keep-me', 'not ours', 30 * DAY);
    // The stored object of `gone` disappears from both regions.
    rmSync(path.join(rootA, BUCKET, goneKey));
    rmSync(path.join(rootB, BUCKET, goneKey));
    // The used-upload-key marker of `kept` (its upload was moved to objects/) is older than any URL could live.
    const marker = path.join(rootA, '.meta', BUCKET, `uploads/42/${kept}.json.consumed`);
    expect(existsSync(marker)).toBe(true);
    age(marker, 2 * DAY);

    const expectedOrphans = oldOrphans.map(([r, k]) => `${r}:${k}`).sort();
    const dry = await run('reconcile', true);
    expect(dry.orphans.map((o: any) => `${o.region}:${o.key}`).sort()).toEqual(expectedOrphans);
    expect(dry.orphansDeleted).toBe(5);
    expect(dry.orphansTooYoung).toBe(1);
    expect(dry.missing).toEqual([{ sha256: goneSha, objectKey: goneKey, refCount: 1 }]);
    expect(dry.markersPurged).toBe(1);
    expect(dry.regionErrors).toEqual({});
    for (const [region, key] of oldOrphans) expect(existsSync(path.join(region === 'a' ? rootA : rootB, BUCKET, key))).toBe(true);
    expect(existsSync(marker)).toBe(true);
    expect((await admin.get(`/admin/objects/${goneSha}`)).body.integrity).toBe('ok');

    const real = await run('reconcile');
    expect(real.orphans.map((o: any) => `${o.region}:${o.key}`).sort()).toEqual(expectedOrphans);
    expect(real.missing).toEqual(dry.missing);
    expect(real.markersPurged).toBe(1);
    for (const [region, key] of oldOrphans) expect(existsSync(path.join(region === 'a' ? rootA : rootB, BUCKET, key))).toBe(false);
    expect(existsSync(young)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(path.join(rootA, BUCKET, keptKey))).toBe(true);
    expect(existsSync(path.join(rootB, BUCKET, keptKey))).toBe(true);
    // The row stays, marked for operators.
    const obj = await admin.get(`/admin/objects/${goneSha}`);
    expect(obj.body).toMatchObject({ integrity: 'missing', refCount: 1 });
    expect(obj.body.integrityNote).toContain(goneKey);
    expect(await status(gone)).toBe('ready');
    // Idempotent: nothing left to delete.
    const again = await run('reconcile');
    expect(again.orphansDeleted).toBe(0);
    expect(again.orphansTooYoung).toBe(1);
  });

  it('reconcile aborts multipart uploads older than the pending TTL, whatever the database says (dry run first)', async () => {
    // E.g. a session whose abort the store refused, or one left by a crash between starting it and recording it.
    const s = await alice.post('/media/upload-url', {
      filename: 'stale.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: 10,
      multipart: true,
    });
    expect(s.status).toBe(201);
    const part = s.body.parts[0];
    expect((await fetch(part.url, { method: part.method, headers: part.headers, body: Buffer.alloc(10, 3) })).status).toBe(200);
    const staging = path.join(rootA, '.multipart', BUCKET);
    expect(readdirSync(staging)).toHaveLength(1);
    // Young: kept.
    expect((await run('reconcile')).multipartAborted).toBe(0);
    expect(readdirSync(staging)).toHaveLength(1);
    try {
      await admin.put('/admin/clock', { advanceSeconds: 2 * DAY });
      const dry = await run('reconcile', true);
      expect(dry.multipartAborted).toBe(1);
      expect(dry.multipart).toEqual([{ region: 'a', key: `uploads/42/${s.body.assetId}`, uploadId: expect.any(String) }]);
      expect(readdirSync(staging)).toHaveLength(1);
      const real = await run('reconcile');
      expect(real.multipart).toEqual(dry.multipart);
      expect(readdirSync(staging)).toEqual([]);
      // The client learns why it cannot resume.
      const parts = await alice.get(`/media/${s.body.assetId}/parts`);
      expect(parts.status).toBe(409);
      expect(parts.body.message).toContain('no longer exists in storage');
    } finally {
      await admin.put('/admin/clock', {});
    }
  });

  it('integrity-scan finds bytes overwritten on disk: restores from the other region, marks corrupt when no copy is healthy', async () => {
    const healable = Buffer.from('healable: corrupted in region a only');
    const lost = Buffer.from('lost: corrupted in both regions!!');
    const healId = await readyAsset(alice, healable, { filename: 'heal.txt' });
    const lostId = await readyAsset(alice, lost, { filename: 'lost.txt' });
    const healKey = await replicated(healId);
    const lostKey = await replicated(lostId);
    const corrupt = (file: string) => {
      const b = readFileSync(file);
      b[0] ^= 0xff;
      writeFileSync(file, b);
    };
    corrupt(path.join(rootA, BUCKET, healKey));
    corrupt(path.join(rootA, BUCKET, lostKey));
    corrupt(path.join(rootB, BUCKET, lostKey));
    const total = Number((await app.sql(`SELECT count(*) FROM stored_objects`))[0].count);

    const dry = await run('integrity-scan', true);
    expect(dry.checked).toBe(total);
    expect(dry.corrupt).toBe(2);
    expect(dry.findings.map((f: any) => [f.sha256, f.corruptIn])).toEqual(
      expect.arrayContaining([
        [sha256(healable), ['a']],
        [sha256(lost), ['a', 'b']],
      ]),
    );
    expect(readFileSync(path.join(rootA, BUCKET, healKey)).equals(healable)).toBe(false);
    expect((await admin.get(`/admin/objects/${sha256(lost)}`)).body.integrity).toBe('ok');

    const before = new Date(Date.now() - 1000);
    const real = await run('integrity-scan');
    expect(real.corrupt).toBe(2);
    expect(real.restored).toBe(1);
    expect(real.unrecoverable).toBe(1);
    expect(real.missing).toHaveLength(1); // the object reconcile found missing
    expect(real.findings.find((f: any) => f.sha256 === sha256(healable))).toMatchObject({
      corruptIn: ['a'],
      restoredFrom: 'b',
      restored: true,
    });
    expect(real.findings.find((f: any) => f.sha256 === sha256(lost))).toMatchObject({
      corruptIn: ['a', 'b'],
      restoredFrom: null,
      restored: false,
    });
    // Restored: region a has the right bytes again, and the download serves them.
    expect(readFileSync(path.join(rootA, BUCKET, healKey)).equals(healable)).toBe(true);
    const heal = await admin.get(`/admin/objects/${sha256(healable)}`);
    expect(heal.body.integrity).toBe('ok');
    expect(heal.body.integrityNote).toContain('restored from b');
    const link = await alice.get(`/media/${healId}/download`);
    expect(Buffer.from(await (await fetch(link.headers.get('location')!)).arrayBuffer()).equals(healable)).toBe(true);
    // Unrecoverable: marked corrupt, visible to admins; the row is kept.
    const bad = await admin.get(`/admin/objects/${sha256(lost)}`);
    expect(bad.body.integrity).toBe('corrupt');
    expect(bad.body.integrityNote).toContain('hash to');
    // Both findings of the real run (not the dry run) reach the Prometheus counter.
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^media_integrity_corrupt_objects_total 2$/m);
    // last_verified_at recorded for every object that was read.
    const verified = await app.sql(
      `SELECT count(*)::int AS n FROM stored_objects WHERE last_verified_at >= $1 AND integrity <> 'missing'`,
      [before],
    );
    expect(verified[0].n).toBe(total - 1);
  });

  it('tiering moves unread objects to STANDARD_IA then GLACIER_IR, keeps a recently read one, and cold objects still download', async () => {
    const readBytes = Buffer.from('read recently: stays warm');
    const coldBytes = Buffer.from('never read: goes cold');
    const readId = await readyAsset(alice, readBytes, { filename: 'warm.txt' });
    const coldId = await readyAsset(alice, coldBytes, { filename: 'cold.txt' });
    const coldKey = await replicated(coldId);
    await replicated(readId);
    expect((await alice.get(`/media/${coldId}`)).body.storageClass).toBe('STANDARD');

    const clock = await admin.put('/admin/clock', { advanceSeconds: 91 * DAY });
    expect(clock.status).toBe(200);
    expect(clock.body.controllable).toBe(true);
    expect(new Date(clock.body.now).getTime()).toBeGreaterThan(Date.now() + 90 * DAY * 1000);
    expect((await alice.get(`/media/${readId}/download`)).status).toBe(302);
    // The read is recorded in Redis (fire and forget); tiering flushes it before deciding.
    const redis = new Redis(app.env.REDIS_URL);
    await eventually(async () => (await redis.scard(`${app.env.REDIS_KEY_PREFIX}:access:pending`)) > 0, 5000, 50);
    redis.disconnect();

    const candidates = await app.sql(`SELECT checksum_sha256 AS sha FROM stored_objects WHERE integrity = 'ok' AND checksum_sha256 <> $1`, [
      sha256(readBytes),
    ]);
    const dry = await run('tiering', true);
    expect(dry.objects.map((o: any) => o.sha256).sort()).toEqual(candidates.map((c) => c.sha).sort());
    expect(dry.moved).toEqual({ STANDARD_IA: candidates.length });
    expect((await alice.get(`/media/${coldId}`)).body.storageClass).toBe('STANDARD');

    const real = await run('tiering');
    expect(real.objects.map((o: any) => o.sha256).sort()).toEqual(candidates.map((c) => c.sha).sort());
    expect(real.failed).toEqual([]);
    expect(real.objects.map((o: any) => o.sha256)).not.toContain(sha256(readBytes));
    // Moved in both regions; the asset and the admin view show the class; the bytes still download.
    for (const root of [rootA, rootB]) {
      expect(existsSync(path.join(root, BUCKET, coldKey))).toBe(false);
      expect(readFileSync(path.join(root, '.tiers', 'STANDARD_IA', BUCKET, coldKey)).equals(coldBytes)).toBe(true);
    }
    expect((await alice.get(`/media/${coldId}`)).body.storageClass).toBe('STANDARD_IA');
    expect((await alice.get(`/media/${readId}`)).body.storageClass).toBe('STANDARD');
    expect((await admin.get(`/admin/objects/${sha256(coldBytes)}`)).body.storageClass).toBe('STANDARD_IA');
    const listed = (await alice.get('/media?limit=1000')).body.items;
    expect(listed.find((a: any) => a.assetId === coldId).storageClass).toBe('STANDARD_IA');
    expect(listed.find((a: any) => a.assetId === readId).storageClass).toBe('STANDARD');
    const read = async (id: string) => {
      const link = await alice.get(`/media/${id}/download`);
      expect(link.status).toBe(302);
      const res = await fetch(link.headers.get('location')!);
      expect(res.status).toBe(200);
      return Buffer.from(await res.arrayBuffer());
    };
    expect((await read(coldId)).equals(coldBytes)).toBe(true);

    // A year unread: the archive class (the read above was less than a day ago in clock time... so advance past it).
    await admin.put('/admin/clock', { advanceSeconds: 400 * DAY });
    const archive = await run('tiering');
    expect(archive.objects.filter((o: any) => o.to === 'GLACIER_IR').map((o: any) => o.sha256)).toContain(sha256(coldBytes));
    expect(existsSync(path.join(rootA, '.tiers', 'GLACIER_IR', BUCKET, coldKey))).toBe(true);
    expect((await alice.get(`/media/${coldId}`)).body.storageClass).toBe('GLACIER_IR');
    expect((await read(coldId)).equals(coldBytes)).toBe(true);
    // Nothing is moved twice.
    expect((await run('tiering')).objects).toEqual([]);
    expect((await admin.put('/admin/clock', {})).body.offsetSeconds).toBe(0);
  });
});

describe('lifecycle schedules across replicas', () => {
  let one: RunningApp;
  let two: RunningApp | undefined;

  afterAll(async () => {
    await two?.stopProcess();
    await one?.stop();
    if (two) rmSync(two.storageRoot, { recursive: true, force: true });
  });

  it('registers each repeatable job once when two instances start, runs each tick once across them, skips a tick while the job is locked', async () => {
    // expire-pending every 2 s (cron with seconds), the others on their defaults.
    const schedule = { RECONCILE_INTERVAL_MS: '0', LIFECYCLE_EXPIRE_PENDING_SCHEDULE: '*/2 * * * * *' };
    one = await startApp(schedule);
    two = await startReplica(one, schedule);
    const queue = new Bull('lifecycle', one.env.REDIS_URL, { prefix: `${one.env.REDIS_KEY_PREFIX}:bull` });
    const redis = new Redis(one.env.REDIS_URL);
    try {
      const expected = [
        ['expire-pending', '*/2 * * * * *'],
        ['integrity-scan', '0 4 * * *'],
        ['reconcile', '30 3 * * *'],
        ['tiering', '0 5 * * *'],
      ];
      const current = async () =>
        (await queue.getRepeatableJobs()).map((r) => [r.name, r.cron]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      await eventually(async () => (await current()).length === 4, 15000);
      const scheduled = async () =>
        (
          await one.sql(
            // Finished runs only: a run's row is written when it starts, so the newest one may still be running.
            `SELECT status, started_at FROM job_runs
              WHERE name = 'expire-pending' AND trigger = 'schedule' AND status <> 'running' ORDER BY started_at`,
          )
        ).map((r) => ({
          status: r.status as string,
          at: new Date(r.started_at).getTime(),
        }));
      // Let several ticks pass with both replicas consuming the queue.
      await eventually(async () => (await scheduled()).length >= 4, 30000, 200);
      expect(await current()).toEqual(expected);
      const runs = await scheduled();
      expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
      // One run per tick: consecutive runs are a tick (2 s) apart, never two for the same tick.
      for (let i = 1; i < runs.length; i++) expect(runs[i].at - runs[i - 1].at).toBeGreaterThan(1000);

      // While another run holds the job's lock, a tick is recorded as skipped (it does not wait or overlap).
      await redis.set(`${one.env.REDIS_KEY_PREFIX}:lifecycle:lock:expire-pending`, 'manual-run-elsewhere', 'PX', 30000);
      await eventually(async () => (await scheduled()).some((r) => r.status === 'skipped'), 15000, 200);
      await redis.del(`${one.env.REDIS_KEY_PREFIX}:lifecycle:lock:expire-pending`);
      const skipped = await one.sql(`SELECT error, finished_at FROM job_runs WHERE status = 'skipped' LIMIT 1`);
      expect(skipped[0].error).toContain('in progress');
    } finally {
      redis.disconnect();
      await queue.close();
    }
    const admin = api(one.baseUrl, 1, { roles: ['admin'] });
    const refused = await admin.put('/admin/clock', { advanceSeconds: 3600 });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('CLOCK_CONTROL');
    const clock = await admin.get('/admin/clock');
    expect(clock.body).toMatchObject({ controllable: false, offsetSeconds: 0 });
  });
});

describe('lifecycle jobs on the s3 driver (S3-protocol emulator)', () => {
  const S3_BUCKET = 'media-lifecycle';
  let s3: S3TestServer;
  let app: RunningApp;
  let admin: Api;
  let alice: Api;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: [S3_BUCKET] });
    app = await startApp({
      CLOCK_CONTROL: 'true',
      ...SCHEDULES_OFF,
      RECONCILE_INTERVAL_MS: '0',
      ...s3ServiceEnv(s3, S3_BUCKET),
      INTEGRITY_SCAN_BATCH_SIZE: '1',
    });
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
    alice = api(app.baseUrl, 43);
  });

  afterAll(async () => {
    await app?.stop();
    await s3?.stop();
  });

  it('lists the bucket page by page, deletes old orphans only, and tiers objects with CopyObject (StorageClass)', async () => {
    const driver = s3DriverFor(s3, S3_BUCKET);
    try {
      const bytes = Buffer.from('an s3 object that goes cold');
      const id = await readyAsset(alice, bytes, { filename: 's3.txt' });
      const key = (await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [id]))[0].object_key as string;
      const orphans = [`objects/aa/${'3'.repeat(64)}`, `uploads/43/${randomUUID()}`, `derived/${randomUUID()}/preview.webp`];
      for (const k of orphans) {
        const body = Buffer.from(`orphan ${k}`);
        await driver.write({ key: k, body: Readable.from([body]), contentType: 'text/plain', contentLength: body.length });
      }
      // Listing pages through continuation tokens (2 keys per page here).
      const listed: string[] = [];
      for await (const page of driver.listObjects({ prefix: '', pageSize: 2 })) {
        expect(page.length).toBeLessThanOrEqual(2);
        listed.push(...page.map((o) => o.key));
      }
      expect(listed.sort()).toEqual([...orphans, key].sort());

      // Nothing is old enough yet; two days later the orphans are, and only they go.
      expect((await runJob(admin, 'reconcile')).orphansTooYoung).toBe(3);
      await admin.put('/admin/clock', { advanceSeconds: 2 * DAY });
      const dry = await runJob(admin, 'reconcile', true);
      expect(dry.orphans.map((o: any) => o.key).sort()).toEqual([...orphans].sort());
      for (const k of orphans) expect(await driver.head(k)).not.toBeNull();
      const real = await runJob(admin, 'reconcile');
      expect(real.orphans.map((o: any) => o.key).sort()).toEqual([...orphans].sort());
      expect(real.missing).toEqual([]);
      for (const k of orphans) expect(await driver.head(k)).toBeNull();
      expect(await driver.head(key)).not.toBeNull();

      // Tiering: the emulator keeps the StorageClass of an in-place CopyObject (MetadataDirective REPLACE) and reports it.
      await admin.put('/admin/clock', { advanceSeconds: 91 * DAY });
      const tiered = await runJob(admin, 'tiering');
      expect(tiered.objects.map((o: any) => [o.sha256, o.to])).toEqual([[sha256(bytes), 'STANDARD_IA']]);
      const info = await driver.head(key);
      expect(info).toMatchObject({ storageClass: 'STANDARD_IA', size: bytes.length, contentType: 'text/plain' });
      expect((await alice.get(`/media/${id}`)).body.storageClass).toBe('STANDARD_IA');
      const link = await alice.get(`/media/${id}/download`);
      expect(Buffer.from(await (await fetch(link.headers.get('location')!)).arrayBuffer()).equals(bytes)).toBe(true);
      // The integrity scan reads it back from the cold class; one object per run here (INTEGRITY_SCAN_BATCH_SIZE=1),
      // least recently verified first, so two runs cover both objects.
      const second = Buffer.from('a second s3 object');
      await readyAsset(alice, second, { filename: 'second.txt' });
      const verifiedNow = async () =>
        (
          await app.sql(`SELECT checksum_sha256 AS sha FROM stored_objects WHERE last_verified_at > now() + interval '1 day' ORDER BY 1`)
        ).map((r) => r.sha);
      const scan = await runJob(admin, 'integrity-scan');
      expect(scan).toMatchObject({ checked: 1, corrupt: 0, copiesHashed: 1, bytesHashed: bytes.length });
      expect(await verifiedNow()).toEqual([sha256(bytes)]);
      const next = await runJob(admin, 'integrity-scan');
      expect(next).toMatchObject({ checked: 1, corrupt: 0, copiesHashed: 1, bytesHashed: second.length });
      expect(await verifiedNow()).toEqual([sha256(bytes), sha256(second)].sort());
    } finally {
      driver.destroy();
    }
  });
});
