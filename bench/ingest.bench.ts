/**
 * The whole small-file pipeline (issue 15): BENCH_INGEST_FILES (default 1,000) real JPEGs of ~250 KiB (photo-like,
 * made with sharp, all different: no deduplication shortcut) through upload-url → PUT → complete → ready,
 * by BENCH_INGEST_CLIENTS (default 32) concurrent clients, each waiting for its asset with the long-poll
 * (`GET /media/{id}?waitFor=ready`) as a real client would. clamd scans every upload (SCANNER=clamd, a real clamd
 * from test/support/clamd.ts), derived media on (DERIVED_MEDIA_ENABLED): the eager ones (DERIVED_MEDIA_EAGER, default
 * the thumbnail; `BENCH_ENV='{"DERIVED_MEDIA_EAGER":"thumbnail,preview"}'` for both) before ready.
 * Prints assets/s (target >= 150), p50/p99 from the start of the PUT to ready, the service's RSS sampled every
 * 250 ms (flat: the end within 20 % of the settled start), and the CPU per asset of the service, its PostgreSQL
 * backends and clamd (load-independent) with the ceiling it implies on idle cores. Baseline, same run: the CPU sharp
 * alone spends on each derivative of one such file, in this process (the ceiling the eager ones set is printed).
 */
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { DERIVATIVES } from '../libs/processing/src/processing.constants';
import { api, sha256 } from '../test/support/api';
import { startClamd } from '../test/support/clamd';
import { pool } from '../test/support/files';
import { BENCH_ENV, BENCH_NODE_ARGS, cpuMs, cpuSplitMs, postgresCpuMs, report, rssMiB, startProductionService, treeCpuMs } from './support';

const FILES = Number(process.env.BENCH_INGEST_FILES ?? 1000);
const CLIENTS = Number(process.env.BENCH_INGEST_CLIENTS ?? 32);

/**
 * A photo-like JPEG of about 270 KiB: 1280×960, smooth colour fields (random 160×120 blocks upscaled) with grain,
 * softened, at quality 80 — it compresses like a photograph, not like flat colour (too easy) or pure noise (too hard).
 */
