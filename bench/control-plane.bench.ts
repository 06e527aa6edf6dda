/**
 * Control plane and metadata reads, through HTTP at 64 connections against the service in production mode.
 *   baseline:  GET /health/live   (a minimal Nest route: the framework's ceiling on this machine, same run)
 *   1. POST /media/upload-url     one owner (a service account signing for its users) and 64 owners:
 *                                 each target >= 3,000 req/s, p99 <= 50 ms (issue 15)
 *   2. GET /media/{id}            warm cache target >= 10,000 req/s, p99 <= 20 ms
 *   3. GET /media/{id}            cold: a second service with the cache off (CACHE_TTL_SECONDS=0), so every request
 *                                 reads the asset, its ACL and metadata from PostgreSQL: target >= 2,500 req/s
 * The benchmarked service has the upload rate limit and the asset-count quota raised out of the way (both are still
 * checked on every request). Headline figures are one service process (WEB_CONCURRENCY=1, the default); the same
 * runs are then repeated with WEB_CONCURRENCY=2 (two node:cluster workers), labelled so. BENCH_WORKERS=1 skips those.
 * BENCH_DURATION (s per run, default 10); BENCH_WARMUP (s of the same load before each run, unmeasured; default 0);
 * BENCH_ONLY=upload,warm,cold picks runs; BENCH_ENV='{"DATABASE_POOL_SIZE":"20"}'
 * adds service settings; BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the service.
 * BENCH_LOADGEN=wrk|autocannon|both|auto picks the load generator (bench/load-generators.ts; default: wrk when
 * installed — the issue's figures are wrk figures — else autocannon); `both` runs each load with both, wrk first,
 * and prints both (MET/MISS is judged on the first). Each line names its generator and the CPU it used per request.
 * With one service process, each run is followed by what happened inside it (bench/service-breakdown.ts): event-loop
 * delay, GC pauses, the main thread's CPU and run-queue wait, and upload-url's group-commit batches.
 */
import { execSync } from 'node:child_process';
import os from 'node:os';
import { api, uploadBytes } from '../test/support/api';
import { RunningApp, token } from '../test/support/app-process';
import { generators, GeneratorResult, LoadSpec, runLoad } from './load-generators';
import { breakdownLine, breakdownStart } from './service-breakdown';
import { BENCH_ENV, LoadResult, report, startProductionService, withCpu } from './support';

/** CPU per request, which other load on the machine barely changes (unlike requests/s). */
const cpu = (r: { serviceCpuMsPerReq: number; postgresCpuMsPerReq: number }) =>
  `; CPU per request: service ${r.serviceCpuMsPerReq} ms, PostgreSQL ${r.postgresCpuMsPerReq} ms`;

const ONLY = new Set((process.env.BENCH_ONLY ?? 'upload,warm,cold').split(','));
/**
 * BENCH_WARMUP (s, default 0): the same load, unmeasured, before each measured run. The first load after the service
 * starts carries its warm-up (JIT, the pool opening connections, the heap growing): the bare route, measured first,
 * had p99 209–349 ms without and 11–16 ms after a 3 s warm-up (2026-12-05, README).
 */
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 0);

/** Out of the benchmark's way, still checked on every request. */
const LIMITS = { RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '100000000', QUOTA_MAX_ASSETS_PER_OWNER: '100000000' };

type Measured = GeneratorResult & { serviceCpuMsPerReq: number; postgresCpuMsPerReq: number };

const line = (name: string, r: Measured) =>
  `${name} [${r.generator}]: ${r.requestsPerSec} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}${cpu(r)}, load generator ${r.generatorCpuMsPerReq} ms`;

/** Runs the load with each generator asked for (BENCH_LOADGEN), prints each; answers the first (the headline). */
async function measure(app: RunningApp, name: string, spec: LoadSpec): Promise<Measured> {
  const results: Measured[] = [];
  for (const g of generators()) {
    if (WARMUP_S > 0) {
      const w = await runLoad(g, { ...spec, duration: WARMUP_S });
      console.log(`${name} [${g}] warm-up ${WARMUP_S} s (not judged): ${w.requestsPerSec} req/s, p50 ${w.p50} ms, p99 ${w.p99} ms`);
    }
    const commits0 = await commits(app);
    // One service process: where the time went inside it (see bench/service-breakdown.ts).
    const inside = app.env.WEB_CONCURRENCY === '1' ? await breakdownStart(app) : undefined;
    const r = await withCpu(app, () => runLoad(g, spec));
    const insideLine = inside ? await breakdownLine(app, inside) : undefined;
    const perRequest = (await settledCommits(app)) - commits0;
    console.log(`${line(name, r)}, database commits ${Math.round((100 * perRequest) / Math.max(1, r.total)) / 100} per request`);
    if (insideLine) console.log(insideLine);
    results.push(r);
  }
  return results[0];
}

/**
 * Commits in the service's database once the count has settled: backends report to pg_stat_database up to a second
 * after a transaction ends (PostgreSQL 15), so read until two reads 250 ms apart agree (at most 5 s).
 */
