/**
 * tus 1.0 resumable uploads on /tus/ with the real tus-js-client (Node) against the built service, on the local
 * driver and on the S3 emulator: upload → ready with the right SHA-256, pause/resume from the server's offset,
 * termination, auth (401, other owner 404), quota (413), a SIGKILL mid-upload, and (s3) a failed completion that
 * the client's HEAD or the start-up sweep finishes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { api, Api, sha256 } from './support/api';
import { eventually, RunningApp, startApp, token } from './support/app-process';
import { s3ServiceEnv, S3TestServer, startS3Server } from './support/s3-server';

type Driver = 'local' | 's3';

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;

interface Trace {
  /** Upload-Offset answered by each HEAD. */
  headOffsets: number[];
  /** Upload-Offset sent with each PATCH. */
  patchOffsets: number[];
}

function newTrace(): Trace {
  return { headOffsets: [], patchOffsets: [] };
}

function tusOptions(baseUrl: string, sub: number | null, trace: Trace, extra: Partial<tus.UploadOptions> = {}): tus.UploadOptions {
  return {
    endpoint: `${baseUrl}/tus/`,
    chunkSize: CHUNK,
    retryDelays: null,
    storeFingerprintForResuming: false,
    headers: sub === null ? {} : { Authorization: `Bearer ${token(sub)}` },
    metadata: { filename: 'random.bin', filetype: 'application/octet-stream' },
    onBeforeRequest: (req) => {
      if (req.getMethod() === 'PATCH') trace.patchOffsets.push(Number(req.getHeader('Upload-Offset')));
    },
    onAfterResponse: (req, res) => {
      if (req.getMethod() === 'HEAD' && res.getStatus() === 200) trace.headOffsets.push(Number(res.getHeader('Upload-Offset')));
    },
    ...extra,
  };
}

/** Runs an upload to the end; resolves with its URL. */
function runUpload(bytes: Buffer, opts: tus.UploadOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const up: tus.Upload = new tus.Upload(bytes, { ...opts, onError: reject, onSuccess: () => resolve(up.url as string) });
    up.start();
  });
}

/** Starts an upload and aborts it (without terminating) once at least `atLeast` bytes were accepted; resolves with its URL. */
function uploadPart(bytes: Buffer, atLeast: number, opts: tus.UploadOptions): Promise<{ url: string; accepted: number }> {
  return new Promise((resolve, reject) => {
    const up: tus.Upload = new tus.Upload(bytes, {
      ...opts,
      onError: reject,
      onSuccess: () => reject(new Error('upload finished before it was paused')),
      onChunkComplete: (_size, accepted) => {
        if (accepted >= atLeast) void up.abort(false).then(() => resolve({ url: up.url as string, accepted }), reject);
      },
    });
    up.start();
  });
}

const idOf = (url: string) => url.split('/').pop() as string;

