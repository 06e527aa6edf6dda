/**
 * Operations against the real built service: Prometheus metrics after a real upload, the metrics token,
 * Bull Board's admin guard, and the request id carried from `POST /media/{id}/complete` into the processing
 * job's log line (through the outbox and the Bull job data).
 */
import { api, Api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp, token } from './support/app-process';

/** One sample of the Prometheus text format: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The samples named `name` whose labels include `labels`. */
function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = find(samples, name, labels);
  if (found.length !== 1) throw new Error(`expected one ${name} ${JSON.stringify(labels)}, found ${found.length}`);
  return found[0].value;
}

/** The JSON log lines the service printed. */
function logLines(output: string): Record<string, any>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return null;
      }
    })
    .filter((l): l is Record<string, any> => !!l);
}

describe('operations: metrics, Bull Board and request ids', () => {
  let app: RunningApp;
  let alice: Api;

  beforeAll(async () => {
    app = await startApp({ LOG_LEVEL: 'info' });
    alice = api(app.baseUrl, 501);
  });
  afterAll(() => app?.stop());

  async function scrape(headers: Record<string, string> = {}): Promise<Sample[]> {
    const r = await fetch(`${app.baseUrl}/metrics`, { headers });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseMetrics(await r.text());
  }

  it('after an upload reaches ready, /metrics (no user token) shows it in every named series', async () => {
    const bytes = Buffer.from(`metrics e2e ${Date.now()} `.repeat(40));
    const up = await uploadBytes(alice, bytes, { filename: 'm.txt', mimeType: 'text/plain' });
    expect(up.putStatus).toBe(200);
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    await eventually(async () => (await alice.get(`/media/${up.assetId}`)).body?.status === 'ready', 30000, 50);
    // Reads of a ready asset: cache fills then hits.
    for (let i = 0; i < 3; i++) expect((await alice.get(`/media/${up.assetId}`)).status).toBe(200);
    // A rejected upload: declared an image, sent text.
    const bad = await uploadBytes(alice, Buffer.from('not an image at all'), { filename: 'x.png', mimeType: 'image/png' });
    expect((await alice.post(`/media/${bad.assetId}/complete`)).status).toBe(202);
    await eventually(async () => (await alice.get(`/media/${bad.assetId}`)).body?.status === 'failed', 30000, 50);
    // Requests that match no route, with random paths.
    for (const p of ['/no/such/route', `/nope-${Date.now()}`]) expect((await fetch(`${app.baseUrl}${p}`)).status).toBe(404);

    // Stored totals are cached a few seconds: wait until the ready upload is counted.
    const m = await eventually(
      async () => {
        const s = await scrape();
        return find(s, 'media_stored_bytes')[0]?.value >= bytes.length ? s : null;
      },
      15000,
      500,
    );

    // HTTP latency by route template (never the raw URL), method and status.
    const byRoute = { method: 'GET', route: '/media/:id', status_code: '200', status_class: '2xx' };
    expect(value(m, 'media_http_request_duration_seconds_count', byRoute)).toBeGreaterThanOrEqual(4);
    expect(value(m, 'media_http_request_duration_seconds_sum', byRoute)).toBeGreaterThan(0);
    expect(value(m, 'media_http_request_duration_seconds_bucket', { ...byRoute, le: '+Inf' })).toBe(
      value(m, 'media_http_request_duration_seconds_count', byRoute),
    );
    expect(
      value(m, 'media_http_request_duration_seconds_count', { method: 'POST', route: '/media/:id/complete', status_code: '202' }),
    ).toBe(2);
    expect(
      value(m, 'media_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404', status_class: '4xx' }),
    ).toBe(2);
    const routes = new Set(find(m, 'media_http_request_duration_seconds_count').map((s) => s.labels.route));
    for (const r of routes) expect(r).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-|nope-|\/no\/such/);

    // Upload outcomes and processing jobs.
    // Both upload-urls above went through group commit: batches, their sizes and where each batch's time went.
    const batches = value(m, 'media_pending_batch_size_count');
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(value(m, 'media_pending_batch_size_sum')).toBe(2);
    for (const phase of ['wait', 'write', 'durable']) expect(value(m, 'media_pending_batch_seconds_count', { phase })).toBe(batches);
    expect(value(m, 'media_pending_batch_seconds_sum', { phase: 'write' })).toBeGreaterThan(0);
    expect(value(m, 'media_pending_batch_seconds_sum', { phase: 'durable' })).toBeGreaterThan(0);
    expect(value(m, 'media_uploads_total', { outcome: 'ready' })).toBe(1);
    expect(value(m, 'media_uploads_total', { outcome: 'failed' })).toBe(1);
    expect(value(m, 'media_uploads_total', { outcome: 'quarantined' })).toBe(0);
    expect(value(m, 'media_uploads_total', { outcome: 'dead_lettered' })).toBe(0);
    const job = { queue: 'processing', job: 'process-asset', outcome: 'completed' };
    expect(value(m, 'media_jobs_total', job)).toBe(2);
    expect(value(m, 'media_job_duration_seconds_count', job)).toBeGreaterThanOrEqual(1);
    const jobSeconds = value(m, 'media_job_duration_seconds_sum', job);
    expect(jobSeconds).toBeGreaterThan(0);
    expect(jobSeconds).toBeLessThan(60);

    // Queue depths for every Bull queue the app registers, by state.
    for (const queue of ['processing', 'webhooks', 'cdn', 'storage-replication', 'lifecycle']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect(value(m, 'media_queue_jobs', { queue, state })).toBeGreaterThanOrEqual(0);
      }
    }
    expect(value(m, 'media_queue_jobs', { queue: 'processing', state: 'failed' })).toBe(0);

    // Cache, storage regions, stored bytes, the integrity counter, process metrics.
    const ratio = value(m, 'media_cache_hit_ratio');
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThanOrEqual(1);
    expect(value(m, 'media_cache_lookups_total', { result: 'hit' })).toBeGreaterThanOrEqual(1);
    expect(value(m, 'media_storage_region_up', { region: 'default', kind: 'local', primary: 'true' })).toBe(1);
    expect(value(m, 'media_stored_objects')).toBe(1);
    expect(value(m, 'media_stored_bytes')).toBe(bytes.length);
    expect(value(m, 'media_integrity_corrupt_objects_total')).toBe(0);
    expect(value(m, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(value(m, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(find(m, 'nodejs_gc_duration_seconds_count').length).toBeGreaterThanOrEqual(1);
  });

  it('carries the X-Request-Id of POST /media/{id}/complete into the processing job’s log line', async () => {
    const requestId = `ops-e2e-${Date.now()}`;
    const up = await uploadBytes(alice, Buffer.from(`request id ${requestId}`), { filename: 'r.txt', mimeType: 'text/plain' });
    const done = await alice.post(`/media/${up.assetId}/complete`, undefined, { 'x-request-id': requestId });
    expect(done.status).toBe(202);
    expect(done.headers.get('x-request-id')).toBe(requestId);
    await eventually(async () => (await alice.get(`/media/${up.assetId}`)).body?.status === 'ready', 30000, 50);
    const jobLine = await eventually(async () =>
      logLines(app.output()).find((l) => l.reqId === requestId && l.queue === 'processing' && l.job === 'process-asset'),
    );
    expect(jobLine).toMatchObject({ reqId: requestId, queue: 'processing', job: 'process-asset', outcome: 'ready' });
    expect(jobLine.jobId).toContain(up.assetId);
    expect(jobLine.durationMs).toBeGreaterThan(0);
    // The HTTP request's own lines carry it too.
    expect(logLines(app.output()).some((l) => l.reqId === requestId && l.msg === 'request completed')).toBe(true);
  });

  it('replaces an X-Request-Id that does not look like an id, and makes one when none is sent', async () => {
    const bad = await fetch(`${app.baseUrl}/health/live`, { headers: { 'x-request-id': 'evil id\twith "quotes" and spaces' } });
    const long = await fetch(`${app.baseUrl}/health/live`, { headers: { 'x-request-id': 'a'.repeat(200) } });
    const none = await fetch(`${app.baseUrl}/health/live`);
    for (const r of [bad, long, none])
      expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('serves Bull Board at /admin/queues to admins only, listing every queue', async () => {
    const admin = { authorization: `Bearer ${token(1, { roles: ['admin'] })}` };
    const user = { authorization: `Bearer ${token(2)}` };
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      const anon = await fetch(`${app.baseUrl}${path}`);
      expect(anon.status).toBe(401);
      expect(await anon.json()).toMatchObject({ statusCode: 401, error: 'Unauthenticated' });
      const forged = await fetch(`${app.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${token(1, { roles: ['admin'] }, 'another-secret-0123456789-0123456789')}` },
      });
      expect(forged.status).toBe(401);
      const plain = await fetch(`${app.baseUrl}${path}`, { headers: user });
      expect(plain.status).toBe(403);
      expect(await plain.json()).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    }
    const page = await fetch(`${app.baseUrl}/admin/queues`, { headers: admin });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/<html/i);
    const list = await fetch(`${app.baseUrl}/admin/queues/api/queues`, { headers: admin });
    expect(list.status).toBe(200);
    const names = ((await list.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['cdn', 'lifecycle', 'multipart-assembly', 'processing', 'storage-replication', 'webhooks']);
  });
});

