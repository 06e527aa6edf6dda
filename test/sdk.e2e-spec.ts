/**
 * The SDK (@app/sdk: openapi-fetch over the generated types plus the hand-written upload/download layer) against
 * the real built service, on the local driver and on the S3 emulator (which verifies SigV4): upload → ready → get
 * → list → share → download → delete, its errors, retries and timeouts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { MediaApiError, MediaClient, TransferProgress } from '@app/sdk';
import { sha256 } from './support/api';
import { freePort, RunningApp, startApp, token } from './support/app-process';
import { png } from './support/media-fixtures';
import { s3ServiceEnv, startS3Server } from './support/s3-server';
import { filesUnder } from './support/files';
import { waitFor } from './support/waits';

type Driver = 'local' | 's3';

async function rejection(p: Promise<unknown>): Promise<MediaApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MediaApiError) return e;
    throw e;
  }
  throw new Error('expected a MediaApiError');
}

describe.each<Driver>(['local', 's3'])('SDK against the service (%s driver)', (driver) => {
  let app: RunningApp;
  let stopS3: (() => Promise<void>) | undefined;
  let alice: MediaClient;
  let bob: MediaClient;
  let dir: string;

  beforeAll(async () => {
    const env: Record<string, string> = {};
    if (driver === 's3') {
      const s3 = await startS3Server({ buckets: ['media-sdk'] });
      stopS3 = () => s3.stop();
      Object.assign(env, {
        ...s3ServiceEnv(s3, 'media-sdk'),
      });
    }
    app = await startApp(env);
    alice = new MediaClient({ baseUrl: app.baseUrl, token: token(42) });
    bob = new MediaClient({ baseUrl: app.baseUrl, token: token(43) });
    dir = mkdtempSync(path.join(os.tmpdir(), 'sdk-e2e-'));
  });

  afterAll(async () => {
    await app?.stop();
    await stopS3?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads a file (hashed, declared, streamed with progress), waits for ready, gets, lists, shares, downloads and deletes it', async () => {
    const bytes = await png(300, 200);
    const file = path.join(dir, 'picture.png');
    writeFileSync(file, bytes);
    const progress: TransferProgress[] = [];

    const up = await alice.uploadFile(file, { metadata: { project: `sdk-${driver}` }, onProgress: (p) => progress.push(p) });
    expect(up).toEqual({
      assetId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      sizeBytes: bytes.length,
      sha256: sha256(bytes),
      status: 'processing',
      strategy: 'single-put',
    });
    // The file was hashed (to declare the checksum), then uploaded; both phases report up to the full size.
    expect(progress.filter((p) => p.phase === 'hash').at(-1)).toEqual({ phase: 'hash', loaded: bytes.length, total: bytes.length });
    const uploads = progress.filter((p) => p.phase === 'upload').map((p) => p.loaded);
    expect(uploads.at(-1)).toBe(bytes.length);
    expect([...uploads].sort((a, b) => a - b)).toEqual(uploads);

    const ready = await alice.waitForReady(up.assetId, { timeout: 30000 });
    expect(ready).toEqual(
      expect.objectContaining({
        assetId: up.assetId,
        status: 'ready',
        checksumSha256: sha256(bytes),
        mimeType: 'image/png',
        filename: 'picture.png',
      }),
    );

    const got = await alice.getAsset(up.assetId);
    expect(got.metadata).toEqual(expect.objectContaining({ project: `sdk-${driver}` }));

    const page = await alice.listAssets({ tag: [`project:sdk-${driver}`], status: ['ready'], limit: 10 });
    expect(page.items.map((a) => a.assetId)).toEqual([up.assetId]);
    expect(page.nextCursor).toBeNull();

    // Bob cannot see it (the same 404 as a missing asset), until it is shared with him.
    const hidden = await rejection(bob.getAsset(up.assetId));
    expect(hidden.problem).toEqual({ statusCode: 404, error: 'AssetNotFound', message: expect.stringContaining(up.assetId) });
    const acl = await alice.share(up.assetId, 'user:43', 'read');
    expect(acl.entries).toEqual([{ principal: 'user:43', permission: 'read' }]);
    expect((await bob.getAsset(up.assetId)).status).toBe('ready');
    // Read does not give delete.
    expect((await rejection(bob.deleteAsset(up.assetId))).problem).toEqual(
      expect.objectContaining({ statusCode: 403, error: 'Forbidden' }),
    );

    const dest = path.join(dir, 'downloaded.png');
    const down: TransferProgress[] = [];
    const result = await bob.download(up.assetId, dest, { onProgress: (p) => down.push(p) });
    expect(result).toEqual({ bytes: bytes.length, sha256: sha256(bytes) });
    expect(readFileSync(dest).equals(bytes)).toBe(true);
    expect(down.at(-1)).toEqual({ phase: 'download', loaded: bytes.length, total: bytes.length });

    await alice.revoke(up.assetId, 'user:43', 'read');
    expect((await rejection(bob.getAsset(up.assetId))).status).toBe(404);

    await alice.deleteAsset(up.assetId);
    expect((await rejection(alice.getAsset(up.assetId))).code).toBe('AssetNotFound');
  });

  it('uploads a stream of known size (hashed on the way) and reports what it sent', async () => {
    const bytes = randomBytes(256 * 1024 + 17);
    const up = await alice.uploadFile(Readable.from([bytes.subarray(0, 100000), bytes.subarray(100000)]), {
      size: bytes.length,
      filename: 'blob.bin',
      contentType: 'application/octet-stream',
    });
    expect(up.sha256).toBe(sha256(bytes));
    const ready = await alice.waitForReady(up.assetId, { timeout: 30000 });
    expect(ready.checksumSha256).toBe(sha256(bytes));
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(c: Buffer, _e: string, cb: () => void) {
        chunks.push(c);
        cb();
      },
    });
    await alice.download(up.assetId, sink);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
  });

  it('errors carry the problem body: validation, storage refusing a wrong size, an asset that never becomes ready', async () => {
    const invalid = await rejection(alice.listAssets({ limit: 5000 }));
    expect(invalid.problem).toEqual(
      expect.objectContaining({ statusCode: 400, error: 'ValidationFailed', message: expect.stringContaining('limit') }),
    );

    // A stream shorter than its declared size: the SDK notices at its end and aborts the PUT (nothing is completed).
    const t1 = Date.now();
    const short = await rejection(
      alice.uploadFile(Readable.from([Buffer.alloc(10)]), { size: 20, filename: 'short.bin', contentType: 'application/octet-stream' }),
    );
    expect(short.problem).toEqual({ statusCode: 0, error: 'SizeMismatch', message: expect.stringContaining('declared size of 20') });
    expect(Date.now() - t1).toBeLessThan(10000);
    // Bytes other than the declared ones are never completed: the local store refuses them; the S3 emulator does
    // not check x-amz-checksum-sha256 values, so there the SDK's own comparison refuses to call complete.
    const wrong = await rejection(
      alice.uploadFile(Readable.from([Buffer.from('0123456789')]), {
        size: 10,
        filename: 'w.bin',
        contentType: 'application/octet-stream',
        checksumSha256: sha256('something else'),
      }),
    );
    if (driver === 'local') expect(wrong.problem).toEqual(expect.objectContaining({ statusCode: 400, error: 'BadDigest' }));
    else
      expect(wrong.problem).toEqual({
        statusCode: 0,
        error: 'ChecksumMismatch',
        message: expect.stringContaining(sha256('something else')),
      });

    // Pending (no bytes): waitForReady gives up at its timeout, not before and not much after.
    const grant = await alice.api.POST('/media/upload-url', {
      body: { filename: 'never.bin', mimeType: 'application/octet-stream', sizeBytes: 5 },
    });
    const id = grant.data!.assetId;
    const t0 = Date.now();
    const timedOut = await rejection(alice.waitForReady(id, { timeout: 1500 }));
    const took = Date.now() - t0;
    expect(timedOut.code).toBe('Timeout');
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(8000);
    expect(
      (
        await rejection(
          alice.api.POST('/media/{id}/complete', { params: { path: { id } }, body: {} }).then((r) => {
            if (r.error) throw MediaApiError.fromResponse(r.response.status, r.error);
          }),
        )
      ).code,
    ).toBe('ObjectNotUploaded');
  });

  if (driver === 'local') {
    it('retries 5xx answers with backoff, and says so clearly when the service cannot be reached', async () => {
      // A proxy in front of the real service that answers the first two requests with 503.
      let seen = 0;
      const proxy = http.createServer(
        (req, res) =>
          void (async () => {
            seen++;
            if (seen <= 2) {
              res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
              return void res.end(JSON.stringify({ statusCode: 503, error: 'ServiceUnavailable', message: 'try again' }));
            }
            const upstream = await fetch(`${app.baseUrl}${req.url}`, {
              headers: { authorization: String(req.headers.authorization ?? '') },
            });
            res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
            res.end(Buffer.from(await upstream.arrayBuffer()));
          })(),
      );
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
      try {
        const viaProxy = new MediaClient({
          baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
          token: token(42),
          retry: { minDelayMs: 20 },
        });
        const page = await viaProxy.listAssets({ limit: 1 });
        expect(Array.isArray(page.items)).toBe(true);
        expect(seen).toBe(3);
        // Out of retries: the last problem body is what the caller gets.
        seen = -10;
        const gaveUp = await rejection(
          new MediaClient({
            baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
            token: token(42),
            retry: { retries: 2, minDelayMs: 10 },
          }).listAssets(),
        );
        expect(gaveUp.problem).toEqual({ statusCode: 503, error: 'ServiceUnavailable', message: 'try again' });
        expect(seen).toBe(-7);
      } finally {
        await new Promise((r) => proxy.close(r));
      }

      const nowhere = new MediaClient({
        baseUrl: `http://127.0.0.1:${await freePort()}`,
        token: token(42),
        retry: { retries: 2, minDelayMs: 10 },
      });
      const unreachable = await rejection(nowhere.getAsset('00000000-0000-4000-8000-000000000000'));
      expect(unreachable.problem).toEqual({ statusCode: 0, error: 'NetworkError', message: expect.stringContaining('ECONNREFUSED') });
    });
  }
});

/**
 * Multipart through the SDK (local driver): the service's PUBLIC_BASE_URL — where the local driver's part URLs
 * point — and the SDK's base URL are a small forwarding proxy in this process, which sees every request. It holds
 * each part PUT for 100 ms (so parallel parts overlap visibly), drops the connection of the first PUT of part 2
 * (a network error: retried with backoff) and answers the first PUT of part 3 with 403 (as for an expired URL:
 * signed again, then sent again).
 */
