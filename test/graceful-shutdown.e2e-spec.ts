/**
 * SIGTERM on the real built service: readiness fails at once (liveness does not), the server then stops
 * accepting connections, a download already in flight still completes in full, and the process exits cleanly.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { api, sha256, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { asAdmin } from './support/health';

jest.setTimeout(60_000);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('graceful shutdown', () => {
  let app: RunningApp;
  afterAll(() => app?.stop());

  it('drains: not ready, live, in-flight download finishes, then exits 0', async () => {
    app = await startApp({ SHUTDOWN_DRAIN_DELAY_MS: '1500', LOG_LEVEL: 'info' });
    const alice = api(app.baseUrl, 91);
    const bytes = Buffer.alloc(24 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32LE(i, i);
    const up = await uploadBytes(alice, bytes, { mimeType: 'application/octet-stream', filename: 'big.bin' });
    expect(up.putStatus).toBe(200);
    await alice.post(`/media/${up.assetId}/complete`);
    await eventually(async () => (await alice.get(`/media/${up.assetId}`)).body?.status === 'ready', 30000);
    const url = (await alice.get(`/media/${up.assetId}/download?redirect=false`)).body.url as string;
    expect((await fetch(`${app.baseUrl}/health/ready`)).status).toBe(200);

    // Start the download and stop reading: the response stays in flight (backpressure).
    const hash = createHash('sha256');
    let received = 0;
    let res!: http.IncomingMessage;
    await new Promise<void>((resolve, reject) => {
      http
        .get(url, (r) => {
          res = r;
          r.pause();
          resolve();
        })
        .on('error', reject);
    });
    expect(res.statusCode).toBe(200);
    const done = new Promise<void>((resolve, reject) => {
      res.on('data', (d: Buffer) => {
        hash.update(d);
        received += d.length;
      });
      res.on('end', resolve);
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('download aborted')));
    });

    const pid = app.pid();
    process.kill(pid, 'SIGTERM');

    // Draining: readiness fails (so Kubernetes stops routing here), liveness does not.
    const ready = await eventually(
      async () => {
        const r = await fetch(`${app.baseUrl}/health/ready`, asAdmin());
        return r.status === 503 ? r : undefined;
      },
      1000,
      50,
    );
    const body = (await ready.json()) as any;
    expect(body).toMatchObject({ statusCode: 503, error: 'ServiceUnavailable' });
    expect(body.details.shutdown).toMatchObject({ status: 'down', draining: true });
    expect((await fetch(`${app.baseUrl}/health/live`)).status).toBe(200);

    // After the drain delay the server takes no new connections…
    await eventually(
      async () => {
        try {
          await fetch(`${app.baseUrl}/health/live`);
          return false;
        } catch {
          return true;
        }
      },
      5000,
      100,
    );
    expect(alive(pid)).toBe(true);

    // …but the download in flight completes in full.
    res.resume();
    await done;
    expect(received).toBe(bytes.length);
    expect(hash.digest('hex')).toBe(sha256(bytes));

    await eventually(async () => !alive(pid), 10000, 50);
    expect(app.output()).toMatch(/SIGTERM: draining/);
    expect(app.output()).toMatch(/shutdown complete/);
  });
});
