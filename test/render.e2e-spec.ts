/**
 * On-the-fly transformations (GET /media/{id}/render) against the real built service: real images made with sharp
 * and ffmpeg (EXIF orientation 6 + GPS, PNG with alpha, animated GIF, 16-bit TIFF, an MP4), the rendition cache
 * (renders counted through /metrics), access and presets, bombs, a full render queue, removal and purge.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import exifr from 'exifr';
import sharp from 'sharp';
import { api, Api, sha256, uploadBytes } from './support/api';
import { MAIN_JS, REPO_ROOT, RunningApp, startApp, startReplica, token } from './support/app-process';
import { MediaApiError, MediaClient } from '@app/sdk';
import { ffmpegFile, h264TestClip, png } from './support/media-fixtures';
import { s3ServiceEnv, S3TestServer, startS3Server } from './support/s3-server';
import { waitFor, waitForOutboxDrained, withRedis } from './support/waits';

jest.setTimeout(120000);

const PRESETS = { avatar: { width: 64, height: 64, fit: 'cover' } };

/** A real PNG whose header claims `width`×`height` (a few hundred bytes; decoding it would need far more). */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const b = Buffer.from(await png(4, 4));
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b.writeUInt32BE(crc32(b.subarray(12, 29)) >>> 0, 29);
  return b;
}

/** 300×200 pixels stored with EXIF orientation 6 (shown 200×300) and a GPS position. */
function jpegOrientation6WithGps(): Promise<Buffer> {
  return sharp({ create: { width: 300, height: 200, channels: 3, background: '#c02020' } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: 'TestCam', Model: 'Serial-12345' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
    })
    .toBuffer();
}

