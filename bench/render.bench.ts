/**
 * On-the-fly transformations (GET /media/{id}/render), each figure beside a baseline from the same run:
 *   1. cold renders of BENCH_RENDER_IMAGES 12-megapixel JPEGs (default 50) to 400 px WebP, at the service's render
 *      concurrency (TRANSFORM_CONCURRENCY, default the cores): renders/s vs calling sharp directly on the same files
 *      with the same concurrency — target >= 90 %; p99 latency printed. Measured in the same rounds: the floor, a bare
 *      node:http server that only renders the same way (render-floor.child.ts), which shows what part of the gap any
 *      HTTP service pays on this machine (the client's and the server's request handling share its cores)
 *   2. cached renditions (API answer + fetching the stored rendition) vs a plain download of an object of the same
 *      size (API answer + fetching the object): req/s — target >= 80 %
 *   3. the service's RSS while 8 clients request random sizes and formats of the 50 images for BENCH_DURATION
 *      seconds (default 20) — target < 400 MiB
 */
import { randomBytes } from 'node:crypto';
import os, { availableParallelism } from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import sharp from 'sharp';
import { api, Api, uploadBytes } from '../test/support/api';
import { MAIN_JS, token } from '../test/support/app-process';
import { pool } from '../test/support/files';
import { cpuMs, postgresCpuMs, report, rssMiB, startProductionService, threadCpuMs } from './support';

const IMAGES = Number(process.env.BENCH_RENDER_IMAGES ?? 50);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 20);
const CONCURRENCY = Number(process.env.BENCH_RENDER_CONCURRENCY ?? availableParallelism());
const RSS_CLIENTS = 8;
/** Clients asking cold renders at once: more than the render slots, so that a slot never idles between requests. */
const CLIENTS = Number(process.env.BENCH_RENDER_CLIENTS ?? 4 * CONCURRENCY);
/** Rounds of cold renders (each renders every image once, at a width of its own). */
const ROUNDS = Number(process.env.BENCH_RENDER_ROUNDS ?? 2);
/**
 * The cold-render client: `http` (default), node:http with keep-alive connections, which costs this process about
 * 1 ms of CPU per request; `fetch` (undici), about 2 ms — CPU the service's figure pays on a 2-core machine and
 * sharp's does not (the setting of the rounds before the floor was measured).
 */
const COLD_CLIENT = process.env.BENCH_RENDER_CLIENT ?? 'http';
/** Which of the three parts to run (BENCH_RENDER_PHASES=cold for quick CPU-per-render comparisons); default all. */
const PHASES = new Set((process.env.BENCH_RENDER_PHASES ?? 'cold,cached,rss').split(','));

/** A 4000×3000 JPEG that looks like a photo to an encoder (a gradient with grain), distinct per `i`. */
async function photo(i: number): Promise<Buffer> {
  const base = sharp({
    create: {
      width: 4000,
      height: 3000,
      channels: 3,
      background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 },
      noise: { type: 'gaussian', mean: 128, sigma: 30 },
    },
  });
  return base.blur(1.2).jpeg({ quality: 85 }).toBuffer();
}

/** BENCH_RENDER_IMAGE_CACHE=<dir>: the photos are made once and read from there by later runs (making them takes minutes). */
async function cachedPhoto(i: number): Promise<Buffer> {
  const cache = process.env.BENCH_RENDER_IMAGE_CACHE;
  if (!cache) return photo(i);
  const file = path.join(cache, `photo-${i}.jpg`);
  if (existsSync(file)) return readFileSync(file);
  const bytes = await photo(i);
  mkdirSync(cache, { recursive: true });
  writeFileSync(file, bytes);
  return bytes;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

/** Runs `fn` over `items` with `width` at a time; answers items/s and latency percentiles (ms). */
async function timed<T>(items: T[], width: number, fn: (item: T) => Promise<void>) {
  const latencies: number[] = [];
  const t0 = performance.now();
  await pool(items, width, async (item) => {
    const t = performance.now();
    await fn(item);
    latencies.push(performance.now() - t);
  });
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: items.length / seconds, latencies };
}

