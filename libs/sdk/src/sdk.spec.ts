import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaApiError } from './media-api-error';
import { backoffDelay, DEFAULT_RETRY, isNetworkError } from './retry';
import { MeteredStream, RateLimiter } from './transfer';
import { ResumeStore } from './upload/resume-store';
import { chooseStrategy } from './upload/upload-strategy';
import { UPLOAD_STRATEGIES } from './media-client';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(path.join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')
        ? [path.join(dir, e.name)]
        : [],
  );
}

describe('@app/sdk', () => {
  it('stands alone: imports only Node built-ins, openapi-fetch and its own files', () => {
    const foreign = sources(__dirname).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/(?:from|require\()\s*'([^']+)'/g)]
        .map((m) => m[1])
        .filter((spec) => !spec.startsWith('node:') && !spec.startsWith('.') && spec !== 'openapi-fetch')
        .map((spec) => `${path.relative(__dirname, file)}: ${spec}`),
    );
    expect(foreign).toEqual([]);
  });

  it('backs off exponentially with jitter, capped, and honours Retry-After up to the cap', () => {
    const opts = { ...DEFAULT_RETRY, minDelayMs: 100, maxDelayMs: 1000 };
    for (let attempt = 0; attempt < 8; attempt++) {
      const exp = Math.min(1000, 100 * 2 ** attempt);
      const d = backoffDelay(attempt, opts);
      expect(d).toBeGreaterThanOrEqual(exp / 2);
      expect(d).toBeLessThanOrEqual(exp);
    }
    expect(backoffDelay(0, opts, 0)).toBe(0);
    expect(backoffDelay(0, opts, 120)).toBe(1000);
  });

  it('tells network failures from answers', () => {
    expect(isNetworkError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toBe(true);
    expect(isNetworkError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isNetworkError(new MediaApiError({ statusCode: 404, error: 'AssetNotFound', message: 'x' }))).toBe(false);
    expect(isNetworkError(new Error('boom'))).toBe(false);
  });

  it('meters and hashes a stream, and refuses one that is shorter or longer than declared', async () => {
    const seen: number[] = [];
    const meter = new MeteredStream((n) => seen.push(n), 6);
    const sink: Buffer[] = [];
    await pipeline(Readable.from([Buffer.from('abc'), Buffer.from('def')]), meter, async function (src: AsyncIterable<Buffer>) {
      for await (const c of src) sink.push(c);
    });
    expect(meter.digest()).toBe('bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721');
    expect(seen).toEqual([3, 6]);
    for (const [chunks, what] of [
      [['abc'], 'fewer'],
      [['abcdefg'], 'more'],
    ] as const) {
      const m = new MeteredStream(undefined, 6);
      const err = await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), m, async function (src: AsyncIterable<Buffer>) {
        for await (const _ of src) void _;
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MediaApiError);
      expect((err as MediaApiError).problem).toEqual({
        statusCode: 0,
        error: 'SizeMismatch',
        message: expect.stringContaining(what) as string,
      });
    }
  });

  it('picks the single PUT for a PUT grant, multipart for a MULTIPART one, and refuses grant kinds it does not know', () => {
    const put = { assetId: 'a', method: 'PUT' as const, uploadUrl: 'http://x/', headers: {}, expiresAt: '' };
    expect(chooseStrategy(UPLOAD_STRATEGIES, put).kind).toBe('single-put');
    const multipart = { assetId: 'a', method: 'MULTIPART', uploadId: 'u1', partSize: 10, partCount: 2, parts: [], expiresAt: '' } as never;
    expect(chooseStrategy(UPLOAD_STRATEGIES, multipart).kind).toBe('multipart');
    expect(() => chooseStrategy(UPLOAD_STRATEGIES, { ...put, uploadId: 'u1', parts: [] })).toThrow(
      expect.objectContaining({ code: 'UnsupportedUpload' }) as Error,
    );
    expect(() => chooseStrategy(UPLOAD_STRATEGIES, { ...put, method: 'POST' as const })).toThrow(MediaApiError);
  });

  it('spaces bytes out to a rate shared by several streams', () => {
    const limiter = new RateLimiter(1000);
    expect(limiter.delayFor(500)).toBe(0);
    const second = limiter.delayFor(500);
    expect(second).toBeGreaterThan(400);
    expect(second).toBeLessThanOrEqual(500);
    expect(limiter.delayFor(1)).toBeGreaterThan(900);
    expect(() => new RateLimiter(0)).toThrow(RangeError);
  });

  it('holds a metered stream to its rate, in 64 KiB slices, with the bytes and digest intact', async () => {
    const bytes = Buffer.alloc(320 * 1024, 7);
    const seen: number[] = [];
    const meter = new MeteredStream((n) => seen.push(n), bytes.length, new RateLimiter(1024 * 1024));
    const out: Buffer[] = [];
    const t0 = Date.now();
    await pipeline(Readable.from([bytes]), meter, async function (src: AsyncIterable<Buffer>) {
      for await (const c of src) out.push(c);
    });
    // 320 KiB at 1 MiB/s: the first slice goes at once, the other four wait ~62 ms each.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(seen).toEqual([1, 2, 3, 4, 5].map((k) => k * 64 * 1024));
    expect(Buffer.concat(out).equals(bytes)).toBe(true);
    expect(meter.digest()).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('keeps resume records per service, path, size and mtime; drops them by asset', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'resume-store-'));
    try {
      const store = new ResumeStore(path.join(dir, 'state'));
      const key = { baseUrl: 'http://a', path: '/tmp/f.bin', size: 10, mtimeMs: 1234.5 };
      const rec = {
        version: 1 as const,
        ...key,
        assetId: 'asset-1',
        uploadId: 'u',
        partSize: 5,
        partCount: 2,
        sha256: 'ab',
        expiresAt: '',
        createdAt: '',
      };
      expect(await store.load(key)).toBeNull();
      await store.save(rec);
      expect(await store.load(key)).toEqual(rec);
      for (const other of [
        { ...key, baseUrl: 'http://b' },
        { ...key, size: 11 },
        { ...key, mtimeMs: 1235 },
        { ...key, path: '/tmp/g.bin' },
      ])
        expect(await store.load(other)).toBeNull();
      expect(statSync(path.join(dir, 'state', readdirSync(path.join(dir, 'state'))[0])).mode & 0o777).toBe(0o600);
      await store.save({ ...rec, ...key, path: '/tmp/g.bin' });
      expect(await store.removeAsset('asset-1')).toBe(2);
      expect(readdirSync(path.join(dir, 'state'))).toEqual([]);
      expect(new ResumeStore().dir).toEqual(
        process.env.MEDIA_STATE_DIR ? path.resolve(process.env.MEDIA_STATE_DIR) : expect.stringMatching(/media-cli$/),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the problem body of an answer, and summarises answers that are not problems', () => {
    expect(MediaApiError.fromResponse(404, { statusCode: 404, error: 'AssetNotFound', message: 'gone' }).problem).toEqual({
      statusCode: 404,
      error: 'AssetNotFound',
      message: 'gone',
    });
    const html = MediaApiError.fromResponse(502, '<html>Bad gateway</html>');
    expect([html.status, html.code, html.message]).toEqual([502, 'Http502', '<html>Bad gateway</html>']);
  });
});
