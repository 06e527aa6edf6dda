/**
 * What a production instance shows to anyone who asks: /metrics needs METRICS_TOKEN or lives on a listener of its own
 * (the service refuses to start with neither), X-Forwarded-For is believed only from TRUSTED_PROXIES (the address in
 * the request log, which per-IP rate limits use too), and the readiness and region probes give anonymous callers the
 * status alone (the detail is for admins). Every instance runs with NODE_ENV=production.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { eventually, freePort, JWT_SECRET, MAIN_JS, RunningApp, startApp, token } from './support/app-process';
import { asAdmin } from './support/health';

const METRICS_TOKEN = 'production-metrics-token-0123456789';
const PRODUCTION = { NODE_ENV: 'production', LOG_LEVEL: 'info' };

/** The `remoteAddress` the request log gives the request with this id. */
function loggedAddress(app: RunningApp, requestId: string): string | undefined {
  for (const line of app.output().split('\n')) {
    if (!line.includes(requestId) || !line.includes('remoteAddress')) continue;
    try {
      return JSON.parse(line).req?.remoteAddress;
    } catch {
      /* not a JSON line */
    }
  }
  return undefined;
}

/** Sends a request claiming, through X-Forwarded-For, to come from 203.0.113.7; answers the address the service logged. */
async function spoofedAddress(app: RunningApp, requestId: string): Promise<string> {
  await fetch(`${app.baseUrl}/health/live`, { headers: { 'x-forwarded-for': '203.0.113.7', 'x-request-id': requestId } });
  return eventually(async () => loggedAddress(app, requestId), 5000, 50);
}

/** Whether a listening TCP socket is bound to 127.0.0.1:port (Linux /proc/net/tcp: address and port in hex, state 0A). */
function listensOnLoopbackOnly(port: number): boolean {
  const rows = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/));
  const listening = rows.filter((r) => r[3] === '0A' && r[1]?.endsWith(`:${port.toString(16).toUpperCase().padStart(4, '0')}`));
  return listening.length > 0 && listening.every((r) => r[1].startsWith('0100007F:'));
}

describe('production: metrics need a token or a listener of their own', () => {
  it('refuses to start with metrics enabled and neither METRICS_TOKEN nor METRICS_PORT, naming them', () => {
    const r = spawnSync(process.execPath, [MAIN_JS], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', JWT_SECRET, PORT: '0' },
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/METRICS_TOKEN: must be set when NODE_ENV=production/);
    expect(r.stderr).toContain('METRICS_PORT');
  });

  it('keeps the k8s metrics port off the Service, and compose sets a token', () => {
    const root = path.resolve(__dirname, '..');
    const cm = yaml.load(readFileSync(path.join(root, 'deploy/k8s/configmap.yaml'), 'utf8')) as any;
    const dep = yaml.load(readFileSync(path.join(root, 'deploy/k8s/deployment.yaml'), 'utf8')) as any;
    const svc = yaml.load(readFileSync(path.join(root, 'deploy/k8s/service.yaml'), 'utf8')) as any;
    const metricsPort = dep.spec.template.spec.containers[0].ports.find((p: any) => p.name === 'metrics');
    expect(String(metricsPort.containerPort)).toBe(cm.data.METRICS_PORT);
    expect(dep.spec.template.metadata.annotations['prometheus.io/port']).toBe(cm.data.METRICS_PORT);
    expect(svc.spec.ports.map((p: any) => p.targetPort)).not.toContain('metrics');
    const compose = yaml.load(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as any;
    expect(compose.services.app.environment.METRICS_TOKEN).toEqual(expect.any(String));
  });
});

describe('production with METRICS_TOKEN, no trusted proxy', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ ...PRODUCTION, METRICS_TOKEN });
  });
  afterAll(() => app?.stop());

  it('answers /metrics 401 without the token (or with a user JWT) and 200 with it', async () => {
    expect((await fetch(`${app.baseUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${app.baseUrl}/metrics`, asAdmin())).status).toBe(401);
    const ok = await fetch(`${app.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('media_http_request_duration_seconds');
  });

  it('ignores a spoofed X-Forwarded-For: the request log keeps the socket address', async () => {
    expect(await spoofedAddress(app, 'spoof-untrusted-1')).toBe('127.0.0.1');
  });

  it('gives anonymous probes the status alone, and an admin every check', async () => {
    const ready = await fetch(`${app.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok' });
    const regions = await fetch(`${app.baseUrl}/health/regions`);
    expect(regions.status).toBe(200);
    expect(await regions.json()).toEqual({ status: 'ok' });
    // A valid token without the admin role is no better than none.
    const user = { headers: { authorization: `Bearer ${token(5)}` } };
    expect(await (await fetch(`${app.baseUrl}/health/ready`, user)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${app.baseUrl}/health/regions`, user)).json()).toEqual({ status: 'ok' });

    const detail = (await (await fetch(`${app.baseUrl}/health/ready`, asAdmin())).json()) as any;
    expect(detail.details).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' }, scanner: { kind: 'none' } });
    const report = (await (await fetch(`${app.baseUrl}/health/regions`, asAdmin())).json()) as any;
    expect(report).toMatchObject({ status: 'ok', primary: 'default', writeRegion: 'default', replication: 'off' });
    expect(report.regions[0]).toMatchObject({ name: 'default', bucket: 'media', state: 'up' });
  });
});

describe('production with METRICS_PORT and TRUSTED_PROXIES=127.0.0.1', () => {
  let app: RunningApp;
  let metricsPort: number;
  beforeAll(async () => {
    metricsPort = await freePort();
    app = await startApp({
      ...PRODUCTION,
      METRICS_PORT: String(metricsPort),
      TRUSTED_PROXIES: '127.0.0.1',
      SHUTDOWN_DRAIN_DELAY_MS: '3000',
    });
  });
  afterAll(() => app?.stop());

  it('serves /metrics on the metrics port only, bound to 127.0.0.1', async () => {
    expect((await fetch(`${app.baseUrl}/metrics`)).status).toBe(404);
    const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await r.text()).toContain('media_http_request_duration_seconds');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/health/live`)).status).toBe(404);
    if (existsSync('/proc/net/tcp')) expect(listensOnLoopbackOnly(metricsPort)).toBe(true);
  });

  it('believes X-Forwarded-For from a trusted proxy', async () => {
    expect(await spoofedAddress(app, 'spoof-trusted-1')).toBe('203.0.113.7');
  });

  it('while draining, answers anonymous readiness 503 without detail, and an admin with it', async () => {
    process.kill(app.pid(), 'SIGTERM');
    const anonymous = await eventually(
      async () => {
        const r = await fetch(`${app.baseUrl}/health/ready`);
        return r.status === 503 ? r : undefined;
      },
      2000,
      50,
    );
    expect(await anonymous.json()).toEqual({ statusCode: 503, error: 'ServiceUnavailable', message: 'Not ready' });
    const admin = await fetch(`${app.baseUrl}/health/ready`, asAdmin());
    expect(admin.status).toBe(503);
    expect(((await admin.json()) as any).details.shutdown).toMatchObject({ status: 'down', draining: true });
  });
});
