/**
 * The upload pipeline end to end against the real built service (child process), real PostgreSQL, real
 * Redis/Bull and, for `s3`, a real S3-protocol server that verifies SigV4 (@20minutes/s3rver).
 */
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { LocalStorageDriver, StorageDriver } from '@app/storage';
import { api, Api, sha256, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp, token } from './support/app-process';
import { fakeExecutable, jpegWithExif, png } from './support/media-fixtures';
import { s3DriverFor, s3ServiceEnv, startS3Server } from './support/s3-server';
import { QUEUES, waitForQueuesIdle } from './support/waits';

type Driver = 'local' | 's3';

/** Sends a PUT with exactly the given headers (fetch would fix Content-Length for us). */
function rawPut(url: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve({ status: 0, body: e.code }) : reject(e),
    );
    req.end(body);
  });
}

describe.each<Driver>(['local', 's3'])('upload pipeline (%s driver)', (driverKind) => {
  let app: RunningApp;
  let storage: StorageDriver;
  let stopS3: (() => Promise<void>) | undefined;
  let alice: Api;
  let bob: Api;

  beforeAll(async () => {
    const env: Record<string, string> = {};
    if (driverKind === 's3') {
      const s3 = await startS3Server({ buckets: ['media-e2e'] });
      stopS3 = s3.stop;
      Object.assign(env, {
        ...s3ServiceEnv(s3, 'media-e2e'),
      });
      storage = s3DriverFor(s3, 'media-e2e');
    }
    app = await startApp(env);
    if (driverKind === 'local') {
      storage = new LocalStorageDriver({ root: app.storageRoot, bucket: 'media', baseUrl: app.baseUrl, signingSecret: 'x'.repeat(32) });
    }
    alice = api(app.baseUrl, 42);
    bob = api(app.baseUrl, 43);
  });

  afterAll(async () => {
    await app?.stop();
    await stopS3?.();
  });

  const waitForStatus = (client: Api, id: string, statuses: string[]) =>
    eventually(async () => {
      const r = await client.get(`/media/${id}`);
      return statuses.includes(r.body?.status) ? r.body : undefined;
    });

  const objectKeyOf = async (id: string) =>
    (await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [id]))[0].object_key as string;

  it('takes an image through upload-url → PUT → complete → ready → download → delete', async () => {
    const bytes = await jpegWithExif(64, 48);
    const res = await alice.post('/media/upload-url', { filename: 'Sommer café.jpg', mimeType: 'image/jpeg', sizeBytes: bytes.length });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      assetId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      method: 'PUT',
      uploadUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//),
      // Exactly what the client must set (Content-Length is the HTTP stack's; the signature binds the size).
      headers: { 'Content-Type': 'image/jpeg' },
      expiresAt: expect.any(String),
    });
    const expiresIn = Date.parse(res.body.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(14 * 60 * 1000);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60 * 1000);
    const id = res.body.assetId;
    expect((await alice.get(`/media/${id}`)).body.status).toBe('pending');
    if (driverKind === 's3') expect(new URL(res.body.uploadUrl).port).not.toBe(String(app.port)); // bytes go straight to storage

    const put = await fetch(res.body.uploadUrl, { method: 'PUT', headers: res.body.headers, body: bytes });
    expect(put.status).toBe(200);

    const done = await alice.post(`/media/${id}/complete`);
    expect(done.status).toBe(202);
    expect(done.body).toEqual({ assetId: id, status: 'processing' });

    const ready = await waitForStatus(alice, id, ['ready', 'failed']);
    expect(ready).toMatchObject({
      assetId: id,
      ownerId: '42',
      status: 'ready',
      filename: 'Sommer café.jpg',
      mimeType: 'image/jpeg',
      detectedMimeType: 'image/jpeg',
      sizeBytes: bytes.length,
      checksumSha256: sha256(bytes),
      failureReason: null,
    });
    expect(ready.metadata).toMatchObject({
      'media:width': '64',
      'media:height': '48',
      'media:detected_type': 'image/jpeg',
      'exif:make': 'TestCam',
      'exif:model': 'X1000',
    });
    expect(Date.parse(ready.createdAt)).toBeLessThanOrEqual(Date.parse(ready.updatedAt));
    expect(ready.readyAt).toEqual(expect.any(String));

    // Download: a 302 to a short-lived signed URL that serves the bytes with the right headers and Range.
    const dl = await alice.get(`/media/${id}/download`);
    expect(dl.status).toBe(302);
    const location = dl.headers.get('location')!;
    const full = await fetch(location);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('image/jpeg');
    expect(full.headers.get('content-disposition')).toContain(`filename*=UTF-8''Sommer%20caf%C3%A9.jpg`);
    expect(full.headers.get('etag')).toBeTruthy();
    expect(Buffer.from(await full.arrayBuffer()).equals(bytes)).toBe(true);
    const part = await fetch(location, { headers: { range: 'bytes=2-11' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 2-11/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(2, 12))).toBe(true);
    const asJson = await alice.get(`/media/${id}/download?redirect=false`);
    expect(asJson.status).toBe(200);
    expect(asJson.body.url).toEqual(expect.any(String));

    // Delete: 204, the asset is gone for its owner and its object is removed from storage.
    const key = await objectKeyOf(id);
    expect(await storage.head(key)).not.toBeNull();
    expect((await alice.del(`/media/${id}`)).status).toBe(204);
    expect((await alice.get(`/media/${id}`)).status).toBe(404);
    expect((await app.sql(`SELECT status FROM media_assets WHERE asset_id = $1`, [id]))[0].status).toBe('deleted');
    await eventually(async () => (await storage.head(key)) === null);
    expect((await alice.del(`/media/${id}`)).status).toBe(404);
  });

  it('refuses an expired upload URL with 403', async () => {
    const bytes = Buffer.from('expiring bytes');
    const res = await alice.post('/media/upload-url', {
      filename: 'a.txt',
      mimeType: 'text/plain',
      sizeBytes: bytes.length,
      expiresInSeconds: 1,
    });
    expect(res.status).toBe(201);
    // The wall clock is what is under test: the PUT must come after the URL's own expiry (whole seconds, so past
    // expiresAt plus one second of rounding), which nothing but time can bring about.
    const expiresAt = Date.parse(res.body.expiresAt as string);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt + 1100 - Date.now())));
    const put = await fetch(res.body.uploadUrl, { method: 'PUT', headers: res.body.headers, body: bytes });
    expect(put.status).toBe(403);
    expect((await alice.post(`/media/${res.body.assetId}/complete`)).status).toBe(409);
  });

  it('refuses a tampered signature with 403', async () => {
    const bytes = Buffer.from('tamper test');
    const res = await alice.post('/media/upload-url', { filename: 'a.txt', mimeType: 'text/plain', sizeBytes: bytes.length });
    const url = new URL(res.body.uploadUrl);
    const sigParam = [...url.searchParams.keys()].find((k) => /signature/i.test(k))!;
    const sig = url.searchParams.get(sigParam)!;
    url.searchParams.set(sigParam, (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    expect((await fetch(url, { method: 'PUT', headers: res.body.headers, body: bytes })).status).toBe(403);
    // Widening what the URL allows (a longer expiry) breaks the signature too.
    const widened = new URL(res.body.uploadUrl);
    for (const k of [...widened.searchParams.keys()])
      if (/expires/i.test(k)) widened.searchParams.set(k, String(Number(widened.searchParams.get(k)) + 3600));
    expect((await fetch(widened, { method: 'PUT', headers: res.body.headers, body: bytes })).status).toBe(403);
    expect(await storage.head(await objectKeyOf(res.body.assetId))).toBeNull();
  });

  it('rejects a PUT with the wrong size or the wrong content type', async () => {
    const bytes = Buffer.from('0123456789');
    const res = await alice.post('/media/upload-url', { filename: 'a.txt', mimeType: 'text/plain', sizeBytes: bytes.length });
    const bigger = Buffer.concat([bytes, Buffer.from('X')]);
    const wrongSize = await rawPut(res.body.uploadUrl, { ...res.body.headers, 'Content-Length': String(bigger.length) }, bigger);
    expect(wrongSize.status).toBeGreaterThanOrEqual(400);
    expect(wrongSize.status === 0 || wrongSize.status < 500).toBe(true);
    const wrongType = await fetch(res.body.uploadUrl, {
      method: 'PUT',
      headers: { ...res.body.headers, 'Content-Type': 'text/html' },
      body: bytes,
    });
    expect(wrongType.status).toBe(403);
    expect(await storage.head(await objectKeyOf(res.body.assetId))).toBeNull();
  });

  it('marks the asset failed when the stored bytes do not match the declared checksum', async () => {
    const bytes = Buffer.from('the declared bytes');
    const other = Buffer.from('other bytes here!!');
    expect(other.length).toBe(bytes.length);
    const res = await alice.post('/media/upload-url', {
      filename: 'a.txt',
      mimeType: 'text/plain',
      sizeBytes: bytes.length,
      checksumSha256: sha256(bytes),
    });
    expect(res.body.headers['x-amz-checksum-sha256']).toBe(Buffer.from(sha256(bytes), 'hex').toString('base64'));
    const id = res.body.assetId;
    const key = await objectKeyOf(id);
    if (driverKind === 'local') {
      // The local driver verifies the body as it streams it in: a different body is refused outright …
      const refused = await fetch(res.body.uploadUrl, { method: 'PUT', headers: res.body.headers, body: other });
      expect(refused.status).toBe(400);
      expect(await storage.head(key)).toBeNull();
      // … so to exercise server-side verification, store the right bytes and corrupt them on disk afterwards.
      expect((await fetch(res.body.uploadUrl, { method: 'PUT', headers: res.body.headers, body: bytes })).status).toBe(200);
      writeFileSync(path.join(app.storageRoot, 'media', key), other);
    } else {
      // The emulator checks the signed checksum header but not the body against it (real S3 would refuse with 400).
      expect((await fetch(res.body.uploadUrl, { method: 'PUT', headers: res.body.headers, body: other })).status).toBe(200);
    }
    expect((await alice.post(`/media/${id}/complete`)).status).toBe(202);
    const failed = await waitForStatus(alice, id, ['ready', 'failed']);
    expect(failed.status).toBe('failed');
    expect(failed.failureReason).toMatch(/checksum mismatch/);
    expect(failed.checksumSha256).toBeNull();
    expect((await alice.get(`/media/${id}/download`)).status).toBe(409);
  });

  it('does not make spoofed content ready: an executable declared as an image, text declared as a PNG', async () => {
    const exe = await uploadBytes(alice, fakeExecutable(), { filename: 'cat.png', mimeType: 'image/png' });
    const text = await uploadBytes(alice, Buffer.from('just some words, not pixels'), { filename: 'dog.png', mimeType: 'image/png' });
    expect([exe.putStatus, text.putStatus]).toEqual([200, 200]);
    for (const { assetId } of [exe, text]) expect((await alice.post(`/media/${assetId}/complete`)).status).toBe(202);
    const a = await waitForStatus(alice, exe.assetId, ['ready', 'failed']);
    expect(a.status).toBe('failed');
    expect(a.failureReason).toMatch(/executable/);
    expect(a.detectedMimeType).toBe('application/x-msdownload');
    const b = await waitForStatus(alice, text.assetId, ['ready', 'failed']);
    expect(b.status).toBe('failed');
    expect(b.failureReason).toMatch(/not a recognisable image/);
  });

  it('records a subtype mismatch but keeps both types (PNG declared as JPEG)', async () => {
    const up = await uploadBytes(alice, await png(), { filename: 'x.jpg', mimeType: 'image/jpeg' });
    await alice.post(`/media/${up.assetId}/complete`);
    const a = await waitForStatus(alice, up.assetId, ['ready', 'failed']);
    expect(a).toMatchObject({ status: 'ready', mimeType: 'image/jpeg', detectedMimeType: 'image/png' });
    expect(a.metadata['media:type_mismatch']).toBe('declared image/jpeg, detected image/png');
    const dl = await fetch((await alice.get(`/media/${up.assetId}/download`)).headers.get('location')!);
    expect(dl.headers.get('content-type')).toBe('image/png');
  });

  it('has the effect of one job when complete is called twice (even at once)', async () => {
    const bytes = Buffer.from(`idempotent ${driverKind} ${Date.now()}`);
    const up = await uploadBytes(alice, bytes, { filename: 'twice.txt', mimeType: 'text/plain', checksum: true });
    const [r1, r2] = await Promise.all([alice.post(`/media/${up.assetId}/complete`), alice.post(`/media/${up.assetId}/complete`)]);
    expect([r1.status, r2.status]).toEqual([202, 202]);
    await waitForStatus(alice, up.assetId, ['ready']);
    const again = await alice.post(`/media/${up.assetId}/complete`);
    expect(again.status).toBe(202);
    expect(again.body.status).toBe('ready');
    // Once every follow-up is relayed and no processing job is left, the three completes still counted one reference.
    await waitForQueuesIdle(app, [QUEUES.processing]);
    const objects = await app.sql(`SELECT ref_count FROM stored_objects WHERE checksum_sha256 = $1`, [sha256(bytes)]);
    expect(objects).toEqual([{ ref_count: 1 }]);
  });

  it('answers complete with 409 before any bytes were uploaded', async () => {
    const res = await alice.post('/media/upload-url', { filename: 'later.txt', mimeType: 'text/plain', sizeBytes: 3 });
    const r = await alice.post(`/media/${res.body.assetId}/complete`);
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('ObjectNotUploaded');
  });

  it('accepts a browser form upload (mode: post) within the size policy', async () => {
    const bytes = await png(8, 8);
    const res = await alice.post('/media/upload-url', {
      filename: 'form.png',
      mimeType: 'image/png',
      sizeBytes: bytes.length,
      mode: 'post',
    });
    expect(res.status).toBe(201);
    expect(res.body.method).toBe('POST');
    const form = new FormData();
    for (const [k, v] of Object.entries(res.body.fields as Record<string, string>)) form.append(k, v);
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'form.png');
    const post = await fetch(res.body.uploadUrl, { method: 'POST', body: form });
    expect(post.status).toBeLessThan(300);
    await alice.post(`/media/${res.body.assetId}/complete`);
    expect((await waitForStatus(alice, res.body.assetId, ['ready', 'failed'])).status).toBe('ready');
  });

  it('hides assets from other users (404) and refuses missing or bad tokens (401)', async () => {
    const up = await uploadBytes(alice, Buffer.from('private'), { filename: 'p.txt', mimeType: 'text/plain' });
    for (const r of [
      await bob.get(`/media/${up.assetId}`),
      await bob.get(`/media/${up.assetId}/download`),
      await bob.post(`/media/${up.assetId}/complete`),
      await bob.del(`/media/${up.assetId}`),
    ]) {
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ statusCode: 404, error: 'AssetNotFound', message: expect.stringContaining(up.assetId) });
    }
    const anon = api(app.baseUrl);
    expect((await anon.get(`/media/${up.assetId}`)).status).toBe(401);
    expect((await anon.post('/media/upload-url', { filename: 'a', mimeType: 'text/plain', sizeBytes: 1 })).status).toBe(401);
    const badSig = token(42, {}, 'some-other-secret-some-other-secret');
    const noneAlg = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"42"}').toString('base64url')}.`;
    for (const t of [badSig, noneAlg, 'garbage']) {
      const r = await anon.get(`/media/${up.assetId}`, { authorization: `Bearer ${t}` });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('Unauthenticated');
    }
    expect((await alice.get(`/media/${up.assetId}`)).status).toBe(200);
  });

  it('answers an invalid body with 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ filename: 'a.txt', mimeType: 'text/plain', sizeBytes: 'ten' }, /sizeBytes/],
      [{ filename: 'a.txt', mimeType: 'text/plain', sizeBytes: -1 }, /sizeBytes/],
      [{ filename: 'a.txt', mimeType: 'not a type', sizeBytes: 1 }, /mimeType/],
      [{ mimeType: 'text/plain', sizeBytes: 1 }, /filename/],
      [{ filename: 'a\u0007b', mimeType: 'text/plain', sizeBytes: 1 }, /filename/],
      [{ filename: 'a.txt', mimeType: 'text/plain', sizeBytes: 1, checksumSha256: 'abc' }, /checksumSha256/],
      [{ filename: 'a.txt', mimeType: 'text/plain', sizeBytes: 1, owner: 7 }, /owner/],
    ];
    for (const [body, field] of cases) {
      const r = await alice.post('/media/upload-url', body);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ statusCode: 400, error: 'ValidationFailed' });
      expect(r.body.message).toMatch(field);
    }
    const notJson = await alice.post('/media/upload-url', '{"filename":', { 'content-type': 'application/json' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/JSON/);
    const huge = await alice.post('/media/upload-url', { filename: 'a', mimeType: 'text/plain', sizeBytes: 6 * 1024 ** 4 });
    expect(huge.status).toBe(413);
    expect(huge.body.message).toMatch(/sizeBytes/);
    expect((await alice.get('/media/not-a-uuid')).status).toBe(400);
  });
});
