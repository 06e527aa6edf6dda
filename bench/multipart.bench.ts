/**
 * Multipart upload of a large file (BENCH_MULTIPART_GIB, default 5 GiB), on both drivers, each figure against a
 * baseline measured in the same run:
 *   local driver: parallel part PUTs to the service's signed part URLs + complete, until the object is assembled (parts
 *                 are written in place, assembly renames), vs `dd conv=fdatasync`
 *                 of the same size on the same disk
 *   s3 driver:    parallel part PUTs to pre-signed UploadPart URLs + complete vs a raw SDK multipart upload (same
 *                 part size, same parallelism) to the same S3-protocol emulator
 * and the service's RSS (sampled every 100 ms) while the parts are uploaded and while the object is processed
 * (SHA-256, MIME, dedup). Target: RSS flat, < 200 MiB. Also printed: the CPU per GiB of parts (service, client), and
 * complete's answer as the client saw it and as the service's own latency histogram has it.
 *
 * The S3 emulator runs in a child process, and complete is timed once it is idle (BENCH_MULTIPART_WAIT_IDLE=0: right
 * after the last part's answer): it answers a part before it is done hashing and writing it.
 * Knobs: BENCH_MULTIPART_GIB, BENCH_MULTIPART_PARALLEL (4), BENCH_MULTIPART_DRIVERS (local,s3), BENCH_MULTIPART_WAIT_IDLE.
 *
 * The client never holds the file: each part is generated as it is sent (one random MiB, stamped with its index,
 * so that every MiB differs), and the whole file's SHA-256 is computed from the same generator beforehand and
 * declared, so processing verifies it. Nothing is written to disk by the client.
 */
import { createHash, randomBytes } from 'node:crypto';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { api, Api } from '../test/support/api';
import { RunningApp, token } from '../test/support/app-process';
import { s3DriverFor, s3ServiceEnv, S3TestServer, S3TestServerOptions } from '../test/support/s3-server';
import { ddWriteMBps } from './files';
import { cpuMs, cpuSplitMs, report, rssMiB, startProductionService } from './support';

const GIB = Number(process.env.BENCH_MULTIPART_GIB ?? 5);
const MiB = 1024 * 1024;
const SIZE = Math.round(GIB * 1024) * MiB;
const PARALLEL = Number(process.env.BENCH_MULTIPART_PARALLEL ?? 4);
/**
 * s3: wait until the emulator is idle before complete is timed (default on; 0 times it right after the last part, while
 * the emulator may still be hashing and writing the parts it has answered).
 */
const WAIT_IDLE = process.env.BENCH_MULTIPART_WAIT_IDLE !== '0';
/** Which drivers to run, e.g. `local` or `s3` (default both). */
const DRIVERS = (process.env.BENCH_MULTIPART_DRIVERS ?? 'local,s3').split(',').map((d) => d.trim());

const BLOCK = randomBytes(MiB);

/**
 * Bytes [start, start + length) of the synthetic file: MiB `i` is BLOCK with its first 4 bytes replaced by `i`
 * (big-endian). Yielded without copying: a fresh 4-byte stamp, then the rest of the shared BLOCK (never written to),
 * so the client costs little CPU beside the service it measures.
 */
function* fileBytes(start: number, length: number): Generator<Buffer> {
  let offset = start;
  const end = start + length;
  while (offset < end) {
    const index = Math.floor(offset / MiB);
    const within = offset - index * MiB;
    const upto = Math.min(MiB, within + (end - offset));
    if (within < 4) {
      const stamp = Buffer.alloc(4);
      stamp.writeUInt32BE(index, 0);
      yield stamp.subarray(within, Math.min(4, upto));
    }
    if (upto > 4) yield BLOCK.subarray(Math.max(4, within), upto);
    offset += upto - within;
  }
}

function fileSha256(): string {
  const h = createHash('sha256');
  for (const chunk of fileBytes(0, SIZE)) h.update(chunk);
  return h.digest('hex');
}