async function settledCommits(app: RunningApp): Promise<number> {
  let last = await commits(app);
  for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await commits(app);
    if (now === last) return now;
    last = now;
  }
  return last;
}

/** Transactions committed so far in the service's database. */
async function commits(app: RunningApp): Promise<number> {
  const [row] = await app.sql<{ n: string }>(`SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()`);
  return Number(row.n);
}

async function main() {
  const duration = Number(process.env.BENCH_DURATION ?? 10);
  console.log(
    `# control plane — ${os.cpus().length} × ${os.cpus()[0].model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${duration} s per run, 64 connections`,
  );
  console.log(`# ${new Date().toISOString()}; load: ${execSync('uptime').toString().trim()}`);
  console.log(`# load generator: ${generators().join(', then ')} (BENCH_LOADGEN=${process.env.BENCH_LOADGEN ?? 'auto'})`);
  if (Object.keys(BENCH_ENV).length) console.log(`# service settings: ${JSON.stringify(BENCH_ENV)}`);
  const workerCounts = process.env.BENCH_WORKERS === '1' ? [1] : [1, 2];
  for (const workers of workerCounts) await runAll(duration, { WEB_CONCURRENCY: String(workers), ...LIMITS }, workers);
  console.log(`# done ${new Date().toISOString()}; load: ${execSync('uptime').toString().trim()}`);
}

async function runAll(duration: number, env: Record<string, string>, workers: number) {
  const label = workers === 1 ? '' : ` [${workers} workers]`;
  console.log(`## WEB_CONCURRENCY=${workers}${workers === 1 ? ' (headline: one service process)' : ''}`);
  if (ONLY.has('upload') || ONLY.has('warm')) {
    const app = await startProductionService(env);
    try {
      const base = await measure(app, `baseline GET /health/live${label}`, { url: `${app.baseUrl}/health/live`, duration });
      const ofBase = (r: LoadResult) =>
        `(${Math.round((100 * r.requestsPerSec) / base.requestsPerSec)}% of the bare route's ${base.requestsPerSec} req/s)`;

      if (ONLY.has('upload')) {
        for (const owners of [1, 64]) {
          const tokens = Array.from({ length: owners }, (_, i) => token(1000 + i));
          const sign = await measure(app, `POST /media/upload-url (${owners === 1 ? 'one owner' : `${owners} owners`})${label}`, {
            url: `${app.baseUrl}/media/upload-url`,
            duration,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            tokens,
            bodyTemplate: '{"filename":"photo-{n}.jpg","mimeType":"image/jpeg","sizeBytes":100000{n%10}}',
          });
          const what = `upload-url, ${owners === 1 ? 'one owner' : `${owners} owners`}${label}`;
          report(`${what} throughput`, sign.requestsPerSec, 'req/s', { min: 3000 }, ofBase(sign));
          report(`${what} p99`, sign.p99, 'ms', { max: 50 }, `(bare route p99 ${base.p99} ms)`);
          const [{ n }] = await app.sql<{ n: string }>(`SELECT count(*)::text AS n FROM media_assets WHERE status = 'pending'`);
          console.log(`  pending rows written so far: ${n}`);
        }
      }

      if (ONLY.has('warm')) {
        const owner = api(app.baseUrl, 1000);
        const up = await uploadBytes(owner, Buffer.from('metadata read benchmark'), { mimeType: 'text/plain' });
        await owner.post(`/media/${up.assetId}/complete`);
        const read = await measure(app, `GET /media/{id}${label}`, {
          url: `${app.baseUrl}/media/${up.assetId}`,
          duration,
          tokens: [token(1000)],
        });
        report(`metadata read throughput${label}`, read.requestsPerSec, 'req/s', { min: 10000 }, ofBase(read));
        report(`metadata read p99${label}`, read.p99, 'ms', { max: 20 }, `(bare route p99 ${base.p99} ms)`);
      }
    } finally {
      await app.stop();
    }
  }

  if (!ONLY.has('cold')) return;
  const cold = await startProductionService({ ...env, CACHE_TTL_SECONDS: '0' });
  try {
    const base = await measure(cold, `baseline GET /health/live (cache off)${label}`, { url: `${cold.baseUrl}/health/live`, duration });
    const owner = api(cold.baseUrl, 1000);
    const up = await uploadBytes(owner, Buffer.from('metadata read benchmark'), { mimeType: 'text/plain' });
    await owner.post(`/media/${up.assetId}/complete`);
    await owner.put(`/media/${up.assetId}/metadata/album`, { value: 'bench' });
    const read = await measure(cold, `GET /media/{id} cold (CACHE_TTL_SECONDS=0)${label}`, {
      url: `${cold.baseUrl}/media/${up.assetId}`,
      duration,
      tokens: [token(1000)],
    });
    report(
      `metadata read throughput, cache off${label}`,
      read.requestsPerSec,
      'req/s',
      { min: 2500 },
      `(${Math.round((100 * read.requestsPerSec) / base.requestsPerSec)}% of the bare route's ${base.requestsPerSec} req/s)`,
    );
  } finally {
    await cold.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
