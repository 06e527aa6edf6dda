/**
 * Derived media: WebP thumbnail (made before ready) and preview (made on its first request: DERIVED_MEDIA_EAGER's
 * default) of images (sharp), decompression bombs refused, audio/video facts
 * (ffprobe from Debian's ffmpeg, installed by scripts/clamd.sh install).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { api, Api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { png } from './support/media-fixtures';

// The e2e project's testTimeout is not applied per project by jest; bound every test and hook here.
jest.setTimeout(60000);

/** A real PNG whose header claims `width`×`height` (a few hundred bytes; decoding it would need gigabytes). */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const b = Buffer.from(await png(4, 4));
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b.writeUInt32BE(crc32(b.subarray(12, 29)) >>> 0, 29); // IHDR CRC over type + data
  return b;
}

describe('derived media', () => {
  let app: RunningApp;
  let alice: Api;
  let tmp: string;

  beforeAll(async () => {
    app = await startApp({ IMAGE_MAX_PIXELS: '4000000' });
    alice = api(app.baseUrl, 42);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'media-derived-'));
  });
  afterAll(async () => {
    await app?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const ready = async (bytes: Buffer, mimeType: string, filename = 'f') => {
    const up = await uploadBytes(alice, bytes, { filename, mimeType });
    expect(up.putStatus).toBe(200);
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    return (await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=30`)).body;
  };

  it('makes a 256 px thumbnail and a 1024 px preview (WebP, smaller than the original) and removes them with the asset', async () => {
    const original = await sharp({
      create: { width: 1600, height: 1200, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 120, sigma: 40 } },
    })
      .jpeg({ quality: 90 })
      .toBuffer();
    const a = await ready(original, 'image/jpeg', 'photo.jpg');
    expect(a.status).toBe('ready');

    const sizes: Record<string, [number, number]> = { thumbnail: [256, 192], preview: [1024, 768] };
    const keys: string[] = [];
    for (const [kind, [w, h]] of Object.entries(sizes)) {
      const r = await alice.get(`/media/${a.assetId}/${kind}`);
      expect(r.status).toBe(302);
      const img = await fetch(r.headers.get('location')!);
      expect(img.status).toBe(200);
      expect(img.headers.get('content-type')).toBe('image/webp');
      const bytes = Buffer.from(await img.arrayBuffer());
      expect(bytes.length).toBeLessThan(original.length);
      expect(await sharp(bytes).metadata()).toMatchObject({ format: 'webp', width: w, height: h });
      const json = await alice.get(`/media/${a.assetId}/${kind}?redirect=false`);
      expect(json.body).toEqual({ url: expect.any(String), expiresAt: expect.any(String) });
      keys.push(
        ...(await app.sql(`SELECT object_key FROM asset_derivatives WHERE asset_id = $1 AND kind = $2`, [a.assetId, kind])).map(
          (r) => r.object_key,
        ),
      );
    }
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(existsSync(path.join(app.storageRoot, 'media', k))).toBe(true);

    // Someone else: 404, as for the asset itself.
    expect((await api(app.baseUrl, 43).get(`/media/${a.assetId}/thumbnail`)).status).toBe(404);

    expect((await alice.del(`/media/${a.assetId}`)).status).toBe(204);
    await eventually(async () => keys.every((k) => !existsSync(path.join(app.storageRoot, 'media', k))));
    await eventually(
      async () => (await app.sql(`SELECT count(*)::int AS n FROM asset_derivatives WHERE asset_id = $1`, [a.assetId]))[0].n === 0,
    );
  });

  it('makes only the eager thumbnail before ready; the preview on its first request, once for concurrent requests, then kept', async () => {
    const original = await sharp({
      create: { width: 1200, height: 900, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 100, sigma: 30 } },
    })
      .jpeg({ quality: 85 })
      .toBuffer();
    const a = await ready(original, 'image/jpeg', 'lazy.jpg');
    expect(a.status).toBe('ready');
    const kinds = async () =>
      (await app.sql(`SELECT kind FROM asset_derivatives WHERE asset_id = $1 ORDER BY kind`, [a.assetId])).map((r) => r.kind);
    expect(await kinds()).toEqual(['thumbnail']); // DERIVED_MEDIA_EAGER's default
    const previewFile = path.join(app.storageRoot, 'media', `derived/${a.assetId}/preview.webp`);
    expect(existsSync(previewFile)).toBe(false);

    // Five at once: every one gets the preview, one render and one row.
    const answers = await Promise.all(Array.from({ length: 5 }, () => alice.get(`/media/${a.assetId}/preview?redirect=false`)));
    for (const r of answers) expect(r.status).toBe(200);
    expect(await kinds()).toEqual(['preview', 'thumbnail']);
    const bytes = Buffer.from(await (await fetch(answers[0].body.url)).arrayBuffer());
    expect(await sharp(bytes).metadata()).toMatchObject({ format: 'webp', width: 1024, height: 768 });
    const [row] = await app.sql(
      `SELECT size_bytes::int AS size, width, height FROM asset_derivatives WHERE asset_id = $1 AND kind = 'preview'`,
      [a.assetId],
    );
    expect(row).toEqual({ size: bytes.length, width: 1024, height: 768 });
    const writtenAt = statSync(previewFile).mtimeMs;
    // Later requests serve the stored one (not rendered again).
    expect((await alice.get(`/media/${a.assetId}/preview`)).status).toBe(302);
    expect(statSync(previewFile).mtimeMs).toBe(writtenAt);
    // Someone else: 404, and nothing rendered for them.
    expect((await api(app.baseUrl, 43).get(`/media/${a.assetId}/preview`)).status).toBe(404);
  });

  it('makes a derivative again when its file is short or gone (derivatives are written without fsync)', async () => {
    const original = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#3a6' } })
      .jpeg()
      .toBuffer();
    const a = await ready(original, 'image/jpeg', 'torn.jpg');
    const file = path.join(app.storageRoot, 'media', `derived/${a.assetId}/thumbnail.webp`);
    const [{ size }] = await app.sql(`SELECT size_bytes::int AS size FROM asset_derivatives WHERE asset_id = $1 AND kind = 'thumbnail'`, [
      a.assetId,
    ]);
    expect(statSync(file).size).toBe(size);
    // What a power loss can leave of a file renamed into place before its bytes reached the disk: empty, then nothing.
    for (const damage of [() => truncateSync(file, 0), () => unlinkSync(file)]) {
      damage();
      const r = await alice.get(`/media/${a.assetId}/thumbnail?redirect=false`);
      expect(r.status).toBe(200);
      const bytes = Buffer.from(await (await fetch(r.body.url)).arrayBuffer());
      expect(bytes.length).toBe(statSync(file).size);
      expect(await sharp(bytes).metadata()).toMatchObject({ format: 'webp', width: 256, height: 192 });
      const [row] = await app.sql(`SELECT size_bytes::int AS size FROM asset_derivatives WHERE asset_id = $1 AND kind = 'thumbnail'`, [
        a.assetId,
      ]);
      expect(row.size).toBe(bytes.length);
    }
  });

  it('answers 404 (not 500) for the derivatives of an image libvips cannot decode, which is still ready', async () => {
    // JPEG magic and a JFIF header, then bytes that are no JPEG: accepted as image/jpeg, undecodable.
    const broken = Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), Buffer.alloc(2000, 0x5a)]);
    const a = await ready(broken, 'image/jpeg', 'broken.jpg');
    expect(a.status).toBe('ready');
    for (const kind of ['thumbnail', 'preview', 'preview']) {
      const r = await alice.get(`/media/${a.assetId}/${kind}`);
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ statusCode: 404, error: 'NotFound' });
    }
    expect((await app.sql(`SELECT count(*)::int AS n FROM asset_derivatives WHERE asset_id = $1`, [a.assetId]))[0].n).toBe(0);
  });

  it('answers 404 for a thumbnail of something that is not an image, and 409 before it is ready', async () => {
    const text = await ready(Buffer.from('just words'), 'text/plain');
    const r = await alice.get(`/media/${text.assetId}/thumbnail`);
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ statusCode: 404, error: 'NotFound' });
    const pending = await alice.post('/media/upload-url', { filename: 'p.png', mimeType: 'image/png', sizeBytes: 10 });
    expect((await alice.get(`/media/${pending.body.assetId}/preview`)).status).toBe(409);
  });

  it('refuses a decompression bomb (header claims 50000×50000 pixels) without decoding it', async () => {
    const bomb = await pngClaiming(50000, 50000);
    expect(bomb.length).toBeLessThan(1000);
    const a = await ready(bomb, 'image/png', 'bomb.png');
    expect(a.status).toBe('failed');
    expect(a.failureReason).toMatch(/50000×50000 .*more than the 4000000 allowed/);
    expect((await alice.get(`/media/${a.assetId}/thumbnail`)).status).toBe(409);
  });

  it('records duration, codecs and dimensions of video and audio (ffprobe)', async () => {
    const mp4 = path.join(tmp, 'clip.mp4');
    const ogg = path.join(tmp, 'tone.ogg');
    const ff = (args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { timeout: 30000 });
    ff([
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=64x48:rate=10',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=8000',
      '-t',
      '1',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-shortest',
      mp4,
    ]);
    ff(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000', '-t', '2', '-c:a', 'libvorbis', ogg]);

    const video = await ready(readFileSync(mp4), 'video/mp4', 'clip.mp4');
    expect(video.status).toBe('ready');
    expect(video.metadata).toMatchObject({
      'media:video_codec': 'h264',
      'media:audio_codec': 'aac',
      'media:width': '64',
      'media:height': '48',
      'media:frame_rate': '10',
    });
    expect(Number(video.metadata['media:duration_seconds'])).toBeCloseTo(1, 0);

    const audio = await ready(readFileSync(ogg), 'audio/ogg', 'tone.ogg');
    expect(audio.status).toBe('ready');
    expect(audio.metadata).toMatchObject({ 'media:audio_codec': 'vorbis', 'media:audio_sample_rate': '8000', 'media:audio_channels': '1' });
    expect(Number(audio.metadata['media:duration_seconds'])).toBeCloseTo(2, 0);
    expect(audio.metadata['media:video_codec']).toBeUndefined();
  });
});
