/**
 * Downloads of a local region's signed URL that the client abandons (mid-body, or before the first byte) leave no
 * file open in the service: every descriptor comes back, and none is left for the garbage collector to close
 * (which Node reports as "Closing file descriptor N on garbage collection").
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { api, uploadBytes } from './support/api';
import { RunningApp, startApp } from './support/app-process';
import { waitFor } from './support/waits';

jest.setTimeout(90000);

const OBJECT_BYTES = 4 * 1024 * 1024;
const MID_STREAM_ABORTS = 40;
const EARLY_ABORTS = 40;
/** At most this many aborted downloads in flight at once. */
const PARALLEL = 8;

function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * One GET of `url` on a fresh connection (no keep-alive, no pool holding sockets): `firstChunk` destroys the socket
 * as soon as a body byte arrives, `immediately` right after the request is written (before the service answered),
 * `never` reads the whole response.
 */
function get(url: string, abort: 'firstChunk' | 'immediately' | 'never'): Promise<{ bytes: number; head: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname);
    let bytes = 0;
    let head = '';
    let headerDone = false;
    socket.on('connect', () => {
      socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
      if (abort === 'immediately') {
        socket.destroy();
        resolve({ bytes, head });
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (!headerDone) {
        const text = chunk.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        head += end >= 0 ? text.slice(0, end) : text;
        if (end < 0) return;
        headerDone = true;
        bytes += chunk.length - end - 4;
      } else bytes += chunk.length;
      if (abort === 'firstChunk' && bytes > 0) {
        socket.destroy();
        resolve({ bytes, head });
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ bytes, head }));
  });
}

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

describe('aborted downloads (local driver)', () => {
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('closes every file handle of downloads aborted mid-body or before the first byte', async () => {
    const alice = api(app.baseUrl, 11);
    const bytes = randomBytes(OBJECT_BYTES);
    const up = await uploadBytes(alice, bytes, { filename: 'big.bin', mimeType: 'application/octet-stream' });
    expect(up.putStatus).toBe(200);
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    expect((await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=30`)).body.status).toBe('ready');
    const dl = await alice.get(`/media/${up.assetId}/download?redirect=false`);
    expect(dl.status).toBe(200);
    const url: string = dl.body.url;

    // One whole download first: whatever the service opens once (and keeps) is in the baseline.
    const whole = await get(url, 'never');
    expect(whole.head).toMatch(/^HTTP\/1\.1 200/);
    expect(whole.bytes).toBe(OBJECT_BYTES);
    const pid = app.pid();
    const baseline = openDescriptors(pid);

    const runs: ('firstChunk' | 'immediately')[] = [
      ...Array.from({ length: MID_STREAM_ABORTS }, () => 'firstChunk' as const),
      ...Array.from({ length: EARLY_ABORTS }, () => 'immediately' as const),
    ].sort(() => Math.random() - 0.5);
    const midBody: number[] = [];
    await inBatches(runs, PARALLEL, async (abort) => {
      const r = await get(url, abort);
      if (abort === 'firstChunk') midBody.push(r.bytes);
    });
    // The mid-body aborts really stopped before the end of the object.
    expect(midBody.filter((b) => b > 0 && b < OBJECT_BYTES).length).toBeGreaterThan(MID_STREAM_ABORTS / 2);

    // Sockets and files are closed asynchronously: wait until the count is back, with a deadline.
    await waitFor(() => openDescriptors(pid) <= baseline, {
      what: `the service's open descriptors to return to ${baseline}`,
      explain: () => Promise.resolve(`${openDescriptors(pid)} open`),
    });

    // The service still serves the object whole.
    expect((await get(url, 'never')).bytes).toBe(OBJECT_BYTES);
    expect(app.output()).not.toContain('Closing file descriptor');
  });
});