describe('SDK multipart uploads (local driver, through a proxy)', () => {
  const KiB = 1024;
  const PART = 64 * KiB;
  const SIZE = 20 * PART + 1000;
  let app: RunningApp;
  let proxy: http.Server;
  let proxyUrl: string;
  let client: MediaClient;
  let dir: string;
  let puts: number[] = [];
  let signed: number[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let faults = { drop: 0, deny: 0 };
  let onPartPut: ((n: number) => void) | undefined;

  beforeAll(async () => {
    proxy = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      const part = req.method === 'PUT' ? Number(url.searchParams.get('X-Media-Part') ?? 0) : 0;
      const forward = () => {
        const up = http.request(
          { host: '127.0.0.1', port: app.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        up.on('error', () => res.destroy());
        req.pipe(up);
      };
      if (req.method === 'POST' && /^\/media\/[^/]+\/parts$/.test(url.pathname)) {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => signed.push(JSON.parse(body).partNumbers));
      }
      if (!part) return forward();
      puts.push(part);
      onPartPut?.(part);
      if (part === 2 && faults.drop-- > 0) return void req.socket.destroy();
      if (part === 3 && faults.deny-- > 0) {
        req.resume();
        res.writeHead(403, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ statusCode: 403, error: 'AccessDenied', message: 'The signed URL has expired' }));
      }
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      req.pause();
      setTimeout(forward, 100);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    app = await startApp({
      PUBLIC_BASE_URL: proxyUrl,
      MULTIPART_THRESHOLD_BYTES: String(256 * KiB),
      MULTIPART_PART_SIZE_BYTES: String(PART),
      MULTIPART_MIN_PART_SIZE_BYTES: String(PART),
    });
    client = new MediaClient({ baseUrl: proxyUrl, token: token(61), retry: { minDelayMs: 20 } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'sdk-mp-'));
  });

  beforeEach(() => {
    puts = [];
    signed = [];
    maxInFlight = 0;
    faults = { drop: 0, deny: 0 };
    onPartPut = undefined;
  });

  afterAll(async () => {
    await app?.stop();
    await new Promise((r) => proxy?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends the parts of a file in parallel, signs more URLs on demand, retries a dropped part and re-signs a refused one; ready, same bytes', async () => {
    const bytes = randomBytes(SIZE);
    const file = path.join(dir, 'big.bin');
    writeFileSync(file, bytes);
    faults = { drop: 1, deny: 1 };
    const progress: TransferProgress[] = [];

    const up = await client.uploadFile(file, { partConcurrency: 4, onProgress: (p) => progress.push(p) });
    expect(up).toEqual({
      assetId: expect.any(String),
      sizeBytes: SIZE,
      sha256: sha256(bytes),
      // The SDK waits for the background assembly after complete: by then processing may have ended too.
      status: expect.stringMatching(/^(processing|ready)$/),
      strategy: 'multipart',
      parts: { total: 21, sent: 21, resumed: 0 },
    });
    // Every part once, but part 2 (dropped once) and part 3 (refused once) twice.
    const counts = new Map<number, number>();
    for (const n of puts) counts.set(n, (counts.get(n) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect([counts.get(2), counts.get(3), puts.length]).toEqual([2, 2, 23]);
    // Parallel, within the bound.
    expect(maxInFlight).toBeGreaterThanOrEqual(2);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    // The grant carried parts 1–10; the rest were signed on demand, in batches, and part 3 again after its 403.
    expect(
      signed
        .flat()
        .filter((n) => n > 10)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 11 }, (_, i) => i + 11));
    expect(signed.some((batch) => batch.includes(3))).toBe(true);
    expect(signed.every((batch) => batch.length <= 100)).toBe(true);
    // Progress: the sum over the parts, reaching the whole size.
    expect(progress.filter((p) => p.phase === 'upload').at(-1)).toEqual({ phase: 'upload', loaded: SIZE, total: SIZE });

    const ready = await client.waitForReady(up.assetId, { timeout: 30000 });
    expect(ready).toEqual(expect.objectContaining({ status: 'ready', sizeBytes: SIZE, checksumSha256: sha256(bytes) }));
    const dest = path.join(dir, 'back.bin');
    expect(await client.download(up.assetId, dest)).toEqual({ bytes: SIZE, sha256: sha256(bytes) });
    expect(readFileSync(dest).equals(bytes)).toBe(true);
  });

  it('a stream of known size goes multipart when asked (parts read in order, hashed on the way)', async () => {
    const bytes = randomBytes(5 * PART + 77);
    const chunks = Array.from({ length: 23 }, (_, i) =>
      bytes.subarray(Math.floor((i * bytes.length) / 23), Math.floor(((i + 1) * bytes.length) / 23)),
    );
    faults = { drop: 1, deny: 0 };
    const up = await client.uploadFile(Readable.from(chunks), {
      size: bytes.length,
      filename: 's.bin',
      contentType: 'application/octet-stream',
      multipart: true,
    });
    expect(up).toEqual(expect.objectContaining({ sha256: sha256(bytes), strategy: 'multipart', parts: { total: 6, sent: 6, resumed: 0 } }));
    expect((await client.waitForReady(up.assetId, { timeout: 30000 })).checksumSha256).toBe(sha256(bytes));
    // A stream shorter than declared fails cleanly, nothing completed.
    const short = await rejection(
      client.uploadFile(Readable.from([bytes.subarray(0, 2 * PART)]), {
        size: 3 * PART,
        filename: 'short.bin',
        contentType: 'application/octet-stream',
        multipart: true,
      }),
    );
    expect(short.code).toBe('SizeMismatch');
  });

  it('resumes an interrupted upload from its record (only the missing parts); abortUpload and stale records start afresh', async () => {
    const bytes = randomBytes(SIZE);
    const file = path.join(dir, 'resume.bin');
    writeFileSync(file, bytes);
    const stateDir = path.join(dir, 'state');
    const records = () => (existsSync(stateDir) ? readdirSync(stateDir).filter((f) => f.endsWith('.json')) : []);

    // Interrupted once 4 part PUTs have started (concurrency 2).
    const interrupt = async () => {
      const stop = new AbortController();
      onPartPut = () => {
        if (puts.length >= 4) stop.abort();
      };
      const e = await rejection(client.uploadFile(file, { resume: true, stateDir, partConcurrency: 2, signal: stop.signal }));
      expect(e.code).toBe('Aborted');
      onPartPut = undefined;
      expect(records()).toHaveLength(1);
      return JSON.parse(readFileSync(path.join(stateDir, records()[0]), 'utf8')) as { assetId: string; uploadId: string };
    };

    const rec = await interrupt();
    // The aborted part PUTs end on the service a moment later; each holds a claim file until its body has ended
    // (stored or dropped). Wait until the parts sent before the interruption are listed and no part body is still
    // streaming, so the listing is final.
    // Claims are symbolic links (their target is the claim's record).
    const partClaims = () =>
      filesUnder(path.join(app.storageRoot, '.uploading'), { symlinks: true }).filter((f) => f.includes(`${path.sep}parts${path.sep}`));
    const held = await waitFor(
      async () => {
        const listed = (await client.api.GET('/media/{id}/parts', { params: { path: { id: rec.assetId } } })).data!;
        return listed.parts.length >= 1 && partClaims().length === 0 ? listed : undefined;
      },
      { what: 'the parts sent before the interruption to be stored, and no part upload still streaming' },
    );
    expect(held.uploadId).toBe(rec.uploadId);
    expect(held.parts.length).toBeGreaterThanOrEqual(1);
    expect(held.parts.length).toBeLessThan(21);
    puts = [];
    const resumes: unknown[] = [];
    const up = await client.uploadFile(file, { resume: true, stateDir, onResume: (r) => resumes.push(r) });
    expect(resumes).toEqual([{ assetId: rec.assetId, storedParts: held.parts.length, partCount: 21 }]);
    expect(up).toEqual(
      expect.objectContaining({
        assetId: rec.assetId,
        sha256: sha256(bytes),
        parts: { total: 21, sent: 21 - held.parts.length, resumed: held.parts.length },
      }),
    );
    expect(puts.length).toBe(21 - held.parts.length);
    expect(records()).toEqual([]);
    expect((await client.waitForReady(up.assetId, { timeout: 30000 })).checksumSha256).toBe(sha256(bytes));

    // abortUpload: the pending asset goes, and so does its record.
    const rec2 = await interrupt();
    await client.abortUpload(rec2.assetId, { stateDir });
    expect(records()).toEqual([]);
    expect((await rejection(client.getAsset(rec2.assetId))).code).toBe('AssetNotFound');

    // A stale record (its asset deleted meanwhile) is dropped: a fresh upload, no resume.
    const rec3 = await interrupt();
    await client.deleteAsset(rec3.assetId);
    const fresh = await client.uploadFile(file, { resume: true, stateDir, onResume: (r) => resumes.push(r) });
    expect(resumes).toHaveLength(1);
    expect(fresh.assetId).not.toBe(rec3.assetId);
    expect(fresh.parts).toEqual({ total: 21, sent: 21, resumed: 0 });
    expect(records()).toEqual([]);
  });
});