describe('operations: METRICS_TOKEN and switches', () => {
  const METRICS_TOKEN = 'scrape-token-0123456789abcdef';
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ METRICS_TOKEN, BULL_BOARD_ENABLED: 'false' });
  });
  afterAll(() => app?.stop());

  it('needs the bearer METRICS_TOKEN on /metrics when it is set (a user JWT is not it)', async () => {
    expect((await fetch(`${app.baseUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).status).toBe(401);
    expect((await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: `Bearer ${token(1, { roles: ['admin'] })}` } })).status).toBe(
      401,
    );
    const ok = await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('media_uploads_total');
    expect(app.output()).not.toContain(METRICS_TOKEN);
  });

  it('has no Bull Board with BULL_BOARD_ENABLED=false', async () => {
    const r = await fetch(`${app.baseUrl}/admin/queues`, { headers: { authorization: `Bearer ${token(1, { roles: ['admin'] })}` } });
    expect(r.status).toBe(404);
  });
});

describe('operations: metrics while Redis is unreachable', () => {
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ REDIS_URL: 'redis://127.0.0.1:1/0', METRICS_COLLECT_TIMEOUT_MS: '300' });
  });
  afterAll(() => app?.stop());

  it('still answers /metrics promptly: queue depths are left out and the failed reads are counted', async () => {
    const started = Date.now();
    const first = await fetch(`${app.baseUrl}/metrics`);
    expect(first.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(find(parseMetrics(await first.text()), 'media_queue_jobs')).toEqual([]);
    const second = parseMetrics(await (await fetch(`${app.baseUrl}/metrics`)).text());
    expect(value(second, 'media_metrics_collect_errors_total', { collector: 'queue_jobs' })).toBeGreaterThanOrEqual(4);
    expect(value(second, 'media_storage_region_up', { region: 'default' })).toBe(1);
  });
});
