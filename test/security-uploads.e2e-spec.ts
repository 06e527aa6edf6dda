/**
 * Hostile uploads against a production-mode instance (NODE_ENV=production, local driver): one signed URL admits one
 * body at a time and is used once, a stalled body is cut after the idle timeout (temp file removed, descriptors
 * back to baseline), a body outliving the URL's expiry plus grace is never stored, bodies in flight are bounded
 * per owner, a failed body releases its URL for a retry; the same for a multipart part URL and a tus PATCH.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { api, Api, sha256 } from './support/api';
import { RunningApp, startApp, token } from './support/app-process';
import { filesUnder } from './support/files';
import { waitFor } from './support/waits';

jest.setTimeout(180_000);

const MiB = 1024 * 1024;
const IDLE_SECONDS = 1;
const GRACE_SECONDS = 1;
const MAX_IN_FLIGHT = 3;

/** A raw HTTP/1.1 request on its own connection: the head and `first` body bytes are sent, the rest is up to the test. */
interface RawRequest {
  socket: net.Socket;
  /** The answer's status (0 when the connection closed without one). */
  status: Promise<number>;
  /** Resolves when the connection is closed (by either side). */
  closed: Promise<void>;
  text(): string;
}

function rawRequest(url: string, method: string, headers: Record<string, string>, first: Buffer = Buffer.alloc(0)): RawRequest {
  const u = new URL(url);
  const socket = net.connect(Number(u.port), u.hostname);
  let text = '';
  let resolveStatus!: (s: number) => void;
  const status = new Promise<number>((r) => (resolveStatus = r));
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
    if (m) resolveStatus(Number(m[1]));
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) =>
    socket.on('close', () => {
      resolveStatus(0);
      r();
    }),
  );
  const head = [`${method} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${head.join('\r\n')}\r\n\r\n`);
  if (first.length) socket.write(first);
  return { socket, status, closed, text: () => text };
}

/** A grant's headers plus the Content-Length every HTTP client sends for a body of known size (grants leave it out). */
const sized = (headers: Record<string, string>, length: number) => ({ ...headers, 'content-length': String(length) });