async function photoJpeg(width = 1280, height = 960): Promise<Buffer> {
  const fields = await sharp(randomBytes((width / 8) * (height / 8) * 3), { raw: { width: width / 8, height: height / 8, channels: 3 } })
    .resize(width, height, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  const grain = randomBytes(fields.length);
  for (let i = 0; i < fields.length; i++) fields[i] = Math.max(0, Math.min(255, fields[i] + (grain[i] & 31) - 16));
  return sharp(fields, { raw: { width, height, channels: 3 } })
    .blur(0.8)
    .jpeg({ quality: 80 })
    .toBuffer();
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main() {
  console.log(`# ingest — ${os.cpus().length} × ${os.cpus()[0].model}, Node ${process.version}, ${FILES} JPEGs, ${CLIENTS} clients`);
  console.log(`# ${new Date().toISOString()}; load: ${execSync('uptime').toString().trim()}`);
  if (BENCH_NODE_ARGS.length) console.log(`# service node options: ${BENCH_NODE_ARGS.join(' ')}`);
  const files: Buffer[] = [];
  await pool(
    Array.from({ length: FILES }, (_, i) => i),
    2,
    async () => void files.push(await photoJpeg()),
  );
  const meanKiB = files.reduce((a, b) => a + b.length, 0) / FILES / 1024;
  // Baseline, same run: the CPU sharp alone spends on each derivative of one such file, as the processing renderer
  // makes it (its own pipeline from the file: shrink-on-load; WebP at the derivative's effort), one at a time —
  // the eager ones (DERIVED_MEDIA_EAGER, default the thumbnail) bound assets/s with thumbnails on this machine.
  const eager = (BENCH_ENV.DERIVED_MEDIA_EAGER ?? 'thumbnail').split(',');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-ingest-'));
  const SAMPLE = 20;
  const sample = files.slice(0, SAMPLE).map((f, i) => {
    const file = path.join(dir, `${i}.jpg`);
    writeFileSync(file, f);
    return file;
  });
  const cpuMsOf = async (run: (file: string) => Promise<unknown>) => {
    await run(sample[0]); // warm-up
    const c0 = process.cpuUsage();
    for (const file of sample) await run(file);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / SAMPLE;
  };
  const perDerivative: Record<string, number> = {};
  for (const { kind, size, effort } of DERIVATIVES)
    perDerivative[kind] = await cpuMsOf((file) =>
      sharp(file, { sequentialRead: true, pages: 1 })
        .rotate()
        .resize({ width: size, height: size, fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80, effort })
        .toBuffer(),
    );
  // What processing did before (one input, both derivatives at libwebp's default effort), for comparison.
  const before = await cpuMsOf((file) => {
    const src = sharp(file);
    return Promise.all(
      [256, 1024].map((size) =>
        src
          .clone()
          .rotate()
          .resize({ width: size, height: size, fit: 'inside', withoutEnlargement: true })
          .webp({ quality: 80 })
          .toBuffer(),
      ),
    );
  });
  rmSync(dir, { recursive: true, force: true });
  const eagerMs = DERIVATIVES.filter((d) => eager.includes(d.kind)).reduce((a, d) => a + perDerivative[d.kind], 0);
  console.log(
    `baseline: ${FILES} JPEGs of ${meanKiB.toFixed(0)} KiB on average; sharp alone, CPU per derivative: ` +
      DERIVATIVES.map((d) => `${d.kind} ${d.size} px ${perDerivative[d.kind].toFixed(1)} ms`).join(', ') +
      `; eager (${eager.join(',')}): ${eagerMs.toFixed(1)} ms (ceiling on ${os.cpus().length} cores: ${Math.round((os.cpus().length * 1000) / eagerMs)} assets/s); ` +
      `both as processing made them before: ${before.toFixed(1)} ms`,
  );

  const clamd = await startClamd();
  // MALLOC_ARENA_MAX=2 as in the Dockerfile (glibc would give every libvips thread its own arena); BENCH_ENV may override.
  const app = await startProductionService({
    MALLOC_ARENA_MAX: '2',
    ...BENCH_ENV,
    ...clamd.env,
    RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '10000000',
  });
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(rssMiB(app.pid())), 250);
  try {
    const rssAtRest = rssMiB(app.pid());
    const putToReady: number[] = [];
    const statuses = new Map<string, number>();
    const db = decodeURIComponent(new URL(app.databaseUrl).pathname.slice(1));
    const cpu0 = {
      service: treeCpuMs(app.pid()),
      pg: postgresCpuMs(db),
      clamd: cpuMs(clamd.pid()),
      client: process.cpuUsage(),
      split: cpuSplitMs(app.pid()),
    };
    const started = Date.now();
    await pool(
      files.map((f, i) => ({ f, i })),
      CLIENTS,
      async ({ f, i }) => {
        const client = api(app.baseUrl, 500 + (i % CLIENTS));
        const grant = await client.post('/media/upload-url', {
          filename: `photo-${i}.jpg`,
          mimeType: 'image/jpeg',
          sizeBytes: f.length,
          checksumSha256: sha256(f),
        });
        if (grant.status !== 201) throw new Error(`upload-url ${grant.status}: ${grant.text}`);
        const putAt = Date.now();
        const put = await fetch(grant.body.uploadUrl, { method: 'PUT', headers: grant.body.headers, body: f });
        if (put.status !== 200) throw new Error(`PUT ${put.status}: ${await put.text()}`);
        const done = await client.post(`/media/${grant.body.assetId}/complete`);
        if (done.status !== 202) throw new Error(`complete ${done.status}: ${done.text}`);
        let status = done.body.status as string;
        while (status === 'pending' || status === 'processing') {
          const r = await client.get(`/media/${grant.body.assetId}?waitFor=ready&timeout=30`);
          status = r.body.status;
        }
        putToReady.push(Date.now() - putAt);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      },
    );
    const secs = (Date.now() - started) / 1000;
    const client = process.cpuUsage(cpu0.client);
    const cpuPerAsset = {
      service: (treeCpuMs(app.pid()) - cpu0.service) / FILES,
      pg: (postgresCpuMs(db) - cpu0.pg) / FILES,
      clamd: (cpuMs(clamd.pid()) - cpu0.clamd) / FILES,
      client: (client.user + client.system) / 1000 / FILES,
    };
    clearInterval(sampler);
    const sorted = [...putToReady].sort((a, b) => a - b);
    const rate = FILES / secs;
    const settled = rss.slice(Math.min(rss.length - 1, 8)); // after the first 2 s of warm-up
    const [start, end, max] = [settled[0], settled[settled.length - 1], Math.max(...settled)];
    console.log(
      `ingest: ${FILES} JPEGs in ${secs.toFixed(1)} s = ${rate.toFixed(0)} assets/s; PUT → ready p50 ${pct(sorted, 50)} ms, p99 ${pct(sorted, 99)} ms; ` +
        `outcomes ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    console.log(
      `service RSS: at rest ${rssAtRest} MiB; during the run ${start} → ${end} MiB (max ${max} MiB, VmHWM ${rssMiB(app.pid(), 'VmHWM')} MiB)`,
    );
    const step = Math.max(1, Math.floor(rss.length / 12));
    console.log(
      `service RSS samples (MiB, every ${(step * 0.25).toFixed(2)} s of ${rss.length} taken every 250 ms): ` +
        rss.filter((_, i) => i % step === 0 || i === rss.length - 1).join(' '),
    );
    const [phases] = await app.sql<Record<string, string>>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processing_started_at - created_at))::numeric(10,3)::text AS "grant → complete p50 s",
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ready_at - processing_started_at))::numeric(10,3)::text AS "complete → ready p50 s",
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ready_at - processing_started_at))::numeric(10,3)::text AS "complete → ready p99 s"
         FROM media_assets WHERE status = 'ready'`,
    );
    console.log(`phases (from the database): ${JSON.stringify(phases)}`);
    const split = cpuSplitMs(app.pid());
    const kernelShare = (split.system - cpu0.split.system) / (split.system - cpu0.split.system + split.user - cpu0.split.user);
    const serverSide = cpuPerAsset.service + cpuPerAsset.pg + cpuPerAsset.clamd;
    console.log(
      `CPU per asset: service ${cpuPerAsset.service.toFixed(1)} ms (${Math.round(100 * kernelShare)} % of it in the kernel) + PostgreSQL ${cpuPerAsset.pg.toFixed(1)} ms + clamd ${cpuPerAsset.clamd.toFixed(1)} ms ` +
        `= ${serverSide.toFixed(1)} ms (load-independent; Redis, shared with others, not counted); this load generator ${cpuPerAsset.client.toFixed(1)} ms. ` +
        `Implied ceiling on ${os.cpus().length} idle cores: ${Math.round((os.cpus().length * 1000) / serverSide)} assets/s for the service side alone, ` +
        `${Math.round((os.cpus().length * 1000) / (serverSide + cpuPerAsset.client))} with the clients on the same cores`,
    );
    report('ingest throughput', Math.round(rate), 'assets/s', { min: 150 });
    report('ingest RSS growth (end vs settled start)', Math.round((100 * (end - start)) / start), '%', { max: 20 });
    if ((statuses.get('ready') ?? 0) !== FILES)
      console.log(`MISS  not every upload became ready: ${JSON.stringify(Object.fromEntries(statuses))}`);
  } finally {
    clearInterval(sampler);
    await app.stop();
    await clamd.destroy();
    console.log(`# done ${new Date().toISOString()}; load: ${execSync('uptime').toString().trim()}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
