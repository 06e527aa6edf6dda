/**
 * What authenticating with an API key costs, against a bearer JWT, through HTTP at 64 connections against the
 * service in production mode: GET /media/{id} (warm cache) with `Authorization: Bearer <jwt>`, `X-Api-Key: msk_…` and
 * `Authorization: Bearer msk_…`. Target: a key costs at most 25% more service CPU per request than a JWT (both are
 * answered from memory: the verified-token cache, the key lookup cache); CPU per request is the figure that other
 * load on a shared machine barely changes, unlike requests/s. Also counts the writes to api_keys during the key runs
 * (pg_stat_user_tables): lastUsedAt is coalesced, so a few, not one per request.
 * BENCH_DURATION (s per run, default 10); BENCH_ENV='{"NAME":"value"}' adds service settings.
 */
import os from 'node:os';
import { api, uploadBytes } from '../test/support/api';
import { token } from '../test/support/app-process';
import { BENCH_ENV, load, report, startProductionService, withCpu } from './support';

async function main() {
  const duration = Number(process.env.BENCH_DURATION ?? 10);
  console.log(
    `# API key authentication — ${os.cpus().length} × ${os.cpus()[0].model}, Node ${process.version}, ${duration} s per run, 64 connections`,
  );
  if (Object.keys(BENCH_ENV).length) console.log(`# service settings: ${JSON.stringify(BENCH_ENV)}`);
  const app = await startProductionService({ API_KEY_LAST_USED_FLUSH_SECONDS: '5' });
  try {
    const owner = api(app.baseUrl, 3000);
    const up = await uploadBytes(owner, Buffer.from('api key benchmark'), { mimeType: 'text/plain' });
    await owner.post(`/media/${up.assetId}/complete`);
    const created = await owner.post('/api-keys', { name: 'bench', scopes: ['read'] });
    if (created.status !== 201) throw new Error(`POST /api-keys answered ${created.status}: ${created.text}`);
    const key: string = created.body.key;
    const url = `${app.baseUrl}/media/${up.assetId}`;
    const updates = async () =>
      Number((await app.sql(`SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'api_keys'`))[0]?.n_tup_upd ?? 0);

    const runs: [string, Record<string, string>][] = [
      ['Authorization: Bearer <jwt>', { authorization: `Bearer ${token(3000)}` }],
      ['X-Api-Key: msk_…', { 'x-api-key': key }],
      ['Authorization: Bearer msk_…', { authorization: `Bearer ${key}` }],
    ];
    // Warm-up (JIT, connection pools, caches) with each credential, not measured.
    for (const [, headers] of runs) await load({ url, duration: 3, headers });
    const cpuPerReq: Record<string, number> = {};
    for (const [label, headers] of runs) {
      const before = await updates();
      const r = await withCpu(app, () => load({ url, duration, headers }));
      // A benchmark, not a test: let the last flush interval pass, then read the statistics (in pg_stat within a second).
      if (label !== runs[0][0]) await new Promise((res) => setTimeout(res, 6500));
      const writes = (await updates()) - before;
      cpuPerReq[label] = r.serviceCpuMsPerReq;
      console.log(
        `GET /media/{id} with ${label}: ${r.requestsPerSec} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, ` +
          `non-2xx ${r.non2xx}; CPU per request: service ${r.serviceCpuMsPerReq} ms` +
          (label === runs[0][0] ? '' : `; api_keys rows written: ${writes} for ${r.total} requests`),
      );
    }
    const jwt = cpuPerReq[runs[0][0]];
    for (const [label] of runs.slice(1)) {
      report(`${label}: service CPU per request vs a JWT's`, Math.round((100 * cpuPerReq[label]) / jwt), '%', { max: 125 });
    }
  } finally {
    await app.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
