/** Start-up, configuration, probes and the developer tooling, against the real built service. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import yaml from 'js-yaml';
import jwt from 'jsonwebtoken';
import { api, uploadBytes } from './support/api';
import { eventually, JWT_SECRET, MAIN_JS, RunningApp, startApp } from './support/app-process';
import { waitFor } from './support/waits';
import { asAdmin } from './support/health';

const ROOT = path.resolve(__dirname, '..');

function runMain(env: Record<string, string>) {
  return spawnSync(process.execPath, [MAIN_JS], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20000 });
}

describe('configuration at boot', () => {
  it('stops with a message naming each bad variable', () => {
    const r = runMain({ PORT: 'eighty', STORAGE_DRIVER: 'ftp' });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('Invalid configuration');
    expect(r.stderr).toContain('PORT="eighty"');
    expect(r.stderr).toContain('STORAGE_DRIVER="ftp"');
  });

  it('refuses to start in production without a real JWT_SECRET', () => {
    const r = runMain({ NODE_ENV: 'production', PORT: '0' });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/JWT_SECRET: must be set to at least 32 characters/);
  });
});

describe('a fresh start', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ LOG_LEVEL: 'info', JWT_SECRET: '' });
  });
  afterAll(() => app?.stop());

  it('creates and migrates its database, and warns loudly about the development secret', async () => {
    const rows = await app.sql(`SELECT name FROM schema_migrations ORDER BY id`);
    expect(rows.map((r) => r.name)).toContain('InitialSchema1764000000000');
    expect(app.output()).toMatch(/DEVELOPMENT secret/);
  });

  it('answers the probes', async () => {
    const live = await fetch(`${app.baseUrl}/health/live`);
    expect(live.status).toBe(200);
    // This instance signs with the development secret (JWT_SECRET unset).
    const admin = jwt.sign({ sub: '1', roles: ['admin'] }, 'development-only-secret-change-me-0123456789', {
      algorithm: 'HS256',
      expiresIn: 600,
    });
    const ready = await fetch(`${app.baseUrl}/health/ready`, { headers: { authorization: `Bearer ${admin}` } });
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as any).details).toMatchObject({
      database: { status: 'up' },
      redis: { status: 'up' },
      storage: { status: 'up' },
    });
  });

  it('echoes a request id and keeps tokens and signed URLs out of its logs', async () => {
    const secretToken = jwt.sign({ sub: '7' }, 'development-only-secret-change-me-0123456789', { algorithm: 'HS256', expiresIn: 600 });
    const client = api(app.baseUrl);
    const r = await client.post(
      '/media/upload-url',
      { filename: 'a.txt', mimeType: 'text/plain', sizeBytes: 1 },
      { authorization: `Bearer ${secretToken}`, 'x-request-id': 'req-abc-123' },
    );
    expect(r.status).toBe(201);
    expect(r.headers.get('x-request-id')).toBe('req-abc-123');
    const put = await fetch(r.body.uploadUrl, { method: 'PUT', headers: { ...r.body.headers, 'x-request-id': 'req-put-456' }, body: 'x' });
    expect(put.status).toBe(200);
    // A request's last log line is written after its response was sent: wait for both requests' to be out.
    const logged = (id: string) => new RegExp(`"reqId":"${id}".*"request completed"`).test(app.output());
    await waitFor(() => logged('req-abc-123') && logged('req-put-456'), {
      what: 'the "request completed" log lines of both requests',
      timeoutMs: 10000,
    });
    const out = app.output();
    expect(out).toContain('req-abc-123');
    expect(out).not.toContain(secretToken);
    expect(out).not.toContain(new URL(r.body.uploadUrl).searchParams.get('X-Media-Signature')!);
  });
});

describe('dependencies down', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ REDIS_URL: 'redis://127.0.0.1:1/0' });
  });
  afterAll(() => app?.stop());

  it('stays live but not ready while Redis is unreachable', async () => {
    expect((await fetch(`${app.baseUrl}/health/live`)).status).toBe(200);
    const ready = await fetch(`${app.baseUrl}/health/ready`, asAdmin());
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as any;
    expect(body.details.redis.status).toBe('down');
    expect(body.details.database.status).toBe('up');
  });
});

describe('REDIS_URL database index', () => {
  let app: RunningApp;
  const db7 = new Redis('redis://127.0.0.1:6379/7', { lazyConnect: true });
  beforeAll(async () => {
    app = await startApp({ REDIS_URL: 'redis://127.0.0.1:6379/7' });
    await db7.connect();
  });
  afterAll(async () => {
    await app?.stop();
    const keys = await db7.keys(`${app.env.REDIS_KEY_PREFIX}*`);
    if (keys.length) await db7.del(...keys);
    db7.disconnect();
  });

  it('keeps its queues in the database the URL names', async () => {
    const client = api(app.baseUrl, 5);
    const up = await uploadBytes(client, Buffer.from('db index'), { mimeType: 'text/plain' });
    await client.post(`/media/${up.assetId}/complete`);
    await eventually(async () => (await client.get(`/media/${up.assetId}`)).body.status === 'ready');
    const prefix = app.env.REDIS_KEY_PREFIX;
    expect((await db7.keys(`${prefix}*`)).length).toBeGreaterThan(0);
    const db0 = new Redis('redis://127.0.0.1:6379/0');
    expect(await db0.keys(`${prefix}*`)).toEqual([]);
    db0.disconnect();
  });
});

describe('developer tooling', () => {
  it('npm run token prints a token the service accepts', () => {
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'dist/apps/api/src/cli/token.js'), '--sub', '42', '--groups', 'editors', '--roles', 'admin'],
      {
        env: { PATH: process.env.PATH ?? '', JWT_SECRET },
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    const claims = jwt.verify(r.stdout.trim(), JWT_SECRET, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: '42', groups: ['editors'], roles: ['admin'] });
  });

  it('docker-compose.yml parses and wires the app to postgres, redis, minio and clamav', () => {
    const doc = yaml.load(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as any;
    expect(Object.keys(doc.services)).toEqual(expect.arrayContaining(['postgres', 'redis', 'minio', 'clamav', 'app']));
    const env = doc.services.app.environment;
    expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
    expect(env.REDIS_URL).toMatch(/^redis:\/\/redis:6379/);
    expect(env.S3_ENDPOINT).toBe('http://minio:9000');
    expect(env.STORAGE_DRIVER).toBe('s3');
    expect(doc.services.app.depends_on.postgres.condition).toBe('service_healthy');
  });
});