describe.each<Driver>(['local', 's3'])('tus resumable uploads (%s driver)', (driverKind) => {
  let app: RunningApp;
  let s3: S3TestServer | undefined;
  let alice: Api;
  let bob: Api;

  const startS3 = (at?: { port: number; directory: string }) => startS3Server({ buckets: ['media-e2e'], ...(at ?? {}) });

  beforeAll(async () => {
    const env: Record<string, string> = { RECONCILE_INTERVAL_MS: '0' };
    if (driverKind === 's3') {
      s3 = await startS3();
      Object.assign(env, {
        ...s3ServiceEnv(s3, 'media-e2e'),
        S3_REQUEST_TIMEOUT_MS: '3000',
        STORAGE_HEALTH_CHECK_INTERVAL_MS: '500',
      });
    }
    app = await startApp(env);
    alice = api(app.baseUrl, 42);
    bob = api(app.baseUrl, 43);
  });

  afterAll(async () => {
    await app?.stop();
    await s3?.stop({ keepData: false });
  });

  const stagingDir = () => path.join(app.storageRoot, '.tus-staging');
  const waitReady = async (client: Api, id: string) => {
    const r = await client.get(`/media/${id}?waitFor=ready&timeout=25`);
    expect(r.status).toBe(200);
    return r.body;
  };

  it('uploads in chunks and the asset becomes ready with the right SHA-256; Location is /tus/<asset id>', async () => {
    const bytes = randomBytes(3 * MiB + 123);
    const trace = newTrace();
    const url = await runUpload(bytes, tusOptions(app.baseUrl, 42, trace));
    expect(url).toMatch(new RegExp(`^${app.baseUrl}/tus/[0-9a-f-]{36}$`));
    expect(trace.patchOffsets.length).toBe(Math.ceil(bytes.length / CHUNK));
    const asset = await waitReady(alice, idOf(url));
    expect(asset).toMatchObject({
      assetId: idOf(url),
      status: 'ready',
      checksumSha256: sha256(bytes),
      sizeBytes: bytes.length,
      filename: 'random.bin',
    });
    // The staged copy is gone; a HEAD still tells a resuming client that it is complete.
    expect(existsSync(path.join(stagingDir(), idOf(url)))).toBe(false);
    const head = await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${token(42)}`, 'tus-resumable': '1.0.0' } });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(bytes.length));
    expect(head.headers.get('upload-length')).toBe(String(bytes.length));
    // Downloaded bytes are the uploaded bytes.
    const link = await alice.get(`/media/${idOf(url)}/download?redirect=false`);
    expect(link.status).toBe(200);
    const got = Buffer.from(await (await fetch(link.body.url)).arrayBuffer());
    expect(sha256(got)).toBe(sha256(bytes));
  });

  it('resumes a paused upload from the offset the server reports, not from zero', async () => {
    const bytes = randomBytes(2 * MiB + 5);
    const first = newTrace();
    const { url, accepted } = await uploadPart(bytes, MiB, tusOptions(app.baseUrl, 42, first));
    expect(accepted).toBeGreaterThanOrEqual(MiB);
    expect((await alice.get(`/media/${idOf(url)}`)).body.status).toBe('pending');

    const second = newTrace();
    const resumedUrl = await runUpload(bytes, tusOptions(app.baseUrl, 42, second, { endpoint: null, uploadUrl: url }));
    expect(resumedUrl).toBe(url);
    expect(second.headOffsets).toEqual([accepted]);
    expect(second.patchOffsets[0]).toBe(accepted);
    expect(second.patchOffsets.length).toBe(Math.ceil((bytes.length - accepted) / CHUNK));
    expect(await waitReady(alice, idOf(url))).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
  });

  it('checks a checksumSha256 sent in Upload-Metadata like a declared checksum (mismatch → failed)', async () => {
    const bytes = randomBytes(MiB / 2);
    const md = (checksumSha256: string) => ({ metadata: { filename: 'sum.bin', filetype: 'application/octet-stream', checksumSha256 } });
    const good = await runUpload(bytes, tusOptions(app.baseUrl, 42, newTrace(), md(sha256(bytes))));
    expect(await waitReady(alice, idOf(good))).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
    const bad = await runUpload(bytes, tusOptions(app.baseUrl, 42, newTrace(), md(sha256(Buffer.from('other')))));
    const failed = await waitReady(alice, idOf(bad));
    expect(failed.status).toBe('failed');
    expect(failed.failureReason).toMatch(/checksum mismatch/);
  });

  it('terminates an unfinished upload: staged bytes and the pending asset are removed, the quota is freed', async () => {
    const bytes = randomBytes(MiB);
    const before = (await alice.get('/quota')).body.usage;
    const { url } = await uploadPart(bytes, CHUNK, tusOptions(app.baseUrl, 42, newTrace()));
    const id = idOf(url);
    expect((await alice.get('/quota')).body.usage.pendingBytes).toBe(before.pendingBytes + bytes.length);
    expect(existsSync(path.join(stagingDir(), id))).toBe(true);

    // Someone else may not terminate it.
    const other = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${token(43)}`, 'tus-resumable': '1.0.0' } });
    expect(other.status).toBe(404);

    await tus.Upload.terminate(url, tusOptions(app.baseUrl, 42, newTrace()));
    expect(existsSync(path.join(stagingDir(), id))).toBe(false);
    expect(existsSync(path.join(stagingDir(), `${id}.json`))).toBe(false);
    expect((await alice.get(`/media/${id}`)).status).toBe(404);
    expect((await alice.get('/quota')).body.usage.pendingBytes).toBe(before.pendingBytes);
    const head = await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${token(42)}`, 'tus-resumable': '1.0.0' } });
    expect(head.status).toBe(404);
  });

  it('answers 401 to every tus request without a valid bearer token', async () => {
    const bytes = randomBytes(CHUNK * 2);
    const { url } = await uploadPart(bytes, CHUNK, tusOptions(app.baseUrl, 42, newTrace()));
    const tusHeaders = { 'tus-resumable': '1.0.0' };
    const create = await fetch(`${app.baseUrl}/tus/`, { method: 'POST', headers: { ...tusHeaders, 'upload-length': '10' } });
    expect(create.status).toBe(401);
    expect(await create.text()).toMatch(/Authorization/);
    expect((await fetch(url, { method: 'HEAD', headers: tusHeaders })).status).toBe(401);
    const patch = await fetch(url, {
      method: 'PATCH',
      headers: { ...tusHeaders, 'upload-offset': String(CHUNK), 'content-type': 'application/offset+octet-stream' },
      body: randomBytes(10),
    });
    expect(patch.status).toBe(401);
    expect((await fetch(url, { method: 'DELETE', headers: tusHeaders })).status).toBe(401);
    const forged = await fetch(url, {
      method: 'HEAD',
      headers: { ...tusHeaders, authorization: `Bearer ${token(42, {}, 'not-the-secret-0123456789-0123456789')}` },
    });
    expect(forged.status).toBe(401);
    // tus-js-client surfaces it as an error with the status.
    await expect(runUpload(bytes, tusOptions(app.baseUrl, null, newTrace()))).rejects.toThrow(/401/);
    // Nothing was written meanwhile.
    const head = await fetch(url, { method: 'HEAD', headers: { ...tusHeaders, authorization: `Bearer ${token(42)}` } });
    expect(head.headers.get('upload-offset')).toBe(String(CHUNK));
  });

  it("hides another user's upload (404 on HEAD, PATCH, DELETE; the client cannot resume it)", async () => {
    const bytes = randomBytes(CHUNK * 2);
    const { url } = await uploadPart(bytes, CHUNK, tusOptions(app.baseUrl, 42, newTrace()));
    const asBob = { authorization: `Bearer ${token(43)}`, 'tus-resumable': '1.0.0' };
    expect((await fetch(url, { method: 'HEAD', headers: asBob })).status).toBe(404);
    const patch = await fetch(url, {
      method: 'PATCH',
      headers: { ...asBob, 'upload-offset': String(CHUNK), 'content-type': 'application/offset+octet-stream' },
      body: bytes.subarray(CHUNK),
    });
    expect(patch.status).toBe(404);
    expect((await fetch(url, { method: 'DELETE', headers: asBob })).status).toBe(404);
    await expect(runUpload(bytes, tusOptions(app.baseUrl, 43, newTrace(), { endpoint: null, uploadUrl: url }))).rejects.toThrow(/404/);
    expect((await bob.get(`/media/${idOf(url)}`)).status).toBe(404);
    // Alice's upload is untouched and still finishes.
    await runUpload(bytes, tusOptions(app.baseUrl, 42, newTrace(), { endpoint: null, uploadUrl: url }));
    expect(await waitReady(alice, idOf(url))).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
  });

  it('applies the upload-url rules at creation: 413 over quota, 400 for a bad or missing type, 501 for deferred length', async () => {
    const admin = api(app.baseUrl, 1, { roles: ['admin'] });
    expect((await admin.put('/admin/quotas/44', { maxBytes: MiB, maxAssets: null })).status).toBe(200);
    const over = runUpload(randomBytes(2 * MiB), tusOptions(app.baseUrl, 44, newTrace()));
    await expect(over).rejects.toThrow(/413/);
    await expect(over).rejects.toThrow(/exceed the storage quota/);

    const post = (headers: Record<string, string>) =>
      fetch(`${app.baseUrl}/tus/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token(44)}`, 'tus-resumable': '1.0.0', ...headers },
      });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const badType = await post({ 'upload-length': '10', 'upload-metadata': `filename ${b64('a.bin')},filetype ${b64('not a type')}` });
    expect(badType.status).toBe(400);
    expect(await badType.text()).toMatch(/filetype/);
    const noType = await post({ 'upload-length': '10', 'upload-metadata': `filename ${b64('a.bin')}` });
    expect(noType.status).toBe(400);
    expect(await noType.text()).toMatch(/"filetype"/);
    const deferred = await post({
      'upload-defer-length': '1',
      'upload-metadata': `filename ${b64('a.bin')},filetype ${b64('text/plain')}`,
    });
    expect(deferred.status).toBe(501);
    const tooBig = await post({
      'upload-length': String(6 * 1024 ** 3),
      'upload-metadata': `filename ${b64('a.bin')},filetype ${b64('text/plain')}`,
    });
    expect(tooBig.status).toBe(413);
    expect(await tooBig.text()).toMatch(/largest upload allowed/);
    // None of these left a pending asset behind.
    expect((await app.sql(`SELECT count(*)::int AS n FROM media_assets WHERE owner_id = 44`))[0].n).toBe(0);
    const options = await fetch(`${app.baseUrl}/tus/`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('tus-extension')).toBe('creation,creation-with-upload,termination,expiration');
  });

  it('survives a SIGKILL in the middle of an upload: after the restart the client resumes from the staged offset', async () => {
    const bytes = randomBytes(3 * MiB + 7);
    let killed: Promise<void> | undefined;
    const trace = newTrace();
    const upload = new Promise<string>((resolve, reject) => {
      const up: tus.Upload = new tus.Upload(bytes, {
        ...tusOptions(app.baseUrl, 42, trace),
        onProgress: (sent) => {
          // Mid-chunk, part-way through the file.
          if (!killed && sent >= MiB + CHUNK / 2) killed = app.stopProcess('SIGKILL');
        },
        onError: () => resolve(up.url as string),
        onSuccess: () => reject(new Error('upload finished although the service was killed')),
      });
      up.start();
    });
    const url = await upload;
    await killed;
    await app.restart();

    const resumed = newTrace();
    await runUpload(bytes, tusOptions(app.baseUrl, 42, resumed, { endpoint: null, uploadUrl: url }));
    expect(resumed.headOffsets).toHaveLength(1);
    expect(resumed.headOffsets[0]).toBeGreaterThanOrEqual(MiB);
    expect(resumed.headOffsets[0]).toBeLessThan(bytes.length);
    expect(resumed.patchOffsets[0]).toBe(resumed.headOffsets[0]);
    expect(await waitReady(alice, idOf(url))).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes), sizeBytes: bytes.length });
  });

  if (driverKind === 's3') {
    it('finishes an upload whose completion failed (storage down) on the next HEAD, and another at start-up', async () => {
      const at = { port: s3!.port, directory: s3!.directory };
      const bytesA = randomBytes(MiB + 1);
      const bytesB = randomBytes(MiB + 2);
      await s3!.stop({ keepData: true });
      // Every byte is staged, but moving them into storage fails: the last PATCH is a 503.
      await expect(runUpload(bytesA, tusOptions(app.baseUrl, 42, newTrace()))).rejects.toThrow(/503/);
      await expect(runUpload(bytesB, tusOptions(app.baseUrl, 42, newTrace()))).rejects.toThrow(/503/);
      const pending = await app.sql(
        `SELECT asset_id, size_bytes::int AS size FROM media_assets WHERE owner_id = 42 AND status = 'pending' ORDER BY created_at`,
      );
      const idA = pending.find((r) => r.size === bytesA.length)!.asset_id as string;
      const idB = pending.find((r) => r.size === bytesB.length)!.asset_id as string;
      expect(readdirSync(stagingDir())).toEqual(expect.arrayContaining([idA, idB]));

      s3 = await startS3(at);
      // A: the client resumes; its HEAD finishes the upload and reports it complete.
      const resumed = newTrace();
      await runUpload(bytesA, tusOptions(app.baseUrl, 42, resumed, { endpoint: null, uploadUrl: `${app.baseUrl}/tus/${idA}` }));
      expect(resumed.headOffsets).toEqual([bytesA.length]);
      expect(resumed.patchOffsets).toEqual([]);
      expect(await waitReady(alice, idA)).toMatchObject({ status: 'ready', checksumSha256: sha256(bytesA) });
      // B: no client comes back; the sweep at start-up finishes it.
      await app.stopProcess('SIGKILL');
      await app.restart();
      expect(await waitReady(alice, idB)).toMatchObject({ status: 'ready', checksumSha256: sha256(bytesB) });
      await eventually(async () => !readdirSync(stagingDir()).some((n) => n.startsWith(idA) || n.startsWith(idB)));
    });
  }
});

describe('tus expiration', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ TUS_UPLOAD_EXPIRY_SECONDS: '2', RECONCILE_INTERVAL_MS: '0' });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('refuses an expired upload (410) and the start-up sweep deletes its staged bytes and pending asset', async () => {
    const alice = api(app.baseUrl, 42);
    const bytes = randomBytes(CHUNK * 3);
    const { url } = await uploadPart(bytes, CHUNK, tusOptions(app.baseUrl, 42, newTrace()));
    const id = idOf(url);
    const created = await alice.get(`/media/${id}`);
    expect(created.body.status).toBe('pending');
    // The wall clock is what is under test (TUS_UPLOAD_EXPIRY_SECONDS=2): ask again only once the upload, created at
    // the asset's createdAt, is past that age (plus one second of rounding); nothing but time can bring it about.
    const expires = Date.parse(created.body.createdAt as string) + 2000;
    await new Promise((r) => setTimeout(r, Math.max(0, expires + 1100 - Date.now())));
    const head = await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${token(42)}`, 'tus-resumable': '1.0.0' } });
    expect(head.status).toBe(410);
    await expect(runUpload(bytes, tusOptions(app.baseUrl, 42, newTrace(), { endpoint: null, uploadUrl: url }))).rejects.toThrow(/410/);
    expect((await alice.get('/quota')).body.usage.pendingBytes).toBe(0);

    await app.restart();
    const staging = path.join(app.storageRoot, '.tus-staging');
    await eventually(async () => !existsSync(path.join(staging, id)) && !existsSync(path.join(staging, `${id}.json`)));
    expect((await app.sql(`SELECT status FROM media_assets WHERE asset_id = $1`, [id]))[0].status).toBe('deleted');
  });
});

describe('tus rate limit', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '2' });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('shares the per-caller upload-url budget: a tus creation over it gets 429 naming the limit, and no asset', async () => {
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const create = (sub: number) =>
      fetch(`${app.baseUrl}/tus/`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token(sub)}`,
          'tus-resumable': '1.0.0',
          'upload-length': '10',
          'upload-metadata': `filename ${b64('a.txt')},filetype ${b64('text/plain')}`,
        },
      });
    const alice = api(app.baseUrl, 42);
    expect((await alice.post('/media/upload-url', { filename: 'a.txt', mimeType: 'text/plain', sizeBytes: 10 })).status).toBe(201);
    expect((await create(42)).status).toBe(201);
    const over = await create(42);
    expect(over.status).toBe(429);
    expect(await over.text()).toMatch(/at most 2 per 60 s/);
    expect((await alice.post('/media/upload-url', { filename: 'a.txt', mimeType: 'text/plain', sizeBytes: 10 })).status).toBe(429);
    // Another caller has a budget of its own.
    expect((await create(43)).status).toBe(201);
    const [row] = await app.sql(`SELECT count(*)::int AS n FROM media_assets WHERE owner_id = 42`);
    expect(row.n).toBe(2);
  });
});
