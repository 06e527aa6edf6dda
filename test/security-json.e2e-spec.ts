/**
 * Hostile JSON bodies against the built service: deep nesting is refused by the parser (400 naming the depth)
 * before anything recursive sees it, bodies are bounded per route (413 naming the limit, without reading them),
 * a route that needs a token answers 401 before reading the body, and the service stays responsive for everyone
 * while two clients keep sending megabyte-sized nested bodies.
 */
import { spawn } from 'node:child_process';
import { api, partialPost, uploadBytes } from './support/api';
import { RunningApp, startApp, token } from './support/app-process';

jest.setTimeout(120_000);

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const MiB = 1024 * 1024;

describe('hostile JSON bodies', () => {
  let app: RunningApp;
  let assetId: string;
  const auth = { authorization: `Bearer ${token(31)}`, 'content-type': 'application/json' };

  beforeAll(async () => {
    app = await startApp({ RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '100000' });
    assetId = (await uploadBytes(api(app.baseUrl, 31), Buffer.from('json target'), { mimeType: 'text/plain' })).assetId;
  });
  afterAll(() => app?.stop());

  const post = async (path: string, body: string, headers: Record<string, string> = auth) => {
    const started = process.hrtime.bigint();
    const res = await fetch(`${app.baseUrl}${path}`, { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  };

  it('refuses a 1,000-deep body with a 400 naming the depth limit', async () => {
    const r = await post('/media/upload-url', nested(1000));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ statusCode: 400, error: 'InvalidRequest', details: { limit: 32 } });
    expect(r.body.message).toMatch(/nested at most 32 levels deep/);
    // Deep objects too, and nesting at the limit is not the problem (the DTO refuses it, a different 400).
    expect((await post('/media/upload-url', '{"a":'.repeat(1000) + '1' + '}'.repeat(1000))).body.details).toEqual({ limit: 32 });
    const atLimit = await post(
      '/media/upload-url',
      JSON.stringify({ filename: 'a', mimeType: 'text/plain', sizeBytes: 1, metadata: JSON.parse(nested(31)) }),
    );
    expect(atLimit.status).toBe(400);
    expect(atLimit.body.error).toBe('ValidationFailed');
  });

  it('refuses a 1 MiB nested body fast with the same 400 (on the route that accepts megabytes)', async () => {
    const r = await post(`/media/${assetId}/complete`, nested(MiB / 2));
    expect(r.status).toBe(400);
    expect(r.body.details).toEqual({ limit: 32 });
    expect(r.ms).toBeLessThan(500);
  });

  it('keeps refusing prototype poisoning', async () => {
    for (const body of ['{"__proto__":{"isAdmin":true}}', '{"constructor":{"prototype":{"isAdmin":true}}}']) {
      const r = await post('/media/upload-url', body);
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/not valid JSON/);
    }
  });

  it('answers 401 before reading the body when the route needs a token and none (or a bad one) is sent', async () => {
    const anonymous: Record<string, string>[] = [
      { 'content-type': 'application/json' },
      { 'content-type': 'application/json', authorization: 'Bearer not.a.jwt' },
    ];
    for (const headers of anonymous) {
      // 2 MB announced (within the route's limit), 1 KiB sent: a parse would wait for the rest.
      const r = await partialPost(`${app.baseUrl}/media/${assetId}/complete`, headers, Buffer.from(nested(512)), 2_000_000);
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ statusCode: 401, error: 'Unauthenticated' });
      expect(r.body.message).toMatch(headers.authorization ? /Invalid bearer token/ : /Missing credentials/);
    }
    // A small body without a token: the same answer as ever.
    expect((await post('/media/upload-url', '{}', { 'content-type': 'application/json' })).status).toBe(401);
  });

  it('answers 413 naming the limit before reading an over-limit body, chunked or not', async () => {
    const partsBody = JSON.stringify({ partNumbers: [1], pad: 'x'.repeat(70 * 1024) });
    const declared = await partialPost(
      `${app.baseUrl}/media/${assetId}/parts`,
      auth,
      Buffer.from(partsBody.slice(0, 1024)),
      partsBody.length,
    );
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ statusCode: 413, error: 'PayloadTooLarge', details: { limit: 64 * 1024 } });
    expect(declared.body.message).toMatch(/larger than 65536 bytes/);

    const chunked = await partialPost(
      `${app.baseUrl}/media/${assetId}/parts`,
      { ...auth, 'transfer-encoding': 'chunked' },
      Buffer.from(partsBody),
    );
    expect(chunked.status).toBe(413);
    expect(chunked.body.details).toEqual({ limit: 64 * 1024 });

    // upload-url accepts its largest valid body (64 metadata values of 4 KiB) but not 1 MiB.
    const bigBody = Buffer.from(JSON.stringify({ filename: 'x'.repeat(MiB) }));
    const big = await partialPost(`${app.baseUrl}/media/upload-url`, auth, bigBody.subarray(0, 64 * 1024), bigBody.length);
    expect(big.status).toBe(413);
    expect(big.body.details.limit).toBeGreaterThan(500_000);
    const metadata = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`key-${i}`, '"'.repeat(4096)]));
    const full = await post('/media/upload-url', JSON.stringify({ filename: 'meta.txt', mimeType: 'text/plain', sizeBytes: 1, metadata }));
    expect(full.status).toBe(201);
  });

  it('does not refuse a valid complete with 10,000 parts for its size', async () => {
    const pending = await api(app.baseUrl, 31).post('/media/upload-url', {
      filename: 'many.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: 10,
    });
    expect(pending.status).toBe(201);
    const parts = Array.from({ length: 10_000 }, (_, i) => ({ partNumber: i + 1, etag: `"${'e'.repeat(254)}"` }));
    const body = JSON.stringify({ parts });
    expect(body.length).toBeGreaterThan(2.8e6);
    const r = await post(`/media/${pending.body.assetId}/complete`, body);
    expect(r.status).not.toBe(413);
    expect(r.status).toBeLessThan(500);
  });

  it('stays responsive: /health/live answers within 100 ms while two clients send 1 MiB nested bodies for 5 s', async () => {
    // Load and probe each run in a small process of their own: the timings are neither the load generator's work
    // nor this (large) test process's garbage collection.
    const run = (script: string, env: Record<string, string>) =>
      new Promise<any>((resolve, reject) => {
        const child = spawn(process.execPath, ['-e', script], {
          env: { PATH: process.env.PATH ?? '', ...env },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exited with ${code}: ${out}`))));
      });
    const loadScript = `
      const body = Buffer.from('['.repeat(${MiB / 2}) + ']'.repeat(${MiB / 2}));
      const statuses = {};
      const until = Date.now() + Number(process.env.MS);
      async function client() {
        for (let i = 0; i < 2000 && Date.now() < until; i++) {
          try {
            const r = await fetch(process.env.TARGET, { method: 'POST', headers: { authorization: process.env.AUTH, 'content-type': 'application/json' }, body });
            await r.arrayBuffer();
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          } catch (e) {
            statuses[e.cause?.code ?? e.message] = (statuses[e.cause?.code ?? e.message] ?? 0) + 1;
          }
        }
      }
      Promise.all([client(), client()]).then(() => process.stdout.write(JSON.stringify(statuses)));
    `;
    const probeScript = `
      const latencies = [];
      (async () => {
        for (let i = 0; i < 5; i++) await (await fetch(process.env.TARGET)).text(); // warm up (loading fetch, first connection)
        const until = Date.now() + Number(process.env.MS);
        while (Date.now() < until && latencies.length < 1000) {
          const started = process.hrtime.bigint();
          const r = await fetch(process.env.TARGET);
          await r.text();
          if (r.status !== 200) throw new Error('/health/live answered ' + r.status);
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        process.stdout.write(JSON.stringify(latencies));
      })();
    `;
    const live = `${app.baseUrl}/health/live`;
    const idle: number[] = await run(probeScript, { TARGET: live, MS: '1000' }); // for the report: the machine without load
    const [statuses, latencies] = (await Promise.all([
      run(loadScript, { TARGET: `${app.baseUrl}/media/${assetId}/complete`, AUTH: auth.authorization, MS: '5000' }),
      run(probeScript, { TARGET: live, MS: '5000' }),
    ])) as [Record<string, number>, number[]];

    const sent = Object.values(statuses).reduce((a, b) => a + b, 0);
    const max = Math.max(...latencies);
    const stats = (l: number[]) => {
      const sorted = [...l].sort((a, b) => a - b);
      return `${l.length} probes, median ${sorted[sorted.length >> 1].toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms`;
    };

    console.log(
      `nested-body load: ${sent} requests ${JSON.stringify(statuses)}; /health/live under load: ${stats(latencies)}; idle: ${stats(idle)}`,
    );
    expect(Object.keys(statuses)).toEqual(['400']);
    expect(sent).toBeGreaterThan(20);
    expect(latencies.length).toBeGreaterThan(20);
    expect(max).toBeLessThan(100);
  });
});