/** PUTs one part, streamed from the generator; resolves with the ETag. */
function putPart(url: string, headers: Record<string, string>, start: number, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(length) } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(String(res.headers.etag)) : reject(new Error(`part PUT answered ${res.statusCode}: ${body}`)),
      );
    });
    req.on('error', reject);
    Readable.from(fileBytes(start, length), { objectMode: false }).pipe(req);
  });
}

/** POST with a JSON body and no client-side timeout; resolves with status and body text. */
function postJson(url: string, body: unknown, bearer: string): Promise<{ status: number; body: string }> {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(data.length), authorization: `Bearer ${bearer}` },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * The S3 emulator in a child process (bench/s3-emulator.child.ts): its CPU-bound MD5s then no longer hold this
 * process's event loop, which times the service's answers.
 */
async function startS3EmulatorProcess(opts: S3TestServerOptions): Promise<
  Pick<S3TestServer, 'endpoint' | 'accessKeyId' | 'secretAccessKey'> & {
    pid: number;
    stop(opts?: { keepData?: boolean }): Promise<void>;
  }
> {
  const child = fork(path.join(__dirname, 's3-emulator.child.js'), [JSON.stringify(opts)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const address = await new Promise<{ endpoint: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { endpoint: string }));
    child.once('exit', (code) => reject(new Error(`the S3 emulator process exited (${code}) before it answered`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    endpoint: address.endpoint,
    accessKeyId: 'S3RVER' as const,
    secretAccessKey: 'S3RVER' as const,
    pid: child.pid!,
    async stop(o = {}) {
      if (child.exitCode === null) child.send({ stop: o });
      await exited;
    },
  };
}

/**
 * Waits until process `pid` is idle: under 10 ms of CPU in each of two consecutive 100 ms windows (at most 30 s);
 * resolves with the time waited (ms).
 */
async function waitIdle(pid: number): Promise<number> {
  const t0 = Date.now();
  let quiet = 0;
  let last = cpuMs(pid);
  while (quiet < 2 && Date.now() - t0 < 30_000) {
    await new Promise((r) => setTimeout(r, 100));
    const now = cpuMs(pid);
    quiet = now - last < 10 ? quiet + 1 : 0;
    last = now;
  }
  return Date.now() - t0;
}

/** Total seconds the service spent on POST /media/:id/complete requests so far (its own latency histogram). */
async function completeSecondsServed(app: RunningApp): Promise<number> {
  const res = await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: 'Bearer bench-metrics-token-0123456789' } });
  const text = await res.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (
      line.startsWith('media_http_request_duration_seconds_sum{') &&
      line.includes('method="POST"') &&
      /route="[^"]*\/complete"/.test(line)
    )
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Runs `work` for items with at most `n` at once. */
async function pool<T>(items: T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** Samples the process's RSS every 100 ms until stopped; returns the maximum. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMiB(pid));
    } catch {
      /* process gone */
    }
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

interface SignedPart {
  partNumber: number;
  url: string;
  headers: Record<string, string>;
  size: number;
}

