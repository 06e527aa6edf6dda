/**
 * Multipart uploads end to end against the built service (child process), real PostgreSQL, Redis/Bull and, for
 * `s3`, the S3-protocol emulator (verifies SigV4; answers ListParts through test/support/s3-server.ts).
 *
 * Parts are small here (64 KiB, MULTIPART_MIN_PART_SIZE_BYTES lowered) so that the tests run in seconds: both the
 * local driver and the emulator accept parts under S3's 5 MiB minimum. Real S3 would refuse them at completion.
 *
 * Abort: the emulator answers AbortMultipartUpload with 405. On `local` the test checks the parts are dropped from
 * disk; on `s3` it checks what the service does when storage refuses: the asset is gone and out of the quota, the
 * session is recorded `aborted` with storage not released (left to the lifecycle job's sweep).
 */
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { api, Api, sha256 } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { S3Gate, startS3Gate } from './support/s3-gate';
import { s3ServiceEnv, startS3Server } from './support/s3-server';

jest.setTimeout(120_000);

type Driver = 'local' | 's3';

const KiB = 1024;
const PART = 64 * KiB;
/** 12 full parts and a short 13th: more than the 10 URLs handed out with the session. */
const SIZE = 12 * PART + 1234;

function fileOf(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Sends the signed headers and the Content-Length of the whole part, but only `partial`, then drops the connection. */
function truncatedPut(p: { url: string; headers: Record<string, string>; size: number }, partial: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(p.url, { method: 'PUT', headers: { ...p.headers, 'content-length': String(p.size) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.write(partial, () => setTimeout(() => req.destroy(), 300));
  });
}

interface SignedPart {
  partNumber: number;
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
  size: number;
}

describe.each<Driver>(['local', 's3'])('multipart uploads (%s driver)', (driverKind) => {
  let app: RunningApp;
  let stopS3: (() => Promise<void>) | undefined;
  let alice: Api;
  let bob: Api;
  let appEnv: Record<string, string>;

  beforeAll(async () => {
    const env: Record<string, string> = {
      MULTIPART_THRESHOLD_BYTES: String(256 * KiB),
      MULTIPART_PART_SIZE_BYTES: String(PART),
      MULTIPART_MIN_PART_SIZE_BYTES: String(PART),
      // Smaller than SIZE: a single PUT of SIZE is refused, multipart takes it.
      MAX_UPLOAD_BYTES: String(512 * KiB),
      MAX_MULTIPART_UPLOAD_BYTES: String(4 * 1024 * KiB),
    };
    if (driverKind === 's3') {
      const s3 = await startS3Server({ buckets: ['media-mp'] });
      stopS3 = s3.stop;
      Object.assign(env, {
        ...s3ServiceEnv(s3, 'media-mp'),
      });
    }
    appEnv = env;
    app = await startApp(env);
    alice = api(app.baseUrl, 501);
    bob = api(app.baseUrl, 502);
  });

  afterAll(async () => {
    await app?.stop();
    await stopS3?.();
  });

  const start = async (bytes: Buffer, extra: Record<string, unknown> = {}) => {
    const res = await alice.post('/media/upload-url', {
      filename: 'big.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: bytes.length,
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body as {
      assetId: string;
      method: string;
      uploadId: string;
      partSize: number;
      partCount: number;
      parts: SignedPart[];
      expiresAt: string;
    };
  };

  const sign = async (assetId: string, partNumbers: number[]): Promise<SignedPart[]> => {
    const res = await alice.post(`/media/${assetId}/parts`, { partNumbers });
    expect(res.status).toBe(200);
    return res.body.parts;
  };

  const slice = (bytes: Buffer, partSize: number, n: number) => bytes.subarray((n - 1) * partSize, Math.min(n * partSize, bytes.length));

  const putPart = async (p: SignedPart, body: Buffer) => {
    const res = await fetch(p.url, { method: p.method, headers: p.headers, body });
    await res.arrayBuffer();
    return { status: res.status, etag: res.headers.get('etag') };
  };

  const waitReady = (id: string) =>
    eventually(
      async () => {
        const r = await alice.get(`/media/${id}`);
        return ['ready', 'failed', 'quarantined'].includes(r.body?.status) ? r.body : undefined;
      },
      30_000,
      100,
    );

  /** Until the assembly of a completed upload has ended (assembled → the asset leaves pending; or failed). */
  const waitAssembly = (id: string) =>
    eventually(
      async () => {
        const r = await alice.get(`/media/${id}`);
        return r.body?.status !== 'pending' || r.body?.upload?.state !== 'assembling' ? r.body : undefined;
      },
      30_000,
      50,
    );

  it('uploads a file above the single-PUT limit in parts PUT out of order (URLs signed on demand) → ready with the right SHA-256', async () => {
    const bytes = fileOf(SIZE, 1);
    // The same size as a single PUT is refused by MAX_UPLOAD_BYTES.
    const single = await alice.post('/media/upload-url', {
      filename: 'big.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: SIZE,
      multipart: false,
    });
    expect(single.status).toBe(413);
    expect(single.body.error).toBe('PayloadTooLarge');

    const s = await start(bytes);
    expect(s).toMatchObject({ method: 'MULTIPART', partSize: PART, partCount: 13 });
    expect(s.uploadId).toBeTruthy();
    expect(s.parts.map((p) => p.partNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(s.parts[0].size).toBe(PART);
    expect(Date.parse(s.expiresAt)).toBeGreaterThan(Date.now() + 3600_000);
    const more = await sign(s.assetId, [13, 11, 12]);
    expect(more.map((p) => [p.partNumber, p.size])).toEqual([
      [11, PART],
      [12, PART],
      [13, 1234],
    ]);
    const all = [...s.parts, ...more];
    const etags = new Map<number, string>();
    // Out of order: last first, then evens, then odds.
    const order = [
      13,
      ...all.map((p) => p.partNumber).filter((n) => n % 2 === 0),
      ...all.map((p) => p.partNumber).filter((n) => n % 2 === 1 && n !== 13),
    ];
    await Promise.all(
      order.map(async (n) => {
        const r = await putPart(
          all.find((p) => p.partNumber === n)!,
          slice(bytes, PART, n),
        );
        expect(r.status).toBe(200);
        etags.set(n, r.etag!);
      }),
    );
    const pending = await alice.get(`/media/${s.assetId}`);
    expect(pending.body.status).toBe('pending');

    const parts = [...etags.entries()].map(([partNumber, etag]) => ({ partNumber, etag })).reverse();
    const done = await alice.post(`/media/${s.assetId}/complete`, { parts });
    expect(done.status).toBe(202);
    // Accepted, not yet assembled: the object is assembled in the background.
    expect(done.body).toMatchObject({ assetId: s.assetId, status: 'pending', upload: { state: 'assembling', attempts: 0, error: null } });
    const ready = await waitReady(s.assetId);
    expect(ready).toMatchObject({ status: 'ready', sizeBytes: SIZE, checksumSha256: sha256(bytes) });

    // A repeated complete answers like the single-PUT one: the current status, nothing redone.
    const again = await alice.post(`/media/${s.assetId}/complete`, { parts });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ assetId: s.assetId, status: 'ready', upload: { state: 'assembled' } });

    // The bytes downloaded are the bytes uploaded.
    const link = await alice.get(`/media/${s.assetId}/download`);
    const url = link.status === 302 ? link.headers.get('location')! : link.body.url;
    const got = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(sha256(got)).toBe(sha256(bytes));
  });

  it('resumes: some parts, then GET parts, then the rest, completed with the listed ETags', async () => {
    const bytes = fileOf(5 * PART + 7, 2);
    const s = await start(bytes);
    expect(s.partCount).toBe(6);
    for (const n of [1, 2, 4]) expect((await putPart(s.parts[n - 1], slice(bytes, PART, n))).status).toBe(200);

    const listed = await alice.get(`/media/${s.assetId}/parts`);
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ assetId: s.assetId, uploadId: s.uploadId, partSize: PART, partCount: 6 });
    expect(listed.body.parts.map((p: { partNumber: number; size: number }) => [p.partNumber, p.size])).toEqual([
      [1, PART],
      [2, PART],
      [4, PART],
    ]);
    // S3's part ETag is the part's MD5; the local driver's, without Content-MD5, its cheaper CRC32 form.
    for (const p of listed.body.parts) expect(p.etag).toMatch(driverKind === 'local' ? /^"crc32-[0-9a-f]{8}"$/ : /^"[0-9a-f]{32}"$/);

    // The client lost its URLs: sign the missing parts again and upload them.
    const have = new Set(listed.body.parts.map((p: { partNumber: number }) => p.partNumber));
    const missing = [1, 2, 3, 4, 5, 6].filter((n) => !have.has(n));
    for (const p of await sign(s.assetId, missing)) expect((await putPart(p, slice(bytes, PART, p.partNumber))).status).toBe(200);

    const final = await alice.get(`/media/${s.assetId}/parts`);
    expect(final.body.parts).toHaveLength(6);
    const done = await alice.post(`/media/${s.assetId}/complete`, {
      parts: final.body.parts.map((p: { partNumber: number; etag: string }) => ({ partNumber: p.partNumber, etag: p.etag })),
    });
    expect(done.status).toBe(202);
    expect(await waitReady(s.assetId)).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
  });

  it('refuses a list without part 3 (400 naming it), shows a part storage lacks and a wrong ETag as failed assembly (re-completable), refuses a truncated part; then completes', async () => {
    const bytes = fileOf(3 * PART + 99, 3);
    const s = await start(bytes, { multipart: true });
    expect(s.partCount).toBe(4);
    const etags: string[] = [];
    for (const n of [1, 2, 4]) etags[n] = (await putPart(s.parts[n - 1], slice(bytes, PART, n))).etag!;

    // A part shorter than signed, sent with its true Content-Length: storage refuses it (the size is signed).
    const short = await fetch(s.parts[2].url, { method: 'PUT', body: slice(bytes, PART, 3).subarray(0, PART - 10) });
    await short.arrayBuffer();
    expect(short.status).toBe(403);
    // Declaring the signed length but cut off after fewer bytes: nothing is stored either.
    expect(await truncatedPut(s.parts[2], slice(bytes, PART, 3).subarray(0, PART / 2))).not.toBe(200);
    const listed = await alice.get(`/media/${s.assetId}/parts`);
    expect(listed.body.parts.map((p: { partNumber: number }) => p.partNumber)).toEqual([1, 2, 4]);

    // Part 3 is missing from the list.
    const missing = await alice.post(`/media/${s.assetId}/complete`, {
      parts: [1, 2, 4].map((n) => ({ partNumber: n, etag: etags[n] })),
    });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: 'UploadMismatch', details: { partNumber: 3 } });
    expect(missing.body.message).toMatch(/Part 3/);

    // Part 3 is listed but storage holds no such part: found by the background check, shown on the asset and the
    // part listing; the session can be completed again.
    const notUploaded = await alice.post(`/media/${s.assetId}/complete`, {
      parts: [1, 2, 3, 4].map((n) => ({ partNumber: n, etag: etags[n] ?? '"00000000000000000000000000000000"' })),
    });
    expect(notUploaded.status).toBe(202);
    expect(notUploaded.body.upload.state).toBe('assembling');
    const failed = await waitAssembly(s.assetId);
    expect(failed).toMatchObject({ status: 'pending', upload: { state: 'failed', error: expect.stringMatching(/Part 3/) } });
    const afterFailure = await alice.get(`/media/${s.assetId}/parts`);
    expect(afterFailure.body.upload).toMatchObject({ state: 'failed', error: expect.stringMatching(/Part 3/) });
    // ?waitFor=ready answers at once too: the client has to act.
    const polled = await alice.get(`/media/${s.assetId}?waitFor=ready&timeout=30`);
    expect(polled.body.upload.state).toBe('failed');

    // Re-PUT part 3 whole, then complete with a wrong ETag for part 2.
    etags[3] = (await putPart(s.parts[2], slice(bytes, PART, 3))).etag!;
    const wrong = await alice.post(`/media/${s.assetId}/complete`, {
      parts: [1, 2, 3, 4].map((n) => ({ partNumber: n, etag: n === 2 ? etags[1] : etags[n] })),
    });
    expect(wrong.status).toBe(202);
    expect((await waitAssembly(s.assetId)).upload).toMatchObject({ state: 'failed', error: expect.stringMatching(/Part 2.*ETag/) });

    // Malformed lists are refused by validation, naming the field.
    const noParts = await alice.post(`/media/${s.assetId}/complete`, {});
    expect(noParts.status).toBe(400);
    expect(noParts.body.message).toMatch(/parts/);
    const outOfRange = await alice.post(`/media/${s.assetId}/parts`, { partNumbers: [5] });
    expect(outOfRange.status).toBe(400);
    expect(outOfRange.body.message).toMatch(/Part 5/);
    const tooMany = await alice.post(`/media/${s.assetId}/parts`, { partNumbers: Array.from({ length: 101 }, (_, i) => i + 1) });
    expect(tooMany.status).toBe(400);

    // Still completable with the right list; the ETags may come without quotes.
    const done = await alice.post(`/media/${s.assetId}/complete`, {
      parts: [1, 2, 3, 4].map((n) => ({ partNumber: n, etag: etags[n].replace(/"/g, '') })),
    });
    expect(done.status).toBe(202);
    expect(await waitReady(s.assetId)).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
  });

  it('answers complete before assembly (no worker: the upload stays assembling), and a SIGKILLed service resumes it after restart', async () => {
    const own = await startApp({ ...appEnv, WORKER_ENABLED: 'false' });
    try {
      const carol = api(own.baseUrl, 503);
      const bytes = fileOf(3 * PART + 5, 11);
      const s = (
        await carol.post('/media/upload-url', {
          filename: 'c.bin',
          mimeType: 'application/octet-stream',
          sizeBytes: bytes.length,
          multipart: true,
        })
      ).body as { assetId: string; parts: SignedPart[] };
      const parts: { partNumber: number; etag: string }[] = [];
      for (const p of s.parts) parts.push({ partNumber: p.partNumber, etag: (await putPart(p, slice(bytes, PART, p.partNumber))).etag! });
      const started = Date.now();
      const done = await carol.post(`/media/${s.assetId}/complete`, { parts });
      expect(done.status).toBe(202);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(done.body).toMatchObject({ status: 'pending', upload: { state: 'assembling' } });
      // Written down: the job is queued (the outbox relayed it) and nobody assembles it.
      await eventually(async () => (await own.sql(`SELECT count(*)::int AS n FROM outbox WHERE topic = 'multipart.assemble'`))[0].n === 0);
      const view = await carol.get(`/media/${s.assetId}`);
      expect(view.body).toMatchObject({ status: 'pending', upload: { state: 'assembling' } });
      const listed = await carol.get(`/media/${s.assetId}/parts`);
      expect(listed.body.upload.state).toBe('assembling');
      expect(listed.body.parts).toHaveLength(4);
      // A repeat while assembling answers the same; another list is refused.
      expect((await carol.post(`/media/${s.assetId}/complete`, { parts })).body.upload.state).toBe('assembling');
      const other = await carol.post(`/media/${s.assetId}/complete`, {
        parts: parts.map((p, i) => (i === 0 ? { ...p, etag: parts[1].etag } : p)),
      });
      expect(other.status).toBe(409);

      await own.stopProcess('SIGKILL');
      await own.restart({ WORKER_ENABLED: 'true' });
      const ready = await eventually(async () => {
        const r = await carol.get(`/media/${s.assetId}`);
        return ['ready', 'failed'].includes(r.body?.status) ? r.body : undefined;
      }, 30_000);
      expect(ready).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
      expect(ready.upload).toBeUndefined();
    } finally {
      await own.stop();
    }
  });

  it('keeps other users out: 404 on every multipart route for a stranger', async () => {
    const bytes = fileOf(2 * PART, 4);
    const s = await start(bytes, { multipart: true });
    expect((await bob.get(`/media/${s.assetId}/parts`)).status).toBe(404);
    expect((await bob.post(`/media/${s.assetId}/parts`, { partNumbers: [1] })).status).toBe(404);
    expect((await bob.post(`/media/${s.assetId}/complete`, { parts: [{ partNumber: 1, etag: '"x"' }] })).status).toBe(404);
    expect((await bob.del(`/media/${s.assetId}/upload`)).status).toBe(404);
    expect((await alice.get(`/media/${s.assetId}`)).body.status).toBe('pending');
  });

  it('refuses sizes over the multipart limit, and a multipart form upload', async () => {
    const tooBig = await alice.post('/media/upload-url', {
      filename: 'x.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: 4 * 1024 * KiB + 1,
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.message).toMatch(/multipart/);
    const post = await alice.post('/media/upload-url', {
      filename: 'x.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: 10,
      mode: 'post',
      multipart: true,
    });
    expect(post.status).toBe(400);
    // A small file stays a single PUT.
    const small = await alice.post('/media/upload-url', { filename: 'x.bin', mimeType: 'application/octet-stream', sizeBytes: 10 });
    expect(small.status).toBe(201);
    expect(small.body.method).toBe('PUT');
  });

  it(`aborts: the asset is gone and out of the quota${driverKind === 'local' ? ', its parts removed from disk' : '; the store refuses the abort (emulator 405), so the session stays aborted-unreleased for the lifecycle sweep'}`, async () => {
    const before = (await alice.get('/quota')).body.usage;
    const bytes = fileOf(3 * PART, 5);
    const s = await start(bytes, { multipart: true });
    for (const n of [1, 2]) expect((await putPart(s.parts[n - 1], slice(bytes, PART, n))).status).toBe(200);
    const during = (await alice.get('/quota')).body.usage;
    expect(during.bytes).toBe(before.bytes + bytes.length);
    expect(during.assets).toBe(before.assets + 1);

    const stagingDirs = () => {
      const dir = path.join(app.storageRoot, '.multipart', 'media');
      return existsSync(dir) ? readdirSync(dir) : [];
    };
    if (driverKind === 'local') expect(stagingDirs()).toContain(s.uploadId);

    const aborted = await alice.del(`/media/${s.assetId}/upload`);
    expect(aborted.status).toBe(204);
    expect((await alice.get(`/media/${s.assetId}`)).status).toBe(404);
    expect((await alice.get('/quota')).body.usage).toMatchObject({ bytes: before.bytes, assets: before.assets });
    const [row] = await app.sql(`SELECT state, storage_released FROM upload_sessions WHERE asset_id = $1`, [s.assetId]);
    if (driverKind === 'local') {
      expect(row).toEqual({ state: 'aborted', storage_released: true });
      expect(stagingDirs()).not.toContain(s.uploadId);
      // A part URL of the aborted upload no longer stores anything.
      const late = await putPart(s.parts[2], slice(bytes, PART, 3));
      expect(late.status).toBe(404);
    } else {
      expect(row).toEqual({ state: 'aborted', storage_released: false });
      expect(app.output()).toMatch(/lifecycle job will retry/);
    }
    // Repeating the abort: the asset is gone (404, like a repeated DELETE /media/{id}); completing is refused.
    expect((await alice.del(`/media/${s.assetId}/upload`)).status).toBe(404);
    expect((await alice.post(`/media/${s.assetId}/complete`, { parts: [{ partNumber: 1, etag: '"x"' }] })).status).toBe(404);
  });

  it('DELETE /media/{id} of an asset still uploading in parts also drops the upload in storage', async () => {
    const bytes = fileOf(2 * PART, 7);
    const s = await start(bytes, { multipart: true });
    expect((await putPart(s.parts[0], slice(bytes, PART, 1))).status).toBe(200);
    expect((await alice.del(`/media/${s.assetId}`)).status).toBe(204);
    const expected = driverKind === 'local' ? { state: 'aborted', storage_released: true } : { state: 'aborted', storage_released: false };
    await eventually(async () => {
      const [row] = await app.sql(`SELECT state, storage_released FROM upload_sessions WHERE asset_id = $1`, [s.assetId]);
      return row.state === expected.state && row.storage_released === expected.storage_released;
    }, 15_000);
    if (driverKind === 'local') expect(existsSync(path.join(app.storageRoot, '.multipart', 'media', s.uploadId))).toBe(false);
  });

  it('refuses to abort a completed upload (409) and a single-PUT asset (409)', async () => {
    const bytes = fileOf(PART + 5, 6);
    const s = await start(bytes, { multipart: true });
    const parts = [];
    for (const p of s.parts) parts.push({ partNumber: p.partNumber, etag: (await putPart(p, slice(bytes, PART, p.partNumber))).etag! });
    expect((await alice.post(`/media/${s.assetId}/complete`, { parts })).status).toBe(202);
    const late = await alice.del(`/media/${s.assetId}/upload`);
    expect(late.status).toBe(409);
    expect(late.body.error).toBe('AssetStateConflict');
    await waitReady(s.assetId);
    const single = await alice.post('/media/upload-url', { filename: 'x.bin', mimeType: 'application/octet-stream', sizeBytes: 10 });
    expect((await alice.del(`/media/${single.body.assetId}/upload`)).status).toBe(409);
  });
});

/**
 * Assembly against a store whose CompleteMultipartUpload is slow or failing: a real HTTP hop in front of the emulator
 * (test/support/s3-gate.ts) holds or fails that one call, so the test sees the state, not timings.
 */
describe('multipart assembly against a slow or failing store (s3 driver)', () => {
  let s3: Awaited<ReturnType<typeof startS3Server>>;
  let gate: S3Gate;
  let app: RunningApp;
  let dave: Api;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['media-gate'] });
    gate = await startS3Gate(s3);
    app = await startApp({
      ...s3ServiceEnv(gate, 'media-gate'),
      MULTIPART_THRESHOLD_BYTES: String(256 * KiB),
      MULTIPART_PART_SIZE_BYTES: String(PART),
      MULTIPART_MIN_PART_SIZE_BYTES: String(PART),
      // A worker killed mid-job loses its lock quickly, so that its job runs again within the test.
      PROCESSING_LOCK_DURATION_MS: '2000',
      PROCESSING_ATTEMPTS: '20',
    });
    dave = api(app.baseUrl, 504);
  });

  afterAll(async () => {
    await app?.stop();
    await gate?.close();
    await s3?.stop();
  });

  const uploadParts = async (bytes: Buffer) => {
    const s = (
      await dave.post('/media/upload-url', {
        filename: 'g.bin',
        mimeType: 'application/octet-stream',
        sizeBytes: bytes.length,
        multipart: true,
      })
    ).body as { assetId: string; parts: SignedPart[] };
    const parts = [];
    for (const p of s.parts) {
      const res = await fetch(p.url, {
        method: 'PUT',
        headers: p.headers,
        body: bytes.subarray((p.partNumber - 1) * PART, p.partNumber * PART),
      });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      parts.push({ partNumber: p.partNumber, etag: res.headers.get('etag')! });
    }
    return { assetId: s.assetId, parts };
  };

  const view = async (id: string) => (await dave.get(`/media/${id}`)).body;
  const settled = (id: string) =>
    eventually(async () => {
      const v = await view(id);
      return ['ready', 'failed', 'quarantined'].includes(v?.status) ? v : undefined;
    }, 60_000);

  it('answers 202 while the store is still assembling (held), then the asset goes on to ready', async () => {
    gate.setComplete('hold');
    const bytes = fileOf(2 * PART + 17, 21);
    const { assetId, parts } = await uploadParts(bytes);
    const done = await dave.post(`/media/${assetId}/complete`, { parts });
    expect(done.status).toBe(202);
    expect(done.body).toMatchObject({ status: 'pending', upload: { state: 'assembling' } });
    // The store has the request and has not answered: the service says so.
    await eventually(async () => gate.held() === 1);
    expect(await view(assetId)).toMatchObject({ status: 'pending', upload: { state: 'assembling', attempts: 0 } });
    gate.setComplete('pass');
    gate.release();
    expect(await settled(assetId)).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
  });

  it('resumes an assembly whose service was SIGKILLed while the store worked on it', async () => {
    gate.setComplete('hold');
    const bytes = fileOf(3 * PART + 5, 22);
    const { assetId, parts } = await uploadParts(bytes);
    expect((await dave.post(`/media/${assetId}/complete`, { parts })).status).toBe(202);
    await eventually(async () => gate.held() === 1);
    await app.stopProcess('SIGKILL');
    gate.drop(); // the store never saw it
    gate.setComplete('pass');
    const seen = gate.completes();
    await app.restart();
    // The stalled job runs again in the new process and completes the upload.
    expect(await settled(assetId)).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
    expect(gate.completes()).toBeGreaterThan(seen);
  });

  it('retries a store that fails CompleteMultipartUpload (500), showing the attempts, until it succeeds', async () => {
    gate.setComplete('fail');
    const bytes = fileOf(2 * PART + 3, 23);
    const { assetId, parts } = await uploadParts(bytes);
    expect((await dave.post(`/media/${assetId}/complete`, { parts })).status).toBe(202);
    const retrying = await eventually(async () => {
      const v = await view(assetId);
      return v?.upload?.attempts >= 1 ? v : undefined;
    }, 60_000);
    expect(retrying).toMatchObject({ status: 'pending', upload: { state: 'assembling', error: expect.stringMatching(/./) } });
    gate.setComplete('pass');
    expect(await settled(assetId)).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
  });
});
