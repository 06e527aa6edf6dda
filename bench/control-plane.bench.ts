/**
 * Control plane and metadata reads, through HTTP at 64 connections against the service in production mode.
 *   baseline:  GET /health/live   (a minimal Nest route: the framework's ceiling on this machine)
 *   1. POST /media/upload-url     target >= 3,000 req/s, p99 <= 50 ms
 *   2. GET /media/{id}            warm cache target >= 10,000 req/s, p99 <= 20 ms; cold >= 4,000 req/s
 *                                 (cold: a second service with the cache off, CACHE_TTL_SECONDS=0, so every
 *                                 request reads the asset, its ACL and metadata from PostgreSQL)
 * Headline figures are one service process (WEB_CONCURRENCY=1, the default); the same runs are then repeated
 * with WEB_CONCURRENCY=2 (two node:cluster workers), labelled so. BENCH_WORKERS=1 skips those.
 * BENCH_DURATION (s per run, default 10); BENCH_ENV='{"DATABASE_POOL_SIZE":"20"}' adds service settings.
 */
import os from 'node:os';
import { api, uploadBytes } from '../test/support/api';
import { token } from '../test/support/app-process';
import { BENCH_ENV, load, report, startProductionService, withCpu } from './support';

/** CPU per request, which other load on the machine barely changes (unlike requests/s). */
const cpu = (r: { serviceCpuMsPerReq: number; postgresCpuMsPerReq: number }) =>
  `; CPU per request: service ${r.serviceCpuMsPerReq} ms, PostgreSQL ${r.postgresCpuMsPerReq} ms`;

async function main() {
  const duration = Number(process.env.BENCH_DURATION ?? 10);
  console.log(
    `# control plane — ${os.cpus().length} × ${os.cpus()[0].model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${duration} s per run, 64 connections`,
  );
  if (Object.keys(BENCH_ENV).length) console.log(`# service settings: ${JSON.stringify(BENCH_ENV)}`);
  const workerCounts = process.env.BENCH_WORKERS === '1' ? [1] : [1, 2];
  for (const workers of workerCounts) await runAll(duration, { WEB_CONCURRENCY: String(workers) }, workers);
}

async function runAll(duration: number, env: Record<string, string>, workers: number) {
  const label = workers === 1 ? '' : ` [${workers} workers]`;
  console.log(`## WEB_CONCURRENCY=${workers}${workers === 1 ? ' (headline: one service process)' : ''}`);
  const app = await startProductionService(env);
  try {
    const tokens = Array.from({ length: 16 }, (_, i) => token(1000 + i));
    const base = await withCpu(app, () => load({ url: `${app.baseUrl}/health/live`, duration }));
    console.log(`baseline GET /health/live${label}: ${base.requestsPerSec} req/s, p50 ${base.p50} ms, p99 ${base.p99} ms${cpu(base)}`);

    let i = 0;
    const sign = await withCpu(app, () =>
      load({
        url: `${app.baseUrl}/media/upload-url`,
        duration,
        method: 'POST',
        requests: [
          {
            setupRequest: (req: any) => ({
              ...req,
              headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i++ % tokens.length]}` },
              body: JSON.stringify({ filename: `photo-${i}.jpg`, mimeType: 'image/jpeg', sizeBytes: 1_000_000 + (i % 1000) }),
            }),
          },
        ],
      }),
    );
    console.log(
      `POST /media/upload-url${label}: ${sign.requestsPerSec} req/s, p50 ${sign.p50} ms, p99 ${sign.p99} ms, errors ${sign.errors}, non-2xx ${sign.non2xx}${cpu(sign)}`,
    );
    report(
      `upload-url throughput${label}`,
      sign.requestsPerSec,
      'req/s',
      { min: 3000 },
      `(${Math.round((100 * sign.requestsPerSec) / base.requestsPerSec)}% of the framework baseline)`,
    );
    report(`upload-url p99${label}`, sign.p99, 'ms', { max: 50 });

    const owner = api(app.baseUrl, 1000);
    const up = await uploadBytes(owner, Buffer.from('metadata read benchmark'), { mimeType: 'text/plain' });
    await owner.post(`/media/${up.assetId}/complete`);
    const read = await withCpu(app, () =>
      load({ url: `${app.baseUrl}/media/${up.assetId}`, duration, headers: { authorization: `Bearer ${tokens[0]}` } }),
    );
    console.log(
      `GET /media/{id}${label}: ${read.requestsPerSec} req/s, p50 ${read.p50} ms, p99 ${read.p99} ms, errors ${read.errors}, non-2xx ${read.non2xx}${cpu(read)}`,
    );
    report(
      `metadata read throughput${label}`,
      read.requestsPerSec,
      'req/s',
      { min: 10000 },
      `(${Math.round((100 * read.requestsPerSec) / base.requestsPerSec)}% of the framework baseline)`,
    );
    report(`metadata read p99${label}`, read.p99, 'ms', { max: 20 });
  } finally {
    await app.stop();
  }

  const cold = await startProductionService({ ...env, CACHE_TTL_SECONDS: '0' });
  try {
    const owner = api(cold.baseUrl, 1000);
    const up = await uploadBytes(owner, Buffer.from('metadata read benchmark'), { mimeType: 'text/plain' });
    await owner.post(`/media/${up.assetId}/complete`);
    const read = await withCpu(cold, () =>
      load({ url: `${cold.baseUrl}/media/${up.assetId}`, duration, headers: { authorization: `Bearer ${token(1000)}` } }),
    );
    console.log(
      `GET /media/{id} cold (CACHE_TTL_SECONDS=0)${label}: ${read.requestsPerSec} req/s, p50 ${read.p50} ms, p99 ${read.p99} ms, errors ${read.errors}, non-2xx ${read.non2xx}${cpu(read)}`,
    );
    report(`metadata read throughput, cache off${label}`, read.requestsPerSec, 'req/s', { min: 4000 });
  } finally {
    await cold.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