/** `clients` loops doing `once` until `seconds` pass; answers completed/s. */
async function loop(clients: number, seconds: number, once: (client: number) => Promise<void>): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < until) {
        await once(c);
        done++;
      }
    }),
  );
  return done / seconds;
}

async function fetchBody(url: string): Promise<number> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url.split('?')[0]}: ${res.status}`);
  return (await res.arrayBuffer()).byteLength;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** GET `url` over a kept-alive connection: status and body text (the cold-render client, see COLD_CLIENT). */
function getText(url: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  if (COLD_CLIENT === 'fetch')
    return fetch(url, { headers, redirect: 'manual' }).then(async (r) => ({ status: r.status, text: await r.text() }));
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: keepAlive, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** The bare render server (render-floor.child.ts) with the service's malloc settings; answers its base URL. */
async function startFloor(files: string[], dir: string, env: Record<string, string>) {
  const child = fork(path.join(__dirname, 'render-floor.child.js'), [JSON.stringify({ files, dir, concurrency: CONCURRENCY })], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve(Number(m)));
    child.once('exit', (code) => reject(new Error(`the floor server exited (${code})`)));
  });
  return { baseUrl: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill() };
}

/** CPU (ms) each thread of `pid` has used since `before` (a threadCpuMs reading). */
function threadCpuSince(pid: number, before: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, ms] of threadCpuMs(pid)) delta.set(name, ms - (before.get(name) ?? 0));
  return delta;
}

function addThreadCpu(total: Map<string, number>, delta: Map<string, number>): void {
  for (const [name, ms] of delta) total.set(name, (total.get(name) ?? 0) + ms);
}

/** `name x.x ms, …` per render (`count` renders), busiest thread first, idle threads left out. */
function perThread(cpu: Map<string, number>, count: number): string {
  return [...cpu]
    .filter(([, ms]) => ms > 0)
    .sort((x, y) => y[1] - x[1])
    .map(([name, ms]) => `${name} ${(ms / count).toFixed(1)} ms`)
    .join(', ');
}

async function readyImage(client: Api, bytes: Buffer, mimeType: string): Promise<string> {
  const up = await uploadBytes(client, bytes, { mimeType, filename: 'photo.jpg' });
  if (up.putStatus !== 200) throw new Error(`PUT ${up.putStatus}`);
  await client.post(`/media/${up.assetId}/complete`);
  const a = (await client.get(`/media/${up.assetId}?waitFor=ready&timeout=30`)).body;
  if (a.status !== 'ready') throw new Error(`asset ${up.assetId} is ${a.status}`);
  return up.assetId;
}

/** Sum of a /metrics series (all label sets whose text starts with `series`). */
async function metric(baseUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(series)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

const METRICS_TOKEN = 'bench-metrics-token-0123456789';

async function main() {
  // The baseline runs with the libvips settings the service has: no operation cache (the service turns it off) and
  // sharp's default thread count (the service leaves it as it is: 1 on glibc without jemalloc, else the cores).
  sharp.cache(false);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-render-'));
  console.log(
    `# render — ${IMAGES} 12 MP JPEGs, render concurrency ${CONCURRENCY}, libvips threads per render ${sharp.concurrency()}, libvips cache off, ${DURATION_S} s load phases; service ${MAIN_JS}`,
  );
  // The service's (and the floor's) malloc: as the Dockerfile sets it, unless BENCH_RENDER_MALLOC=glibc (glibc's
  // defaults: what the settings cost in CPU and save in RSS).
  const malloc: Record<string, string> =
    process.env.BENCH_RENDER_MALLOC === 'glibc'
      ? {}
      : {
          // glibc: one malloc arena per libvips thread otherwise.
          MALLOC_ARENA_MAX: '2',
          // glibc's dynamic mmap threshold would keep freed libvips buffers resident.
          MALLOC_MMAP_THRESHOLD_: '131072',
          MALLOC_TRIM_THRESHOLD_: '131072',
        };
  const serviceEnv = {
    RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '100000',
    TRANSFORM_RATE_LIMIT_PER_MINUTE: '1000000',
    TRANSFORM_CONCURRENCY: String(CONCURRENCY),
    DERIVED_MEDIA_ENABLED: 'false',
    ...malloc,
  };
  console.log(
    `service and floor malloc: ${
      Object.keys(malloc).length
        ? Object.entries(malloc)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ') + ' (as in the Dockerfile)'
        : "glibc's defaults (BENCH_RENDER_MALLOC=glibc)"
    }`,
  );
  const app = await startProductionService({ ...serviceEnv, LOCAL_STORAGE_ROOT: path.join(dir, 'store') });
  // BENCH_RENDER_COMPARE_MAIN_JS: another build (e.g. a baseline worktree's dist/apps/api/src/main.js) measured in the
  // same rounds as this one (cold renders only), so that both see the same load: the precise before/after.
  const compareMainJs = process.env.BENCH_RENDER_COMPARE_MAIN_JS;
  const other = compareMainJs
    ? await startProductionService({ ...serviceEnv, LOCAL_STORAGE_ROOT: path.join(dir, 'store-compare') }, compareMainJs)
    : null;
  let stopFloor: (() => void) | undefined;
  try {
    const client = api(app.baseUrl, 77);
    const otherClient = other ? api(other.baseUrl, 78) : null;
    console.log('making and uploading the images…');
    const sources: string[] = [];
    const ids: string[] = [];
    const otherIds: string[] = [];
    await pool(
      Array.from({ length: IMAGES }, (_, i) => i),
      2,
      async (i) => {
        const bytes = await cachedPhoto(i);
        // The baseline reads the same bytes from a file, as the service reads its stored object.
        sources[i] = path.join(dir, `photo-${i}.jpg`);
        writeFileSync(sources[i], bytes);
        ids[i] = await readyImage(client, bytes, 'image/jpeg');
        if (otherClient) otherIds[i] = await readyImage(otherClient, bytes, 'image/jpeg');
      },
    );
    console.log(`${IMAGES} images ready`);

    // 1. Cold renders vs sharp directly (the same images, the same concurrency), in alternating rounds so that load
    // from elsewhere on the machine weighs on both alike; each round renders every image at a new width (cold).
    let directCount = 0;
    let directSeconds = 0;
    // CPU per render, which moves far less than renders/s when others load the machine: the bench process while it
    // calls sharp; the service and its PostgreSQL backends while they answer.
    let directCpu = 0;
    const directThreadCpu = new Map<string, number>();
    const measured = [
      { label: 'service', app, client, ids },
      ...(other && otherClient ? [{ label: `compared build (${compareMainJs})`, app: other, client: otherClient, ids: otherIds }] : []),
    ].map((m) => ({
      ...m,
      db: decodeURIComponent(new URL(m.app.databaseUrl).pathname.slice(1)),
      count: 0,
      seconds: 0,
      cpu: 0,
      postgresCpu: 0,
      threadCpu: new Map<string, number>(),
      latencies: [] as number[],
      auth: { authorization: `Bearer ${token(m.label === 'service' ? 77 : 78)}` },
      waitBefore: 0,
      renderBefore: 0,
    }));
    const floor = await startFloor(sources, path.join(dir, 'floor'), malloc);
    stopFloor = floor.stop;
    const floorRun = { count: 0, seconds: 0, cpu: 0, threadCpu: new Map<string, number>() };
    for (const m of measured) {
      m.waitBefore = await metric(m.app.baseUrl, 'media_render_queue_wait_seconds_sum');
      m.renderBefore = await metric(m.app.baseUrl, 'media_render_duration_seconds_sum');
    }
    for (let round = 0; round < ROUNDS; round++) {
      const width = 400 + round;
      const c0 = process.cpuUsage();
      const dt0 = threadCpuMs(process.pid);
      const d = await timed(sources, CONCURRENCY, async (file) => {
        await sharp(file).rotate().resize({ width, height: 400, fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer();
      });
      const c = process.cpuUsage(c0);
      addThreadCpu(directThreadCpu, threadCpuSince(process.pid, dt0));
      directCpu += (c.user + c.system) / 1000;
      directCount += sources.length;
      directSeconds += sources.length / d.perSecond;
      // The floor and the service(s) take turns going first.
      const order: ((typeof measured)[number] | 'floor')[] = [...measured, 'floor'];
      for (const m of round % 2 ? order.reverse() : order) {
        if (m === 'floor') {
          const f0 = cpuMs(floor.pid);
          const ft0 = threadCpuMs(floor.pid);
          const o = await timed(
            sources.map((_, i) => i),
            CLIENTS,
            async (i) => {
              const r = await getText(`${floor.baseUrl}/render?i=${i}&width=${width}`, {});
              if (r.status !== 200) throw new Error(`floor render ${i}: ${r.status} ${r.text}`);
            },
          );
          floorRun.cpu += cpuMs(floor.pid) - f0;
          addThreadCpu(floorRun.threadCpu, threadCpuSince(floor.pid, ft0));
          floorRun.count += sources.length;
          floorRun.seconds += sources.length / o.perSecond;
          continue;
        }
        const s0 = cpuMs(m.app.pid());
        const p0 = postgresCpuMs(m.db);
        const t0 = threadCpuMs(m.app.pid());
        // The service gets more clients than it has render slots (CLIENTS), so that a slot never idles while a request
        // is between renders (HTTP, database, storage write); it still renders at most CONCURRENCY at once.
        const o = await timed(m.ids, CLIENTS, async (id) => {
          const r = await getText(`${m.app.baseUrl}/media/${id}/render?width=${width}&height=400&format=webp&redirect=false`, m.auth);
          if (r.status !== 200) throw new Error(`render ${id}: ${r.status} ${r.text}`);
        });
        m.cpu += cpuMs(m.app.pid()) - s0;
        const roundThreads = threadCpuSince(m.app.pid(), t0);
        addThreadCpu(m.threadCpu, roundThreads);
        if (process.env.BENCH_RENDER_VERBOSE) console.log(`  round ${round}, ${m.label}: ${perThread(roundThreads, m.ids.length)}`);
        m.postgresCpu += postgresCpuMs(m.db) - p0;
        m.count += m.ids.length;
        m.seconds += m.ids.length / o.perSecond;
        m.latencies.push(...o.latencies);
      }
    }
    const baseline = directCount / directSeconds;
    console.log(
      `sharp directly: ${baseline.toFixed(2)} renders/s, CPU per render ${(directCpu / directCount).toFixed(1)} ms: ${perThread(directThreadCpu, directCount)}`,
    );
    for (const m of measured) {
      m.latencies.sort((x, y) => x - y);
      const waited = (await metric(m.app.baseUrl, 'media_render_queue_wait_seconds_sum')) - m.waitBefore;
      const renderTime = (await metric(m.app.baseUrl, 'media_render_duration_seconds_sum')) - m.renderBefore;
      console.log(
        `${m.label}: cold renders to 400 px WebP (${ROUNDS} rounds of ${IMAGES}, ${CLIENTS} clients) ${(m.count / m.seconds).toFixed(2)}/s = ${Math.round((100 * m.count) / m.seconds / baseline)} % of sharp directly, p50 ${percentile(m.latencies, 50).toFixed(0)} ms, p99 ${percentile(m.latencies, 99).toFixed(0)} ms; ` +
          `mean render ${((1000 * renderTime) / m.count).toFixed(0)} ms, mean wait for a slot ${((1000 * waited) / m.count).toFixed(0)} ms`,
      );
      console.log(
        `${m.label}: CPU per render ${(m.cpu / m.count).toFixed(1)} ms + its PostgreSQL backends ${(m.postgresCpu / m.count).toFixed(1)} ms = ${((m.cpu + m.postgresCpu) / m.count / (directCpu / directCount)).toFixed(3)} × sharp directly; by thread: ${perThread(m.threadCpu, m.count)}`,
      );
    }
    const floorRate = floorRun.count / floorRun.seconds;
    console.log(
      `floor (bare node:http server rendering the same way, no auth, database or storage; ${COLD_CLIENT} client): ${floorRate.toFixed(2)}/s = ${Math.round((100 * floorRate) / baseline)} % of sharp directly, CPU per render ${(floorRun.cpu / floorRun.count).toFixed(1)} ms: ${perThread(floorRun.threadCpu, floorRun.count)}`,
    );
    for (const m of measured) console.log(`${m.label}: ${Math.round((100 * m.count) / m.seconds / floorRate)} % of the floor`);
    floor.stop();
    stopFloor = undefined;
    const oursRate = measured[0].count / measured[0].seconds;
    report('cold renders/s vs sharp directly', Math.round((100 * oursRate) / baseline), '%', { min: 90 });
    if (!PHASES.has('cached') && !PHASES.has('rss')) return;

    // 2. A cached rendition vs a plain download of an object of the same size, in alternating rounds.
    const link = (await client.get(`/media/${ids[0]}/render?width=400&height=400&format=webp&redirect=false`)).body as { url: string };
    const size = await fetchBody(link.url);
    const plainId = await readyImage(client, randomBytes(size), 'application/octet-stream');
    const cached = async () => {
      const r = await client.get(`/media/${ids[0]}/render?width=400&height=400&format=webp&redirect=false`);
      await fetchBody((r.body as { url: string }).url);
    };
    const plain = async () => {
      const r = await client.get(`/media/${plainId}/download?redirect=false`);
      await fetchBody((r.body as { url: string }).url);
    };
    if (PHASES.has('cached')) {
      await loop(16, 1, cached);
      await loop(16, 1, plain);
      let plainTotal = 0;
      let cachedTotal = 0;
      const slice = Math.max(1, DURATION_S / 8);
      for (let i = 0; i < 4; i++) {
        plainTotal += await loop(16, slice, plain);
        cachedTotal += await loop(16, slice, cached);
      }
      console.log(
        `objects of ${size} bytes, 16 clients (API answer + fetching the bytes), 4 alternating rounds of ${slice} s: plain download ${(plainTotal / 4).toFixed(0)} req/s; cached rendition ${(cachedTotal / 4).toFixed(0)} req/s`,
      );
      report('cached rendition req/s vs plain download', Math.round((100 * cachedTotal) / plainTotal), '%', { min: 80 });
    }
    if (!PHASES.has('rss')) return;

    // 3. RSS under 8 clients asking random sizes and formats of every image (mostly cold renders).
    const formats = ['webp', 'jpeg', 'avif', 'png'];
    const rssBefore = rssMiB(app.pid());
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(app.pid()))), 100);
    const statuses = new Map<number, number>();
    const rate = await loop(RSS_CLIENTS, DURATION_S, async () => {
      const id = ids[Math.floor(Math.random() * ids.length)];
      const width = 50 + Math.floor(Math.random() * 1950);
      const format = formats[Math.floor(Math.random() * formats.length)];
      const r = await client.get(`/media/${id}/render?width=${width}&format=${format}&redirect=false`);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 503) await new Promise((res) => setTimeout(res, 1000 * Number(r.headers.get('retry-after') ?? 1)));
    });
    clearInterval(sampler);
    console.log(
      `random sizes (50–2000 px, WebP/JPEG/AVIF/PNG), ${RSS_CLIENTS} clients: ${rate.toFixed(1)} answers/s, statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    report(
      'service RSS under random renders (sampled max)',
      peak,
      'MiB',
      { max: 400 },
      `(before: ${rssBefore} MiB, VmHWM ${rssMiB(app.pid(), 'VmHWM')} MiB)`,
    );
  } catch (e) {
    console.error(`the service printed:\n${app.output().slice(-4000)}`);
    throw e;
  } finally {
    stopFloor?.();
    await other?.stop();
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