/** GET the signed URL a 302 points at. */
async function follow(r: { status: number; headers: Headers }) {
  expect(r.status).toBe(302);
  const res = await fetch(r.headers.get('location')!);
  expect(res.status).toBe(200);
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe('on-the-fly transformations', () => {
  let app: RunningApp;
  let alice: Api;
  let bob: Api;
  let anon: Api;
  let admin: Api;
  let tmp: string;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'media-render-'));
    app = await startApp({
      TRANSFORM_PRESETS: JSON.stringify(PRESETS),
      TRANSFORM_MAX_INPUT_PIXELS: '4000000',
      TRANSFORM_CONCURRENCY: '1',
      TRANSFORM_QUEUE_SIZE: '0',
      TRANSFORM_RATE_LIMIT_PER_MINUTE: '40',
      TRANSFORM_CACHE_TTL_DAYS: '30',
      CLOCK_CONTROL: 'true',
    });
    alice = api(app.baseUrl, 42);
    bob = api(app.baseUrl, 43);
    anon = api(app.baseUrl);
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
  });
  afterAll(async () => {
    await app?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const ready = async (who: Api, bytes: Buffer, mimeType: string) => {
    const up = await uploadBytes(who, bytes, { filename: 'f', mimeType });
    expect(up.putStatus).toBe(200);
    expect((await who.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    const a = (await who.get(`/media/${up.assetId}?waitFor=ready&timeout=30`)).body;
    expect(a.status).toBe('ready');
    return a.assetId as string;
  };

  /** A counter's value from /metrics. */
  const metric = async (series: string): Promise<number> => {
    const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  const rendersOk = () => metric('media_renders_total{outcome="ok"}');

  it('applies EXIF orientation, drops GPS and camera EXIF, renders once and serves the stored rendition again', async () => {
    const source = await jpegOrientation6WithGps();
    expect((await exifr.parse(source, { gps: true })).latitude).toBeCloseTo(51.5);
    const id = await ready(alice, source, 'image/jpeg');
    const before = await rendersOk();

    const first = await alice.get(`/media/${id}/render?width=100&format=jpeg`);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.headers.get('vary') ?? '').not.toMatch(/accept/i); // format given: nothing depends on Accept (Vary: Origin is CORS')
    const { res, bytes } = await follow(first);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{64}"$/); // strong: the rendition's SHA-256
    expect(res.headers.get('cache-control')).toMatch(/^private, max-age=\d+, immutable$/);
    const meta = await sharp(bytes).metadata();
    expect([meta.width, meta.height]).toEqual([100, 150]); // 300×200 turned upright: 200×300, scaled to 100 wide
    expect(meta.orientation).toBeUndefined();
    expect(meta.exif).toBeUndefined();
    expect(await exifr.parse(bytes, { gps: true }).catch(() => undefined)).toBeFalsy();
    expect(await rendersOk()).toBe(before + 1);

    // The same rendition again: no second render (counted), the same stored object.
    const hitsBefore = await metric('media_render_cache_total{result="hit"}');
    const second = await alice.get(`/media/${id}/render?format=jpeg&width=100&redirect=false`);
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ url: expect.any(String), expiresAt: expect.any(String) });
    expect(new URL(second.body.url).pathname).toBe(new URL(first.headers.get('location')!).pathname);
    expect(await rendersOk()).toBe(before + 1);
    expect(await metric('media_render_cache_total{result="hit"}')).toBe(hitsBefore + 1);
    expect(await app.sql(`SELECT 1 FROM renditions`)).toHaveLength(1);

    // Never enlarged unless asked.
    const big = await follow(await alice.get(`/media/${id}/render?width=1000&format=png`));
    expect((await sharp(big.bytes).metadata()).width).toBe(200);
    const enlarged = await follow(await alice.get(`/media/${id}/render?width=400&format=png&enlarge=true`));
    expect((await sharp(enlarged.bytes).metadata()).width).toBe(400);
    // dpr multiplies; cover crops to the box.
    const card = await follow(await alice.get(`/media/${id}/render?width=40&height=30&fit=cover&dpr=2&format=webp`));
    expect(await sharp(card.bytes).metadata()).toMatchObject({ width: 80, height: 60, format: 'webp' });
  });

  it('picks the format from Accept (AVIF, else WebP, else JPEG) and says the answer varies by it', async () => {
    const id = await ready(
      alice,
      await sharp({ create: { width: 120, height: 90, channels: 3, background: '#08f' } })
        .png()
        .toBuffer(),
      'image/png',
    );
    const cases: [string | undefined, string][] = [
      ['image/avif,image/webp,*/*', 'heif'],
      ['image/webp,*/*;q=0.8', 'webp'],
      ['image/avif;q=0,image/webp', 'webp'],
      ['*/*', 'jpeg'],
      [undefined, 'jpeg'],
    ];
    for (const [accept, format] of cases) {
      const r = await alice.get(`/media/${id}/render?width=60`, accept ? { accept } : {});
      expect(r.headers.get('vary')?.split(/,\s*/)).toEqual(['Origin', 'Accept']); // Origin: the CORS hook's
      const { bytes } = await follow(r);
      expect((await sharp(bytes).metadata()).format).toBe(format);
    }
  });

  it('keeps PNG alpha, renders a 16-bit TIFF, animates GIFs as WebP (or their first frame) and takes a video poster frame', async () => {
    const alpha = await sharp({ create: { width: 80, height: 80, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0.4 } } })
      .png()
      .toBuffer();
    const pngId = await ready(alice, alpha, 'image/png');
    for (const format of ['png', 'webp']) {
      const { bytes } = await follow(await alice.get(`/media/${pngId}/render?width=40&format=${format}`));
      expect(await sharp(bytes).metadata()).toMatchObject({ format, hasAlpha: true, width: 40 });
    }

    const tiff = ffmpegFile(tmp, 't16.tiff', ['-f', 'lavfi', '-i', 'testsrc=size=160x120', '-frames:v', '1', '-pix_fmt', 'rgb48le']);
    expect((await sharp(tiff).metadata()).depth).toBe('ushort');
    const tiffId = await ready(alice, tiff, 'image/tiff');
    const t = await follow(await alice.get(`/media/${tiffId}/render?width=80&format=jpeg`));
    expect(await sharp(t.bytes).metadata()).toMatchObject({ format: 'jpeg', width: 80, height: 60, depth: 'uchar' });

    const gif = ffmpegFile(tmp, 'anim.gif', ['-f', 'lavfi', '-i', 'testsrc=size=120x80:rate=5', '-t', '1']);
    expect((await sharp(gif).metadata()).pages).toBeGreaterThan(1);
    const gifId = await ready(alice, gif, 'image/gif');
    const animated = await follow(await alice.get(`/media/${gifId}/render?width=60`, { accept: 'image/avif,image/webp' }));
    expect(await sharp(animated.bytes).metadata()).toMatchObject({ format: 'webp', width: 60, pages: 5 });
    const still = await follow(await alice.get(`/media/${gifId}/render?width=60&animated=false`, { accept: 'image/webp' }));
    const stillMeta = await sharp(still.bytes).metadata();
    expect(stillMeta.format).toBe('webp');
    expect(stillMeta.pages ?? 1).toBe(1);

    const mp4 = h264TestClip(tmp, 'clip.mp4', '320x240');
    const videoId = await ready(alice, mp4, 'video/mp4');
    for (const q of ['width=160&format=jpeg', 'width=160&format=webp&t=0.5']) {
      const { bytes } = await follow(await alice.get(`/media/${videoId}/render?${q}`));
      expect(await sharp(bytes).metadata()).toMatchObject({ width: 160, height: 120 });
    }
    const past = await alice.get(`/media/${videoId}/render?width=160&format=jpeg&t=60`);
    expect(past.status).toBe(400);
    expect(past.body.details).toEqual({ parameter: 't' });
  });

  it('refuses unknown, repeated and out-of-range parameters with 400 naming them', async () => {
    const id = await ready(alice, await png(32, 32), 'image/png');
    const cases: [string, string][] = [
      ['width=0', 'width'],
      ['width=4097', 'width'],
      ['width=abc', 'width'],
      ['height=-5', 'height'],
      ['fit=stretch', 'fit'],
      ['format=gif', 'format'],
      ['quality=0', 'quality'],
      ['quality=101', 'quality'],
      ['dpr=4', 'dpr'],
      ['width=2000&dpr=3', 'width'],
      ['gravity=middle', 'gravity'],
      ['enlarge=yes', 'enlarge'],
      ['t=-1', 't'],
      ['colour=red', 'colour'],
      ['width=10&width=20', 'width'],
      ['preset=nope', 'preset'],
      ['redirect=maybe', 'redirect'],
    ];
    for (const [q, parameter] of cases) {
      const r = await alice.get(`/media/${id}/render?${q}`);
      expect({ q, status: r.status, error: r.body.error, parameter: r.body.details?.parameter }).toEqual({
        q,
        status: 400,
        error: 'ValidationFailed',
        parameter,
      });
      expect(r.body.message).toContain(parameter);
    }
    // Not an image: 422.
    const text = await ready(alice, Buffer.from('just some text\n'), 'text/plain');
    expect((await alice.get(`/media/${text}/render?width=10`)).body.error).toBe('NotRenderable');
  });

  it('follows the access rule of /download, and gives anonymous callers of public assets presets only', async () => {
    const id = await ready(alice, await png(100, 100), 'image/png');
    expect((await bob.get(`/media/${id}/render?width=10`)).status).toBe(404);
    const anonPrivate = await anon.get(`/media/${id}/render?preset=avatar`);
    expect(anonPrivate.status).toBe((await anon.get(`/media/${id}/download`)).status);
    expect([401, 404]).toContain(anonPrivate.status);

    expect((await alice.post(`/media/${id}/acl`, { principal: 'user:43', permission: 'read' })).status).toBe(200);
    expect((await bob.get(`/media/${id}/render?width=10`)).status).toBe(302);

    expect((await alice.post(`/media/${id}/acl`, { principal: '*', permission: 'read' })).status).toBe(200);
    const free = await anon.get(`/media/${id}/render?width=10`);
    expect(free.status).toBe(403);
    expect(free.body.error).toBe('TransformNotAllowed');
    expect((await anon.get(`/media/${id}/render?preset=avatar&width=10`)).status).toBe(403);
    const avatar = await follow(await anon.get(`/media/${id}/render?preset=avatar`, { accept: 'image/webp' }));
    expect(avatar.res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await sharp(avatar.bytes).metadata()).toMatchObject({ format: 'webp', width: 64, height: 64 });
    // A caller with a token may combine a preset with parameters (TRANSFORMS=any).
    const combined = await follow(await bob.get(`/media/${id}/render?preset=avatar&format=png`));
    expect(await sharp(combined.bytes).metadata()).toMatchObject({ format: 'png', width: 64, height: 64 });
  });

  it('refuses a decompression bomb from its header (422) without decoding it', async () => {
    const id = await ready(alice, await pngClaiming(3000, 3000), 'image/png');
    const r = await alice.get(`/media/${id}/render?width=100`);
    expect(r.status).toBe(422);
    expect(r.body.error).toBe('ImageTooLarge');
    expect(r.body.details).toEqual({ pixels: 9_000_000, maxPixels: 4_000_000 });
  });

  it('answers 503 with Retry-After while every render slot is taken (TRANSFORM_CONCURRENCY=1, no queue)', async () => {
    const big = await sharp({
      create: { width: 1800, height: 1800, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } },
    })
      .png()
      .toBuffer();
    const id = await ready(bob, big, 'image/png');
    const answers = await Promise.all(
      [1700, 1600, 1500, 1400].map((w) => bob.get(`/media/${id}/render?width=${w}&format=webp&redirect=false`)),
    );
    const busy = answers.filter((a) => a.status === 503);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(1);
    expect(busy.length).toBeGreaterThanOrEqual(1);
    for (const b of busy) {
      expect(b.body.error).toBe('RenderBusy');
      expect(Number(b.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
  });

  it("keeps renditions while the owner holds the bytes, never shares them across owners, and removes them with the owner's last reference", async () => {
    const bytes = await sharp({ create: { width: 90, height: 60, channels: 3, background: '#3a3' } })
      .jpeg()
      .toBuffer();
    const first = await ready(alice, bytes, 'image/jpeg');
    const second = await ready(alice, bytes, 'image/jpeg'); // the same bytes (deduplicated)
    const bobs = await ready(bob, bytes, 'image/jpeg');
    const q = 'width=30&format=webp&redirect=false';

    const before = await rendersOk();
    const a1 = await alice.get(`/media/${first}/render?${q}`);
    const a2 = await alice.get(`/media/${second}/render?${q}`);
    expect(new URL(a2.body.url).pathname).toBe(new URL(a1.body.url).pathname); // one owner: shared
    expect(await rendersOk()).toBe(before + 1);
    const b1 = await bob.get(`/media/${bobs}/render?${q}`);
    expect(new URL(b1.body.url).pathname).not.toBe(new URL(a1.body.url).pathname); // another owner: rendered again
    expect(await rendersOk()).toBe(before + 2);

    const file = (url: string) => path.join(app.storageRoot, decodeURIComponent(new URL(url).pathname).replace(/^\/storage\//, ''));
    expect(existsSync(file(a1.body.url))).toBe(true);

    expect((await alice.del(`/media/${first}`)).status).toBe(204);
    await waitForOutboxDrained(app);
    expect(existsSync(file(a1.body.url))).toBe(true); // `second` still holds the bytes
    expect((await fetch(a2.body.url)).status).toBe(200);

    expect((await alice.del(`/media/${second}`)).status).toBe(204);
    await waitForOutboxDrained(app);
    expect(existsSync(file(a1.body.url))).toBe(false);
    expect(await app.sql(`SELECT 1 FROM renditions WHERE owner_id = 42 AND source_sha256 = $1`, [sha256(bytes)])).toHaveLength(0);
    expect(existsSync(file(b1.body.url))).toBe(true); // bob's are his
  });

  it('purges renditions unread for TRANSFORM_CACHE_TTL_DAYS (lifecycle expire-pending)', async () => {
    const id = await ready(alice, await png(50, 50), 'image/png');
    const r = await alice.get(`/media/${id}/render?width=20&format=png&redirect=false`);
    const key = (await app.sql(`SELECT object_key FROM renditions ORDER BY created_at DESC LIMIT 1`))[0].object_key as string;
    expect(new URL(r.body.url).pathname).toContain(key);
    expect((await admin.put('/admin/clock', { advanceSeconds: 29 * 24 * 3600 })).status).toBe(200);
    // Read on day 29: kept from the purge for another 30 days.
    expect((await alice.get(`/media/${id}/render?width=20&format=png`)).status).toBe(302);
    expect((await admin.put('/admin/clock', { advanceSeconds: 2 * 24 * 3600 })).status).toBe(200);
    const run = await admin.post('/admin/jobs/expire-pending/run');
    expect(run.status).toBe(200);
    await waitForOutboxDrained(app);
    expect(await app.sql(`SELECT 1 FROM renditions WHERE object_key = $1`, [key])).toHaveLength(1);

    expect((await admin.put('/admin/clock', { advanceSeconds: 31 * 24 * 3600 })).status).toBe(200);
    const purge = await admin.post('/admin/jobs/expire-pending/run');
    expect(purge.status).toBe(200);
    expect(purge.body.summary.extra.renditions.removed).toBeGreaterThanOrEqual(1);
    await waitForOutboxDrained(app);
    expect(await app.sql(`SELECT 1 FROM renditions WHERE object_key = $1`, [key])).toHaveLength(0);
    expect(existsSync(path.join(app.storageRoot, 'media', key))).toBe(false);
    expect((await admin.put('/admin/clock', {})).status).toBe(200);
  });

  it('heals a rendition object whose row never came (a crash between the two): reconcile deletes it after ORPHAN_GRACE_SECONDS', async () => {
    const dave = api(app.baseUrl, 45);
    const id = await ready(dave, await png(40, 40), 'image/png');
    const kept = await dave.get(`/media/${id}/render?width=10&format=png&redirect=false`);
    const orphaned = await dave.get(`/media/${id}/render?width=12&format=png&redirect=false`);
    const young = await dave.get(`/media/${id}/render?width=14&format=png&redirect=false`);
    const keyOf = (r: { body: { url: string } }) => /renditions\/[0-9a-f]{2}\/[0-9a-f]{64}/.exec(r.body.url)![0];
    const [keptKey, orphanKey, youngKey] = [keyOf(kept), keyOf(orphaned), keyOf(young)];
    const file = (key: string) => path.join(app.storageRoot, 'media', key);
    // The state a process dying between storing the object and committing its row leaves: an object no row names
    // (and a process that starts afresh, remembering no row).
    await app.sql(`DELETE FROM renditions WHERE object_key = ANY($1)`, [[orphanKey, youngKey]]);
    await app.restart();
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    for (const k of [keptKey, orphanKey]) utimesSync(file(k), old, old);
    expect([keptKey, orphanKey, youngKey].every((k) => existsSync(file(k)))).toBe(true);

    const dry = await admin.post('/admin/jobs/reconcile/run?dryRun=true');
    expect(dry.status).toBe(200);
    expect(dry.body.summary.orphans.map((o: { key: string }) => o.key)).toContain(orphanKey);
    expect(existsSync(file(orphanKey))).toBe(true);
    const run = await admin.post('/admin/jobs/reconcile/run');
    expect(run.status).toBe(200);
    const deleted = run.body.summary.orphans.map((o: { key: string }) => o.key);
    expect(deleted).toContain(orphanKey);
    expect(deleted).not.toContain(youngKey); // younger than the grace period: may be a render between object and row
    expect(deleted).not.toContain(keptKey);
    expect(existsSync(file(orphanKey))).toBe(false);
    expect(existsSync(file(youngKey))).toBe(true);
    expect(existsSync(file(keptKey))).toBe(true);
    // Asked again, the orphaned rendition is rendered and stored anew.
    const again = await dave.get(`/media/${id}/render?width=12&format=png`);
    expect((await follow(again)).bytes.length).toBeGreaterThan(0);
    expect(existsSync(file(orphanKey))).toBe(true);
  });

  it('is used by the SDK (media.renderUrl / render) and the CLI (media render <id> --width … -o file)', async () => {
    const id = await ready(alice, await jpegOrientation6WithGps(), 'image/jpeg');
    const media = new MediaClient({ baseUrl: app.baseUrl, token: token(42) });
    const link = await media.renderUrl(id, { width: 50, format: 'webp' });
    expect(link).toEqual({ url: expect.any(String), expiresAt: expect.any(String) });
    const viaUrl = await sharp(Buffer.from(await (await fetch(link.url)).arrayBuffer())).metadata();
    expect(viaUrl).toMatchObject({ format: 'webp', width: 50, height: 75 });
    const bad = await media.renderUrl(id, { width: 0 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(MediaApiError);
    expect((bad as MediaApiError).problem?.error).toBe('ValidationFailed');

    const out = path.join(tmp, 'cli-render.png');
    const cli = path.join(path.dirname(MAIN_JS), '../../cli/src/main.js');
    const run = spawnSync(process.execPath, [cli, 'render', id, '--width', '40', '-f', 'png', '-o', out], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: tmp, MEDIA_URL: app.baseUrl, MEDIA_TOKEN: token(42) },
      encoding: 'utf8',
      timeout: 60000,
    });
    expect({ code: run.status, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout.trim()).toBe(out);
    expect(await sharp(out).metadata()).toMatchObject({ format: 'png', width: 40, height: 60 });
  });

  it('limits renders that are not cached yet per caller (429), never cached ones', async () => {
    const carol = api(app.baseUrl, 44);
    const id = await ready(carol, await png(64, 64), 'image/png');
    const statuses: number[] = [];
    for (let w = 1; w <= 41; w++) statuses.push((await carol.get(`/media/${id}/render?width=${w}&format=png`)).status);
    expect(statuses.slice(0, 40).every((s) => s === 302)).toBe(true);
    expect(statuses[40]).toBe(429);
    expect((await carol.get(`/media/${id}/render?width=5&format=png`)).status).toBe(302); // cached
  });
});

describe('on-the-fly transformations on the s3 driver (emulator)', () => {
  let s3: S3TestServer;
  let app: RunningApp;
  let tmp: string;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'media-render-s3-'));
    s3 = await startS3Server({ buckets: ['render-test'] });
    app = await startApp({ ...s3ServiceEnv(s3, 'render-test'), TRANSFORMS_PUBLIC: 'any' });
  });
  afterAll(async () => {
    await app?.stop();
    await s3?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('renders images (streamed to a temporary file) and video frames (read by ffmpeg through a signed URL) from S3', async () => {
    const alice = api(app.baseUrl, 42);
    const up = await uploadBytes(alice, await jpegOrientation6WithGps(), { mimeType: 'image/jpeg' });
    await alice.post(`/media/${up.assetId}/complete`);
    expect((await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=30`)).body.status).toBe('ready');
    const { res, bytes } = await follow(await alice.get(`/media/${up.assetId}/render?width=60&format=webp`));
    expect(await sharp(bytes).metadata()).toMatchObject({ format: 'webp', width: 60, height: 90 });
    expect(res.headers.get('cache-control')).toMatch(/^private, max-age=\d+, immutable$/);

    // Public: anonymous callers (TRANSFORMS_PUBLIC=any here) get a year of shared caching.
    expect((await alice.post(`/media/${up.assetId}/acl`, { principal: '*', permission: 'read' })).status).toBe(200);
    const pub = await follow(await api(app.baseUrl).get(`/media/${up.assetId}/render?width=60&format=webp`));
    expect(pub.res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');

    const mp4 = h264TestClip(tmp, 'clip.mp4', '320x240');
    const v = await uploadBytes(alice, mp4, { mimeType: 'video/mp4' });
    await alice.post(`/media/${v.assetId}/complete`);
    expect((await alice.get(`/media/${v.assetId}?waitFor=ready&timeout=30`)).body.status).toBe('ready');
    const frame = await follow(await alice.get(`/media/${v.assetId}/render?width=80&format=png`));
    expect(await sharp(frame.bytes).metadata()).toMatchObject({ format: 'png', width: 80, height: 60 });
  });
});

describe('on-the-fly transformations across two replicas (render coalescing through Redis)', () => {
  let a: RunningApp;
  let b: RunningApp;

  beforeAll(async () => {
    const env = { TRANSFORM_CONCURRENCY: '2' };
    a = await startApp(env);
    b = await startReplica(a, env);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  const counter = async (app: RunningApp, series: string): Promise<number> => {
    const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };
  const renders = async () =>
    (await counter(a, 'media_renders_total{outcome="ok"}')) + (await counter(b, 'media_renders_total{outcome="ok"}'));
  /** A photo-like image large enough that its AVIF encode takes a while (the requests below overlap it). */
  const slowSource = () =>
    sharp({ create: { width: 2400, height: 1800, channels: 3, background: '#406080', noise: { type: 'gaussian', mean: 120, sigma: 40 } } })
      .jpeg({ quality: 90 })
      .toBuffer();
  const readyOn = async (who: Api, bytes: Buffer) => {
    const up = await uploadBytes(who, bytes, { mimeType: 'image/jpeg' });
    expect(up.putStatus).toBe(200);
    expect((await who.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    expect((await who.get(`/media/${up.assetId}?waitFor=ready&timeout=30`)).body.status).toBe('ready');
    return up.assetId;
  };
  const lockKeys = (app: RunningApp) => withRedis(app, (r) => r.keys(`${app.env.REDIS_KEY_PREFIX}:render:lock:*`));

  it('renders a rendition asked of both replicas at once only once; the others wait for it', async () => {
    const alice = api(a.baseUrl, 42);
    const aliceB = api(b.baseUrl, 42);
    const id = await readyOn(alice, await slowSource());
    const before = await renders();
    const replicaBefore =
      (await counter(a, 'media_render_cache_total{result="replica"}')) + (await counter(b, 'media_render_cache_total{result="replica"}'));
    const q = `/media/${id}/render?format=avif&quality=60&redirect=false`;
    const answers = await Promise.all([alice.get(q), aliceB.get(q), alice.get(q), aliceB.get(q), aliceB.get(q), alice.get(q)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(answers.map((r) => new URL(r.body.url).pathname)).size).toBe(1);
    expect(await renders()).toBe(before + 1);
    // The replica that did not render waited for the other's row (not a later cache hit: the requests overlapped).
    const replicaAfter =
      (await counter(a, 'media_render_cache_total{result="replica"}')) + (await counter(b, 'media_render_cache_total{result="replica"}'));
    expect(replicaAfter).toBeGreaterThan(replicaBefore);
    expect(await a.sql(`SELECT 1 FROM renditions`)).toHaveLength(1);
    expect(await lockKeys(a)).toEqual([]); // released
    const { bytes } = await follow(await api(b.baseUrl, 42).get(`/media/${id}/render?format=avif&quality=60`));
    expect(await sharp(bytes).metadata()).toMatchObject({ format: 'heif', width: 2400, height: 1800 });
  });

  it('a replica that dies holding the render lock delays the others only until the lock expires; then one of them renders', async () => {
    const alice = api(a.baseUrl, 42);
    const id = await readyOn(alice, await slowSource());
    const q = `/media/${id}/render?format=avif&quality=70&redirect=false`;
    const dying = alice.get(q).catch(() => null); // its connection breaks when the process is killed
    await waitFor(async () => (await lockKeys(a)).length === 1, {
      what: 'replica A to take the render lock',
      timeoutMs: 20000,
      everyMs: 10,
    });
    await a.stopProcess('SIGKILL');
    await dying;
    const before = await counter(b, 'media_renders_total{outcome="ok"}');
    const started = Date.now();
    const r = await api(b.baseUrl, 42).get(q);
    expect(r.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(30000); // bounded: the lock's 5 s expiry plus one render (a few seconds)
    expect(await counter(b, 'media_renders_total{outcome="ok"}')).toBe(before + 1);
    expect(
      await a.sql(`SELECT 1 FROM renditions WHERE object_key = $1`, [/renditions\/.*$/.exec(new URL(r.body.url).pathname)![0]]),
    ).toHaveLength(1);
    await a.restart();
  });
});
