/**
 * The SDK (@app/sdk: openapi-fetch over the generated types plus the hand-written upload/download layer) against
 * the real built service, on the local driver and on the S3 emulator (which verifies SigV4): upload → ready → get
 * → list → share → download → delete, its errors, retries and timeouts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { MediaApiError, MediaClient, TransferProgress } from '@app/sdk';
import { sha256 } from './support/api';
import { freePort, RunningApp, startApp, token } from './support/app-process';
import { png } from './support/media-fixtures';
import { startS3Server } from './support/s3-server';

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
        STORAGE_DRIVER: 's3',
        STORAGE_BUCKET: 'media-sdk',
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
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
    expect(up).toEqual({ assetId: expect.stringMatching(/^[0-9a-f-]{36}$/), sizeBytes: bytes.length, sha256: sha256(bytes), status: 'processing', strategy: 'single-put' });
    // The file was hashed (to declare the checksum), then uploaded; both phases report up to the full size.
    expect(progress.filter((p) => p.phase === 'hash').at(-1)).toEqual({ phase: 'hash', loaded: bytes.length, total: bytes.length });
    const uploads = progress.filter((p) => p.phase === 'upload').map((p) => p.loaded);
    expect(uploads.at(-1)).toBe(bytes.length);
    expect([...uploads].sort((a, b) => a - b)).toEqual(uploads);

    const ready = await alice.waitForReady(up.assetId, { timeout: 30000 });
    expect(ready).toEqual(expect.objectContaining({ assetId: up.assetId, status: 'ready', checksumSha256: sha256(bytes), mimeType: 'image/png', filename: 'picture.png' }));

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
    expect((await rejection(bob.deleteAsset(up.assetId))).problem).toEqual(expect.objectContaining({ statusCode: 403, error: 'Forbidden' }));

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
    const sink = new (require('node:stream').Writable)({
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
    expect(invalid.problem).toEqual(expect.objectContaining({ statusCode: 400, error: 'ValidationFailed', message: expect.stringContaining('limit') }));

    // A stream shorter than its declared size: the SDK notices at its end and aborts the PUT (nothing is completed).
    const t1 = Date.now();
    const short = await rejection(alice.uploadFile(Readable.from([Buffer.alloc(10)]), { size: 20, filename: 'short.bin', contentType: 'application/octet-stream' }));
    expect(short.problem).toEqual({ statusCode: 0, error: 'SizeMismatch', message: expect.stringContaining('declared size of 20') });
    expect(Date.now() - t1).toBeLessThan(10000);
    // Bytes other than the declared ones are never completed: the local store refuses them; the S3 emulator does
    // not check x-amz-checksum-sha256 values, so there the SDK's own comparison refuses to call complete.
    const wrong = await rejection(
      alice.uploadFile(Readable.from([Buffer.from('0123456789')]), { size: 10, filename: 'w.bin', contentType: 'application/octet-stream', checksumSha256: sha256('something else') }),
    );
    if (driver === 'local') expect(wrong.problem).toEqual(expect.objectContaining({ statusCode: 400, error: 'BadDigest' }));
    else expect(wrong.problem).toEqual({ statusCode: 0, error: 'ChecksumMismatch', message: expect.stringContaining(sha256('something else')) });

    // Pending (no bytes): waitForReady gives up at its timeout, not before and not much after.
    const grant = await alice.api.POST('/media/upload-url', { body: { filename: 'never.bin', mimeType: 'application/octet-stream', sizeBytes: 5 } });
    const id = grant.data!.assetId;
    const t0 = Date.now();
    const timedOut = await rejection(alice.waitForReady(id, { timeout: 1500 }));
    const took = Date.now() - t0;
    expect(timedOut.code).toBe('Timeout');
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(8000);
    expect((await rejection(alice.api.POST('/media/{id}/complete', { params: { path: { id } }, body: {} }).then((r) => {
      if (r.error) throw MediaApiError.fromResponse(r.response.status, r.error);
    }))).code).toBe('ObjectNotUploaded');
  });

  if (driver === 'local') {
    it('retries 5xx answers with backoff, and says so clearly when the service cannot be reached', async () => {
      // A proxy in front of the real service that answers the first two requests with 503.
      let seen = 0;
      const proxy = http.createServer(async (req, res) => {
        seen++;
        if (seen <= 2) {
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
          return void res.end(JSON.stringify({ statusCode: 503, error: 'ServiceUnavailable', message: 'try again' }));
        }
        const upstream = await fetch(`${app.baseUrl}${req.url}`, { headers: { authorization: String(req.headers.authorization ?? '') } });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
      try {
        const viaProxy = new MediaClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, token: token(42), retry: { minDelayMs: 20 } });
        const page = await viaProxy.listAssets({ limit: 1 });
        expect(Array.isArray(page.items)).toBe(true);
        expect(seen).toBe(3);
        // Out of retries: the last problem body is what the caller gets.
        seen = -10;
        const gaveUp = await rejection(new MediaClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, token: token(42), retry: { retries: 2, minDelayMs: 10 } }).listAssets());
        expect(gaveUp.problem).toEqual({ statusCode: 503, error: 'ServiceUnavailable', message: 'try again' });
        expect(seen).toBe(-7);
      } finally {
        await new Promise((r) => proxy.close(r));
      }

      const nowhere = new MediaClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, token: token(42), retry: { retries: 2, minDelayMs: 10 } });
      const unreachable = await rejection(nowhere.getAsset('00000000-0000-4000-8000-000000000000'));
      expect(unreachable.problem).toEqual({ statusCode: 0, error: 'NetworkError', message: expect.stringContaining('ECONNREFUSED') });
    });
  }
});