/** upload-url → parallel part PUTs (signing more in batches) → complete → ready, with RSS per phase. */
async function uploadThroughService(
  app: RunningApp,
  sha: string,
  label: string,
  /** Before complete is timed, wait until this process (the S3 emulator) is idle. */
  emulatorPid?: number,
): Promise<{
  mbps: number;
  mbpsToAnswer: number;
  completeAnswerMs: number;
  partsMBps: number;
  uploadRss: number;
  processingRss: number;
  processingSeconds: number;
  restingRss: number;
}> {
  const client: Api = api(app.baseUrl, 88);
  const restingRss = rssMiB(app.pid());
  const started = Date.now();
  // CPU while the parts are sent: the service (user / system: HTTP, hashing / socket reads, page cache) and this
  // process (the client: generating and sending the bytes), per GiB, so a loaded machine's wall clock can be read.
  const serviceCpu0 = cpuSplitMs(app.pid());
  const clientCpu0 = process.cpuUsage();
  const rss = sampleRss(app.pid());
  const s = await client.post('/media/upload-url', {
    filename: 'big.bin',
    mimeType: 'application/octet-stream',
    sizeBytes: SIZE,
    checksumSha256: sha,
  });
  if (s.status !== 201 || s.body.method !== 'MULTIPART') throw new Error(`upload-url: ${s.status} ${s.text}`);
  const { assetId, partSize, partCount } = s.body as { assetId: string; partSize: number; partCount: number };
  const signed = new Map<number, SignedPart>((s.body.parts as SignedPart[]).map((p) => [p.partNumber, p]));
  const etags: Array<{ partNumber: number; etag: string }> = [];
  const numbers = Array.from({ length: partCount }, (_, i) => i + 1);
  await pool(numbers, PARALLEL, async (n) => {
    if (!signed.has(n)) {
      const batch = numbers.filter((x) => x >= n && !signed.has(x)).slice(0, 100);
      const r = await client.post(`/media/${assetId}/parts`, { partNumbers: batch });
      if (r.status !== 200) throw new Error(`parts: ${r.status} ${r.text}`);
      for (const p of r.body.parts as SignedPart[]) signed.set(p.partNumber, p);
    }
    const p = signed.get(n)!;
    etags.push({ partNumber: n, etag: await putPart(p.url, p.headers, (n - 1) * partSize, p.size) });
  });
  const partsDone = Date.now();
  const serviceCpu = cpuSplitMs(app.pid());
  const clientCpu = process.cpuUsage(clientCpu0);
  const gib = SIZE / 1024 ** 3;
  console.log(
    `${label}: CPU per GiB of parts: service ${((serviceCpu.user - serviceCpu0.user) / gib).toFixed(0)} ms user + ` +
      `${((serviceCpu.system - serviceCpu0.system) / gib).toFixed(0)} ms system; bench client ${(clientCpu.user / 1000 / gib).toFixed(0)} ms user + ` +
      `${(clientCpu.system / 1000 / gib).toFixed(0)} ms system; load average ${os.loadavg()[0].toFixed(1)}`,
  );
  // The emulator may still be busy with the last parts (it MD5s each one): that is not complete's time.
  const waited = emulatorPid ? await waitIdle(emulatorPid) : 0;
  if (emulatorPid) console.log(`${label}: the S3 emulator was idle ${waited} ms after the last part's answer`);
  const servedBefore = await completeSecondsServed(app);
  const completeStarted = Date.now();
  // Complete answers 202 at once; the object is assembled in the background (a rename on the local driver, S3's
  // CompleteMultipartUpload on s3): both the answer and the end of assembly (the asset's `upload` state) are timed.
  const done = await postJson(
    `${app.baseUrl}/media/${assetId}/complete`,
    { parts: etags.sort((a, b) => a.partNumber - b.partNumber) },
    token(88),
  );
  if (done.status !== 202) throw new Error(`complete: ${done.status} ${done.body}`);
  const answered = Date.now();
  const completeServedMs = Math.round((await completeSecondsServed(app)) * 1000 - servedBefore * 1000);
  let assembled = 0;
  // Failed attempts (retried) seen while polling: an assembly slower than the store's own complete says why here.
  let attempts = 0;
  let lastError: string | null = null;
  for (let pause = 5; ; pause = Math.min(200, pause * 2)) {
    const r = await client.get(`/media/${assetId}`);
    if (r.body?.upload?.state === 'failed') throw new Error(`assembly failed: ${r.body.upload.error}`);
    if (r.body?.upload?.attempts > attempts) {
      attempts = r.body.upload.attempts;
      lastError = r.body.upload.error;
    }
    if (r.body?.status !== 'pending' || r.body?.upload?.state === 'assembled') {
      assembled = Date.now();
      break;
    }
    await new Promise((res) => setTimeout(res, pause));
  }
  const uploaded = assembled;
  if (process.env.BENCH_MULTIPART_SHOW_LOG)
    console.log(
      app
        .output()
        .split('\n')
        .filter((l) => /assembl|Multipart/i.test(l))
        .join('\n'),
    );
  console.log(
    `${label}: parts PUT in ${((partsDone - started) / 1000).toFixed(1)} s (${(SIZE / 1e6 / ((partsDone - started) / 1000)).toFixed(0)} MB/s), ` +
      `complete answered (202) in ${answered - completeStarted} ms (the service's own time on it: ${completeServedMs} ms), object assembled (asset out of pending) ${((assembled - partsDone) / 1000).toFixed(2)} s after the last part` +
      (attempts ? ` after ${attempts} failed attempt(s), the last: ${lastError}` : ''),
  );
  const uploadRss = rss.stop();
  const mbps = SIZE / 1e6 / ((uploaded - started) / 1000);
  const mbpsToAnswer = SIZE / 1e6 / ((answered - started) / 1000);
  console.log(
    `${label}: ${partCount} parts of ${partSize / MiB} MiB, ${PARALLEL} at once: upload + complete's answer ${((answered - started) / 1000).toFixed(1)} s = ${mbpsToAnswer.toFixed(0)} MB/s; ` +
      `upload + assembly ${((uploaded - started) / 1000).toFixed(1)} s = ${mbps.toFixed(0)} MB/s`,
  );
  const prss = sampleRss(app.pid());
  let status = '';
  for (;;) {
    const r = await client.get(`/media/${assetId}?waitFor=ready&timeout=20`);
    status = r.body?.status;
    if (status !== 'processing' && status !== 'pending') {
      if (status !== 'ready') throw new Error(`asset ended ${status}: ${r.body?.failureReason}`);
      if (r.body.checksumSha256 !== sha) throw new Error('checksum mismatch');
      break;
    }
  }
  const processingSeconds = (Date.now() - uploaded) / 1000;
  const processingRss = prss.stop();
  console.log(`${label}: processed (SHA-256 verified, MIME, dedup) in ${processingSeconds.toFixed(1)} s`);
  await client.del(`/media/${assetId}`);
  return {
    mbps,
    mbpsToAnswer,
    completeAnswerMs: answered - completeStarted,
    partsMBps: SIZE / 1e6 / ((partsDone - started) / 1000),
    uploadRss,
    processingRss,
    processingSeconds,
    restingRss,
  };
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-multipart-'));
  console.log(`# multipart upload — ${GIB} GiB (${SIZE} bytes), ${PARALLEL} part PUTs at once, working directory ${dir}`);
  let t = Date.now();
  const sha = fileSha256();
  console.log(
    `synthetic file SHA-256 ${sha.slice(0, 16)}… (generated and hashed in ${((Date.now() - t) / 1000).toFixed(1)} s, never stored)`,
  );
  try {
    // ---- local driver vs dd on the same disk
    if (DRIVERS.includes('local')) await benchLocal(dir, sha);
    if (DRIVERS.includes('s3')) await benchS3(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  async function benchLocal(dir: string, sha: string) {
    const raw = ddWriteMBps(path.join(dir, 'dd.bin'), SIZE / MiB);
    rmSync(path.join(dir, 'dd.bin'));
    console.log(`local: dd if=/dev/zero bs=1M count=${SIZE / MiB} conv=fdatasync: ${raw.toFixed(0)} MB/s`);
    const app = await startProductionService({ LOCAL_STORAGE_ROOT: path.join(dir, 'store') });
    try {
      const r = await uploadThroughService(app, sha, 'local');
      // Parts are written in place in the object's file and assembly is a rename: every byte is written once.
      // The figure counts until the object is assembled (the asset left `pending`), not just until complete's 202.
      report(
        'local multipart (upload + assembly) vs raw disk',
        Math.round((100 * r.mbps) / raw),
        '%',
        { min: 80 },
        `(${r.mbps.toFixed(0)} vs ${raw.toFixed(0)} MB/s; until complete's answer ${r.mbpsToAnswer.toFixed(0)} MB/s)`,
      );
      report('local: POST /media/{id}/complete answered in', r.completeAnswerMs, 'ms', { max: 100 });
      report(
        'local: service RSS during part upload (sampled max)',
        r.uploadRss,
        'MiB',
        { max: 200 },
        `(at rest before: ${r.restingRss} MiB; the service's handler receives the parts)`,
      );
      report(
        'local: service RSS during processing (sampled max)',
        r.processingRss,
        'MiB',
        { max: 200 },
        `(${r.processingSeconds.toFixed(0)} s)`,
      );
    } finally {
      await app.stop();
    }
  }

  // ---- s3 driver: pre-signed part URLs vs raw SDK multipart to the same emulator
  async function benchS3(dir: string) {
    let rawPartsMBps = NaN;
    // In a process of its own: see startS3EmulatorProcess.
    const s3 = await startS3EmulatorProcess({ buckets: ['bench'], directory: path.join(dir, 's3') });
    const s3app = await startProductionService({
      ...s3ServiceEnv(s3, 'bench'),
      S3_REQUEST_TIMEOUT_MS: '120000',
    });
    try {
      const driver = s3DriverFor(s3, 'bench', { requestTimeoutMs: 600_000 });
      const partSize = 16 * MiB;
      t = Date.now();
      const { uploadId } = await driver.createMultipartUpload({ key: 'raw/multipart.bin', contentType: 'application/octet-stream' });
      const numbers = Array.from({ length: Math.ceil(SIZE / partSize) }, (_, i) => i + 1);
      const parts: Array<{ partNumber: number; etag: string }> = [];
      await pool(numbers, PARALLEL, async (n) => {
        const length = Math.min(partSize, SIZE - (n - 1) * partSize);
        const { etag } = await driver.uploadPart({
          key: 'raw/multipart.bin',
          uploadId,
          partNumber: n,
          body: Readable.from(fileBytes((n - 1) * partSize, length), { objectMode: false }),
          contentLength: length,
        });
        parts.push({ partNumber: n, etag });
      });
      parts.sort((a, b) => a.partNumber - b.partNumber);
      const rawPartsSeconds = (Date.now() - t) / 1000;
      await driver.completeMultipartUpload({ key: 'raw/multipart.bin', uploadId, parts });
      const rawS3 = SIZE / 1e6 / ((Date.now() - t) / 1000);
      console.log(
        `s3 (emulator): raw SDK multipart upload (${numbers.length} × 16 MiB, ${PARALLEL} at once): parts ${rawPartsSeconds.toFixed(1)} s ` +
          `(${(SIZE / 1e6 / rawPartsSeconds).toFixed(0)} MB/s), complete ${((Date.now() - t) / 1000 - rawPartsSeconds).toFixed(1)} s; overall ${rawS3.toFixed(0)} MB/s`,
      );
      rawPartsMBps = SIZE / 1e6 / rawPartsSeconds;
      await driver.delete('raw/multipart.bin');
      driver.destroy();
      const r = await uploadThroughService(s3app, sha, 's3 (emulator)', WAIT_IDLE ? s3.pid : undefined);
      report(
        's3 multipart via pre-signed part URLs vs raw SDK multipart, parts + complete',
        Math.round((100 * r.mbps) / rawS3),
        '%',
        { min: 80 },
        `(${r.mbps.toFixed(0)} vs ${rawS3.toFixed(0)} MB/s)`,
      );
      report('s3: POST /media/{id}/complete answered in', r.completeAnswerMs, 'ms', { max: 100 });
      report(
        's3 part PUTs to pre-signed URLs vs raw SDK UploadPart',
        Math.round((100 * r.partsMBps) / rawPartsMBps),
        '%',
        { min: 80 },
        `(${r.partsMBps.toFixed(0)} vs ${rawPartsMBps.toFixed(0)} MB/s)`,
      );
      report(
        's3: service RSS during part upload (sampled max)',
        r.uploadRss,
        'MiB',
        { max: 200 },
        `(at rest before: ${r.restingRss} MiB; bytes never pass through the service)`,
      );
      report(
        's3: service RSS during processing (sampled max)',
        r.processingRss,
        'MiB',
        { max: 200 },
        `(${r.processingSeconds.toFixed(0)} s)`,
      );
    } finally {
      await s3app.stop();
      await s3.stop({ keepData: false });
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
