/**
 * Audio/video facts of an object in a local storage region are read by ffprobe from the object's file, through the
 * app's real wiring (every module sees the routed driver, never the local driver itself). The app's public URL is
 * one only clients reach here (as behind a proxy or a load balancer the service cannot call back): a probe through
 * a signed URL finds nothing there, so the facts can only come from the file.
 * ffprobe and ffmpeg come from Debian's ffmpeg (scripts/clamd.sh install).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, Api } from './support/api';
import { freePort, RunningApp, startApp } from './support/app-process';
import { h264TestClip } from './support/media-fixtures';

jest.setTimeout(60000);

describe('media probe on a local region', () => {
  let app: RunningApp;
  let alice: Api;
  let tmp: string;

  beforeAll(async () => {
    // Nothing listens on this port: signed URLs name it, and the test sends its uploads to the app's real address.
    const unreachable = await freePort();
    app = await startApp({ PUBLIC_BASE_URL: `http://127.0.0.1:${unreachable}` });
    alice = api(app.baseUrl, 7);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'media-probe-'));
  });
  afterAll(async () => {
    await app?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** POST /media/upload-url, PUT to the signed URL at the app's own address, complete, wait for `ready`. */
  async function ready(bytes: Buffer, mimeType: string, filename: string) {
    const grant = await alice.post('/media/upload-url', { filename, mimeType, sizeBytes: bytes.length });
    expect(grant.status).toBe(201);
    const signed = new URL(grant.body.uploadUrl);
    const put = await fetch(`${app.baseUrl}${signed.pathname}${signed.search}`, {
      method: 'PUT',
      headers: grant.body.headers,
      body: bytes,
    });
    expect(put.status).toBe(200);
    expect((await alice.post(`/media/${grant.body.assetId}/complete`)).status).toBe(202);
    return (await alice.get(`/media/${grant.body.assetId}?waitFor=ready&timeout=30`)).body;
  }

  it('records the duration and codecs of an MP4 whose index (moov) is at the end, read from its file', async () => {
    // Without -movflags +faststart the moov atom is written after the media data: a reader must seek to find it.
    const bytes = h264TestClip(tmp, 'moov-at-end.mp4', '64x48');
    expect(bytes.indexOf('moov')).toBeGreaterThan(bytes.indexOf('mdat'));

    const video = await ready(bytes, 'video/mp4', 'clip.mp4');
    expect(video.status).toBe('ready');
    expect(video.metadata).toMatchObject({ 'media:video_codec': 'h264', 'media:width': '64', 'media:height': '48' });
    expect(Number(video.metadata['media:duration_seconds'])).toBeCloseTo(2, 0);
    expect(app.output()).not.toContain('ffprobe could not read the media');
  });
});
