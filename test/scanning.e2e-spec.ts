/**
 * Virus scanning with a real clamd (started by the test, see test/support/clamd.ts) and long-polling on status.
 */
import { api, Api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { asAdmin } from './support/health';
import { EICAR, RunningClamd, startClamd } from './support/clamd';
import { QUEUES, waitForJob } from './support/waits';

// The e2e project's testTimeout is not applied per project by jest; bound every test and hook here.
jest.setTimeout(60000);

describe('virus scanning (SCANNER=clamd, real clamd)', () => {
  let clamd: RunningClamd;
  let app: RunningApp;
  let alice: Api;

  beforeAll(async () => {
    clamd = await startClamd();
    app = await startApp({ ...clamd.env, PROCESSING_ATTEMPTS: '40', PROCESSING_BACKOFF_MS: '200', PROCESSING_BACKOFF_MAX_MS: '500' });
    alice = api(app.baseUrl, 42);
  }, 150000);

  afterAll(async () => {
    await app?.stop();
    await clamd?.destroy();
  });

  const settle = async (id: string) => {
    const r = await alice.get(`/media/${id}?waitFor=ready&timeout=20`);
    expect(r.status).toBe(200);
    return r.body;
  };

  it('reports the scanner in /health/ready', async () => {
    const r = await fetch(`${app.baseUrl}/health/ready`, asAdmin());
    expect(r.status).toBe(200);
    const body = (await r.json()) as any;
    expect(body.details.scanner).toMatchObject({
      status: 'up',
      kind: 'clamd',
      scanning: 'enabled',
      version: expect.stringMatching(/ClamAV/),
    });
  });

  it('quarantines the EICAR test file: signature recorded, never downloadable, bytes out of the readable path', async () => {
    const up = await uploadBytes(alice, EICAR, { filename: 'eicar.txt', mimeType: 'text/plain' });
    expect(up.putStatus).toBe(200);
    const uploadKey = (await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [up.assetId]))[0].object_key;
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);

    const a = await settle(up.assetId);
    expect(a.status).toBe('quarantined');
    expect(a.failureReason).toMatch(/virus found: Eicar-Test-Signature/);
    expect(a.metadata).toMatchObject({
      'scan:status': 'infected',
      'scan:engine': 'clamd',
      'scan:signature': expect.stringMatching(/^Eicar-Test-Signature/),
    });

    const dl = await alice.get(`/media/${up.assetId}/download`);
    expect(dl.status).toBe(409);
    expect(dl.body).toMatchObject({ statusCode: 409, error: 'AssetNotReady' });
    expect(dl.headers.get('location')).toBeNull();

    // The object left uploads/ for quarantine/ (QUARANTINE_ACTION=move, the default); no stored object was made.
    const [row] = await app.sql(`SELECT object_key, stored_object_sha256 FROM media_assets WHERE asset_id = $1`, [up.assetId]);
    expect(row.object_key).toBe(`quarantine/${up.assetId}`);
    expect(row.stored_object_sha256).toBeNull();
    const { existsSync } = await import('node:fs');
    await eventually(async () => !existsSync(`${app.storageRoot}/media/${uploadKey}`));
    expect(existsSync(`${app.storageRoot}/media/quarantine/${up.assetId}`)).toBe(true);
    expect((await app.sql(`SELECT count(*)::int AS n FROM stored_objects`))[0].n).toBe(0);
  });

  it('finds EICAR inside a larger file too (the scan sees every chunk, not just the head)', async () => {
    const big = Buffer.concat([Buffer.alloc(3 * 1024 * 1024, 'a'), EICAR, Buffer.alloc(1024 * 1024, 'b')]);
    const up = await uploadBytes(alice, big, { filename: 'big.txt', mimeType: 'text/plain' });
    await alice.post(`/media/${up.assetId}/complete`);
    expect((await settle(up.assetId)).status).toBe('quarantined');
  });

  it('makes a clean file ready, recording the scan', async () => {
    const up = await uploadBytes(alice, Buffer.from('a perfectly clean text file'), { filename: 'clean.txt', mimeType: 'text/plain' });
    await alice.post(`/media/${up.assetId}/complete`);
    const a = await settle(up.assetId);
    expect(a.status).toBe('ready');
    expect(a.metadata).toMatchObject({ 'scan:status': 'clean', 'scan:engine': 'clamd' });
    expect((await alice.get(`/media/${up.assetId}/download`)).status).toBe(302);
  });

  it('keeps an asset waiting while clamd is down and finishes it once clamd is back; a long-poll answers at once', async () => {
    await clamd.stop();
    try {
      const up = await uploadBytes(alice, Buffer.from('scanned only when clamd returns'), {
        filename: 'later.txt',
        mimeType: 'text/plain',
      });
      expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);
      // Down: the job fails and retries with backoff; the asset is never ready unscanned.
      await eventually(async () => /clamd .*unreachable/.test(app.output()), 10000);
      // Two attempts of its processing job (id: asset id and declared checksum, here none) failed on the scan.
      const job = await waitForJob(app, QUEUES.processing, `${up.assetId}:undeclared`, (j) => j.attemptsMade >= 2, {
        what: 'two failed attempts',
        timeoutMs: 10000,
      });
      expect(job.failedReason).toMatch(/clamd/);
      expect((await alice.get(`/media/${up.assetId}`)).body.status).toBe('processing');
      const ready = await fetch(`${app.baseUrl}/health/ready`, asAdmin());
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as any).details.scanner).toMatchObject({ status: 'down', kind: 'clamd', scanning: 'unavailable' });

      // A long-poll started now returns as soon as the asset settles, well before its timeout.
      const started = Date.now();
      const poll = alice.get(`/media/${up.assetId}?waitFor=ready&timeout=25`);
      // The poll is waiting in the service (its gauge says so) before clamd returns: clamd's return, not the poll's
      // first read, is what settles it.
      await eventually(async () => /^media_long_polls_waiting 1$/m.test(await (await fetch(`${app.baseUrl}/metrics`)).text()), 10000);
      await clamd.start();
      const r = await poll;
      expect(r.status).toBe(200);
      expect(r.body.status).toBe('ready');
      expect(r.body.metadata['scan:status']).toBe('clean');
      expect(Date.now() - started).toBeLessThan(15000);
    } finally {
      await clamd.start(); // no-op when the test got that far
    }
    await eventually(async () => (await fetch(`${app.baseUrl}/health/ready`)).status === 200, 10000);
  }, 60000);

  it('long-poll: returns the current state after the timeout, and validates its parameters', async () => {
    const res = await alice.post('/media/upload-url', { filename: 'never.txt', mimeType: 'text/plain', sizeBytes: 5 });
    const started = Date.now();
    const r = await alice.get(`/media/${res.body.assetId}?waitFor=ready&timeout=1`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('pending');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    for (const q of ['waitFor=done', 'waitFor=ready&timeout=31', 'waitFor=ready&timeout=-1', 'waitFor=ready&timeout=abc']) {
      const bad = await alice.get(`/media/${res.body.assetId}?${q}`);
      expect(bad.status).toBe(400);
      expect(bad.body.error).toBe('ValidationFailed');
    }
    expect((await api(app.baseUrl, 43).get(`/media/${res.body.assetId}?waitFor=ready&timeout=5`)).status).toBe(404);
  });
});