/** Polls `probe` (every 50 ms) until it returns true; fails after `ms` naming `what`. */
const until = (what: string, probe: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> =>
  waitFor(probe, { what, timeoutMs: ms, everyMs: 50 }).then(() => undefined);

describe('hostile uploads on the local driver (production)', () => {
  let app: RunningApp;
  const owner = 61;
  let alice: Api;
  let baselineFds: number;

  const fds = () => readdirSync(`/proc/${app.pid()}/fd`).length;
  const tmpFiles = () => filesUnder(path.join(app.storageRoot, '.tmp')).filter((f) => !path.basename(f).startsWith('health-'));
  // A part body being written holds a writer claim in its upload's directory (parts are written in place).
  // Claims are symbolic links (their target is the claim's record).
  const partWriters = () =>
    filesUnder(path.join(app.storageRoot, '.multipart'), { symlinks: true }).filter((f) => path.basename(path.dirname(f)) === 'writers');
  const uploadedFile = (assetId: string) => path.join(app.storageRoot, 'media', 'uploads', String(owner), assetId);

  const grant = async (bytes: Buffer, extra: Record<string, unknown> = {}, client = alice) => {
    const res = await client.post('/media/upload-url', {
      filename: 'x.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: bytes.length,
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body as { assetId: string; uploadUrl: string; headers: Record<string, string>; expiresAt: string };
  };

  const put = async (g: { uploadUrl: string; headers: Record<string, string> }, body: Buffer) => {
    const res = await fetch(g.uploadUrl, { method: 'PUT', headers: g.headers, body });
    return { status: res.status, body: await res.text() };
  };

  beforeAll(async () => {
    app = await startApp({
      NODE_ENV: 'production',
      METRICS_TOKEN: 'uploads-metrics-token-0123456789abcdef',
      RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '100000',
      UPLOAD_BODY_IDLE_TIMEOUT_SECONDS: String(IDLE_SECONDS),
      UPLOAD_EXPIRY_GRACE_SECONDS: String(GRACE_SECONDS),
      MAX_UPLOADS_IN_FLIGHT_PER_OWNER: String(MAX_IN_FLIGHT),
      MULTIPART_PART_SIZE_BYTES: String(MiB),
      MULTIPART_MIN_PART_SIZE_BYTES: String(MiB),
      WORKER_ENABLED: 'false',
    });
    alice = api(app.baseUrl, owner);
    // Warm up (database and Redis pools, the storage tree), then take the descriptor baseline.
    const g = await grant(Buffer.from('warm'));
    expect((await put(g, Buffer.from('warm'))).status).toBe(200);
    // The baseline is taken once the warm-up's descriptors have settled: the same count on three polls in a row.
    let last = -1;
    let same = 0;
    await until('descriptors settled after warm-up', () => {
      const n = fds();
      same = n === last ? same + 1 : 0;
      last = n;
      return same >= 2;
    });
    baselineFds = last;
  });
  afterAll(() => app?.stop());

  /** Descriptors come back to the baseline (a little slack for the pools' own comings and goings). */
  const backToBaseline = () => until('descriptors back to baseline', () => fds() <= baselineFds + 2);

  it('20 parallel PUTs of 1 MiB on one URL: exactly one 2xx, one stored object, the others refused, no temp file left', async () => {
    const bytes = randomBytes(MiB);
    const g = await grant(bytes);
    const results = await Promise.all(Array.from({ length: 20 }, () => put(g, bytes)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s >= 200 && s < 300)).toHaveLength(1);
    // The others: 409 while the winner streams, 412 once it has stored the object.
    expect(statuses.filter((s) => s !== 200).every((s) => s === 409 || s === 412)).toBe(true);
    expect(results.find((r) => r.status === 409)?.body ?? 'UploadInProgress').toMatch(/UploadInProgress/);
    expect(existsSync(uploadedFile(g.assetId))).toBe(true);
    expect(sha256(await readUploaded(g.assetId))).toBe(sha256(bytes));
    expect(tmpFiles()).toEqual([]);
    // Used: a later PUT is 412 as before.
    expect((await put(g, bytes)).status).toBe(412);
  });

  const readUploaded = async (assetId: string) => (await import('node:fs/promises')).readFile(uploadedFile(assetId));

  it('a stalled body (headers and one byte, then silence) is cut after the idle timeout; temp file and descriptor go', async () => {
    const bytes = randomBytes(64 * 1024);
    const g = await grant(bytes);
    const started = Date.now();
    const stalled = rawRequest(g.uploadUrl, 'PUT', sized(g.headers, bytes.length), bytes.subarray(0, 1));
    await until('its temp file', () => tmpFiles().length === 1);
    expect(await stalled.status).toBe(408);
    expect(stalled.text()).toMatch(/No byte of the body arrived for 1 s/);
    await stalled.closed;
    expect(Date.now() - started).toBeLessThan(IDLE_SECONDS * 1000 + 5000);
    await until('the temp file removed', () => tmpFiles().length === 0);
    await backToBaseline();
    expect(existsSync(uploadedFile(g.assetId))).toBe(false);
    // The claim was released: the same URL still works.
    expect((await put(g, bytes)).status).toBe(200);
  });

  it('200 connections with headers and one byte on one URL: at most one holds a temp file; descriptors return to baseline', async () => {
    const bytes = randomBytes(MiB);
    const g = await grant(bytes);
    const before = fds();
    let peakFds = before;
    let peakTmp = 0;
    const sampler = setInterval(() => {
      peakFds = Math.max(peakFds, fds());
      peakTmp = Math.max(peakTmp, tmpFiles().length);
    }, 10);
    const conns = Array.from({ length: 200 }, () => rawRequest(g.uploadUrl, 'PUT', sized(g.headers, bytes.length), bytes.subarray(0, 1)));
    const statuses = await Promise.all(conns.map((c) => c.status)).finally(() => clearInterval(sampler));
    expect(peakTmp).toBeLessThanOrEqual(1);
    // One is streaming (and is cut by the idle timeout: 408), all the others were refused at once.
    expect(statuses.filter((s) => s === 409).length).toBeGreaterThanOrEqual(199);
    expect(tmpFiles().length).toBeLessThanOrEqual(1);
    await Promise.all(conns.map((c) => c.closed));
    await until('the temp file removed', () => tmpFiles().length === 0);
    await backToBaseline();
    console.log(
      `200 connections on one URL: descriptors ${before} before, peak ${peakFds}, ${fds()} after (baseline ${baselineFds}); ` +
        `temp files at most ${peakTmp}, 0 after`,
    );
  });

  it('a body finishing after the URL expiry plus grace is refused and never stored', async () => {
    const bytes = randomBytes(64);
    // 3 s: the request must reach the service while the URL is still valid (else it is a plain 403 for an expired
    // URL, not this case) even on a loaded machine; the body still ends ~19 s later, far past expiry plus grace.
    const g = await grant(bytes, { expiresInSeconds: 3 });
    const deadline = Date.parse(g.expiresAt) + GRACE_SECONDS * 1000;
    const trickle = rawRequest(g.uploadUrl, 'PUT', sized(g.headers, bytes.length), bytes.subarray(0, 1));
    let sent = 1;
    // A byte every 300 ms (under the idle timeout): the body would end ~19 s later, long after the deadline.
    const timer = setInterval(() => {
      if (sent < bytes.length - 1 && !trickle.socket.destroyed) trickle.socket.write(bytes.subarray(sent, ++sent));
    }, 300);
    try {
      expect(await trickle.status).toBe(408);
      expect(trickle.text()).toMatch(/did not finish before the URL expired/);
      await trickle.closed;
    } finally {
      clearInterval(timer);
    }
    expect(Date.now()).toBeGreaterThanOrEqual(deadline - 1000);
    await until('the temp file removed', () => tmpFiles().length === 0);
    expect(existsSync(uploadedFile(g.assetId))).toBe(false);
  });

  it('bounds the uploads in flight per owner: 429 naming the limit', async () => {
    const bodies = Array.from({ length: MAX_IN_FLIGHT + 1 }, () => randomBytes(1024));
    const grants = await Promise.all(bodies.map((b) => grant(b)));
    const held = grants
      .slice(0, MAX_IN_FLIGHT)
      .map((g, i) => rawRequest(g.uploadUrl, 'PUT', sized(g.headers, bodies[i].length), bodies[i].subarray(0, 1)));
    let sent = 1;
    const keepAlive = setInterval(() => {
      sent++;
      held.forEach((h, i) => !h.socket.destroyed && sent < 1000 && h.socket.write(bodies[i].subarray(sent - 1, sent)));
    }, 200);
    try {
      await until('every held body streaming', () => tmpFiles().length === MAX_IN_FLIGHT);
      const refused = await put(grants[MAX_IN_FLIGHT], bodies[MAX_IN_FLIGHT]);
      expect(refused.status).toBe(429);
      expect(refused.body).toMatch(/At most 3 uploads .*MAX_UPLOADS_IN_FLIGHT_PER_OWNER/);
      // Another owner is not affected.
      const bob = api(app.baseUrl, owner + 1);
      const other = randomBytes(1024);
      expect((await put(await grant(other, {}, bob), other)).status).toBe(200);
    } finally {
      clearInterval(keepAlive);
      held.forEach((h) => h.socket.destroy());
    }
    await until('the held bodies released', () => tmpFiles().length === 0);
    // Once they are gone, the refused one goes through with its same URL.
    await until('the refused upload accepted', async () => (await put(grants[MAX_IN_FLIGHT], bodies[MAX_IN_FLIGHT])).status === 200);
  });

  it('a failed upload (wrong checksum, or a truncated body) releases the URL for a retry', async () => {
    const bytes = randomBytes(256 * 1024);
    const g = await grant(bytes, { checksumSha256: sha256(bytes) });
    const wrong = Buffer.from(bytes);
    wrong[0] ^= 0xff;
    const bad = await put(g, wrong);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/BadDigest/);
    expect((await put(g, bytes)).status).toBe(200);

    const h = await grant(bytes);
    const cut = rawRequest(h.uploadUrl, 'PUT', sized(h.headers, bytes.length), bytes.subarray(0, 1000));
    await until('its temp file', () => tmpFiles().length === 1);
    cut.socket.destroy();
    await until('the temp file removed', () => tmpFiles().length === 0);
    await until('the retry accepted', async () => (await put(h, bytes)).status === 200, 5000);
  });

  it('a multipart part URL: one body at a time (two parallel PUTs → one 2xx), and a stalled part is cut', async () => {
    const bytes = randomBytes(2 * MiB);
    const res = await alice.post('/media/upload-url', {
      filename: 'big.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: bytes.length,
      multipart: true,
    });
    expect(res.status).toBe(201);
    const part = res.body.parts[0] as { url: string; method: string; headers: Record<string, string>; size: number };
    const first = rawRequest(part.url, 'PUT', sized(part.headers, part.size), bytes.subarray(0, 1));
    await until('the first part body streaming', () => partWriters().length === 1);
    const second = await fetch(part.url, { method: 'PUT', headers: part.headers, body: bytes.subarray(0, MiB) });
    expect(second.status).toBe(409);
    expect(await second.text()).toMatch(/UploadInProgress/);
    first.socket.write(bytes.subarray(1, MiB));
    expect(await first.status).toBe(200);
    first.socket.destroy();

    const stalled = rawRequest(part.url, 'PUT', sized(part.headers, part.size), bytes.subarray(0, 1));
    expect(await stalled.status).toBe(408);
    await stalled.closed;
    await until('the part writer released', () => partWriters().length === 0);
    await backToBaseline();
  });

  describe('tus PATCH', () => {
    const tusHeaders = { authorization: `Bearer ${token(owner)}`, 'tus-resumable': '1.0.0' };
    const create = async (length: number) => {
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      const r = await fetch(`${app.baseUrl}/tus/`, {
        method: 'POST',
        headers: {
          ...tusHeaders,
          'upload-length': String(length),
          'upload-metadata': `filename ${b64('t.bin')},filetype ${b64('text/plain')}`,
        },
      });
      expect(r.status).toBe(201);
      return r.headers.get('location')!;
    };
    const patchHeaders = (length: number) => ({
      ...tusHeaders,
      'upload-offset': '0',
      'content-type': 'application/offset+octet-stream',
      'content-length': String(length),
    });

    it('a stalled PATCH is cut after the idle timeout; a second PATCH while one streams is refused (423)', async () => {
      const url = await create(1000);
      const started = Date.now();
      const stalled = rawRequest(url, 'PATCH', patchHeaders(1000), Buffer.from('a'));
      const staged = path.join(app.storageRoot, '.tus-staging', url.split('/').pop()!);
      await until('the first PATCH streaming', () => existsSync(staged) && statSync(staged).size === 1);
      // Refused while the first streams: one body per upload.
      const second = await fetch(url, { method: 'PATCH', headers: patchHeaders(3), body: 'abc' });
      expect(second.status).toBe(423);
      expect(await second.text()).toMatch(/Another PATCH is streaming into this upload/);
      await stalled.closed;
      expect(Date.now() - started).toBeLessThan(IDLE_SECONDS * 1000 + 5000);
      await backToBaseline();
      // The upload is resumable after the cut: HEAD tells the offset, the rest goes through.
      const head = await fetch(url, { method: 'HEAD', headers: tusHeaders });
      const offset = Number(head.headers.get('upload-offset'));
      expect(offset).toBeLessThanOrEqual(1);
      const rest = await fetch(url, {
        method: 'PATCH',
        headers: { ...patchHeaders(1000 - offset), 'upload-offset': String(offset) },
        body: Buffer.alloc(1000 - offset, 0x61),
      });
      expect(rest.status).toBe(204);
    });
  });
});
