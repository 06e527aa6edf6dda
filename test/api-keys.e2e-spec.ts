/**
 * API keys for back ends (POST/GET/DELETE /api-keys), against two replicas of the built service sharing one database
 * and one Redis: keys shown once and stored as hashes, both headers, scopes, admin, expiry, revocation seen at once by
 * the other replica, their own rate-limit budget, lastUsedAt without a write per request, never in logs; the SDK and
 * the CLI upload with a key.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MediaApiError, MediaClient } from '@app/sdk';
import { Api, api, sha256, uploadBytes } from './support/api';
import { REPO_ROOT, RunningApp, startApp, startReplica, token } from './support/app-process';
import { waitFor } from './support/waits';

const CLI = path.join(REPO_ROOT, 'dist/apps/cli/src/main.js');
const KEY_SHAPE = /^msk_[A-Za-z0-9_-]{54}$/;

/** The api() helper, authenticated with an API key in `X-Api-Key` or as the bearer value. */
function withKey(baseUrl: string, key: string, via: 'x-api-key' | 'bearer' = 'x-api-key'): Api {
  const anon = api(baseUrl);
  const auth: Record<string, string> = via === 'x-api-key' ? { 'x-api-key': key } : { authorization: `Bearer ${key}` };
  return {
    get: (p, h = {}) => anon.get(p, { ...auth, ...h }),
    post: (p, b, h = {}) => anon.post(p, b, { ...auth, ...h }),
    put: (p, b, h = {}) => anon.put(p, b, { ...auth, ...h }),
    del: (p, h = {}) => anon.del(p, { ...auth, ...h }),
    raw: (m, p, b, h = {}) => anon.raw(m, p, b, { ...auth, ...h }),
  };
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('API keys (two replicas)', () => {
  let a: RunningApp;
  let b: RunningApp;
  let dir: string;
  /** Every key handed out: none may ever appear in the services' output. */
  const issued: string[] = [];

  const uploadUrlBody = (n: number) => ({ filename: `f${n}.txt`, mimeType: 'text/plain', sizeBytes: 10 });

  async function createKey(client: Api, body: { name: string; scopes: string[]; expiresAt?: string }) {
    const r = await client.post('/api-keys', body);
    expect([r.status, r.text]).toEqual([201, expect.any(String)]);
    issued.push(r.body.key);
    return r.body as { id: string; key: string; prefix: string; scopes: string[]; creatorId: string };
  }

  beforeAll(async () => {
    const env = {
      API_KEY_LAST_USED_FLUSH_SECONDS: '2',
      RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '3',
      API_KEY_RATE_LIMIT_PER_MINUTE: '6',
    };
    a = await startApp({ ...env, LOG_LEVEL: 'trace' });
    b = await startReplica(a, env);
    dir = mkdtempSync(path.join(os.tmpdir(), 'api-keys-e2e-'));
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows a key once at creation, lists keys without it, stores only its SHA-256, and revokes it', async () => {
    const alice = api(a.baseUrl, 70);
    const created = await createKey(alice, { name: 'billing backend', scopes: ['read', 'write'] });
    expect(created).toMatchObject({
      name: 'billing backend',
      scopes: ['read', 'write'],
      creatorId: '70',
      expiresAt: null,
      revokedAt: null,
    });
    expect(created.key).toMatch(KEY_SHAPE);
    expect(created.prefix).toBe(created.key.slice(0, 12));

    const list = await alice.get('/api-keys');
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([expect.objectContaining({ id: created.id, prefix: created.prefix, name: 'billing backend' })]);
    expect(list.body.items[0]).not.toHaveProperty('key');
    expect(list.text).not.toContain(created.key.slice(12));
    // Another user sees none of them, and cannot revoke them.
    expect((await api(a.baseUrl, 71).get('/api-keys')).body.items).toEqual([]);
    expect((await api(a.baseUrl, 71).del(`/api-keys/${created.id}`)).body).toMatchObject({ statusCode: 404, error: 'ApiKeyNotFound' });

    const rows = await a.sql(`SELECT * FROM api_keys WHERE key_id = $1`, [created.id]);
    expect(rows[0].key_hash).toBe(sha256(created.key));
    expect(JSON.stringify(rows)).not.toContain(created.key.slice(12));

    expect((await withKey(a.baseUrl, created.key).get('/media')).status).toBe(200);
    expect((await alice.del(`/api-keys/${created.id}`)).status).toBe(204);
    expect((await alice.del(`/api-keys/${created.id}`)).status).toBe(204); // idempotent
    const refused = await withKey(a.baseUrl, created.key).get('/media');
    expect(refused.body).toMatchObject({ statusCode: 401, error: 'Unauthenticated', message: expect.stringMatching(/revoked/) });
    expect((await alice.get('/api-keys')).body.items[0].revokedAt).toEqual(expect.any(String));
    expect((await alice.del('/api-keys/not-a-uuid')).status).toBe(400);
  });

  it('refuses bad creation requests with 400 naming the field', async () => {
    const alice = api(a.baseUrl, 70);
    for (const body of [
      { scopes: ['read'] },
      { name: '  ', scopes: ['read'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['delete'] },
      { name: 'x', scopes: ['read'], expiresAt: 'tomorrow' },
      { name: 'x', scopes: ['read'], expiresAt: new Date(Date.now() - 60_000).toISOString() },
    ]) {
      const r = await alice.post('/api-keys', body);
      expect([body, r.status, r.body.error]).toEqual([body, 400, 'ValidationFailed']);
    }
  });

  it('authenticates with X-Api-Key or Authorization: Bearer, acting as its creator', async () => {
    const alice = api(a.baseUrl, 72, { groups: ['crew'] });
    const { key } = await createKey(alice, { name: 'uploader', scopes: ['read', 'write'] });
    for (const via of ['x-api-key', 'bearer'] as const) {
      const client = withKey(b.baseUrl, key, via);
      const up = await uploadBytes(client, Buffer.from(`uploaded with ${via}`), { mimeType: 'text/plain' });
      expect(up.putStatus).toBeLessThan(300);
      expect((await client.post(`/media/${up.assetId}/complete`)).status).toBe(202);
      const seen = await alice.get(`/media/${up.assetId}`);
      expect([seen.status, seen.body.ownerId]).toEqual([200, '72']);
      expect((await client.get(`/media/${up.assetId}`)).status).toBe(200);
    }
    const anon = api(a.baseUrl);
    const wrong = `msk_${'A'.repeat(54)}`;
    for (const headers of <Record<string, string>[]>[
      { 'x-api-key': wrong },
      { authorization: `Bearer ${wrong}` },
      { 'x-api-key': 'msk_short' },
      { 'x-api-key': 'not-a-key' },
      { 'x-api-key': key, authorization: `Bearer ${wrong}` },
      { 'x-api-key': key, authorization: `Bearer ${token(72)}` },
    ]) {
      const r = await anon.get('/media', headers);
      expect([headers, r.status, r.body.error]).toEqual([headers, 401, 'Unauthenticated']);
    }
    // The same key in both headers (what a client generated from the document sends for its two schemes) is one credential.
    expect((await anon.get('/media', { 'x-api-key': key, authorization: `Bearer ${key}` })).status).toBe(200);
    // A body is refused before it is read, as for a bad token.
    expect((await anon.post('/media/upload-url', uploadUrlBody(1), { 'x-api-key': wrong })).status).toBe(401);
  });

  it('limits a key to its scopes: 403 InsufficientScope naming the scope', async () => {
    const alice = api(a.baseUrl, 73);
    const admin = api(a.baseUrl, 2, { roles: ['admin'] });
    const readKey = (await createKey(alice, { name: 'reader', scopes: ['read'] })).key;
    const writeKey = (await createKey(alice, { name: 'writer', scopes: ['write'] })).key;
    const readOnly = withKey(a.baseUrl, readKey);
    const writeOnly = withKey(a.baseUrl, writeKey);
    const adminRw = withKey(a.baseUrl, (await createKey(admin, { name: 'ops rw', scopes: ['read', 'write'] })).key);
    const adminKey = withKey(a.baseUrl, (await createKey(admin, { name: 'ops', scopes: ['read', 'admin'] })).key);

    const scopeRefusal = (scope: string) => ({ statusCode: 403, error: 'InsufficientScope', details: { requiredScope: scope } });
    expect((await readOnly.get('/media')).status).toBe(200);
    const denied = await readOnly.post('/media/upload-url', uploadUrlBody(2));
    expect(denied.body).toMatchObject(scopeRefusal('write'));
    expect(denied.body.message).toMatch(/"write" scope/);
    expect((await writeOnly.get('/media')).body).toMatchObject(scopeRefusal('read'));
    const up = await uploadBytes(writeOnly, Buffer.from('write scope'), { mimeType: 'text/plain' });
    expect((await writeOnly.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    expect((await readOnly.put(`/media/${up.assetId}/metadata/colour`, { value: 'red' })).body).toMatchObject(scopeRefusal('write'));
    expect((await writeOnly.put(`/media/${up.assetId}/metadata/colour`, { value: 'red' })).status).toBe(200);
    expect((await readOnly.del(`/media/${up.assetId}`)).body).toMatchObject(scopeRefusal('write'));
    expect((await writeOnly.del(`/media/${up.assetId}`)).status).toBe(204);

    // tus creations are writes too, and count on the key's budget.
    const tus = (key: Record<string, string>) =>
      fetch(`${a.baseUrl}/tus/`, {
        method: 'POST',
        headers: {
          ...key,
          'tus-resumable': '1.0.0',
          'upload-length': '5',
          'upload-metadata': `filename ${Buffer.from('t.txt').toString('base64')},filetype ${Buffer.from('text/plain').toString('base64')}`,
        },
      });
    const tusRefused = await tus({ 'x-api-key': readKey });
    expect([tusRefused.status, await tusRefused.text()]).toEqual([403, expect.stringMatching(/"write" scope/)]);
    expect((await tus({ authorization: `Bearer ${writeKey}` })).status).toBe(201);

    // Admin routes need the admin scope, even on an admin's key.
    expect((await adminRw.get('/admin/jobs/runs')).body).toMatchObject(scopeRefusal('admin'));
    expect((await adminKey.get('/admin/jobs/runs')).status).toBe(200);
    expect((await readOnly.get('/admin/jobs/runs')).body).toMatchObject(scopeRefusal('admin'));
    // The queue dashboard (not a Nest route) too.
    expect((await adminRw.get('/admin/queues/api/queues')).body).toMatchObject(scopeRefusal('admin'));
  });

  it('grants the admin scope only to admins, and lets only admin-scoped keys manage keys', async () => {
    const alice = api(a.baseUrl, 74);
    const admin = api(a.baseUrl, 3, { roles: ['admin'] });
    const refused = await alice.post('/api-keys', { name: 'sneaky', scopes: ['admin'] });
    expect(refused.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    expect((await alice.get('/api-keys')).body.items).toEqual([]);

    const rw = withKey(a.baseUrl, (await createKey(alice, { name: 'rw', scopes: ['read', 'write'] })).key);
    expect((await rw.post('/api-keys', { name: 'child', scopes: ['read'] })).body).toMatchObject({
      statusCode: 403,
      error: 'InsufficientScope',
      details: { requiredScope: 'admin' },
    });
    expect((await rw.get('/api-keys')).body.items).toHaveLength(1);

    const adminScoped = withKey(a.baseUrl, (await createKey(admin, { name: 'root', scopes: ['read', 'admin'] })).key);
    const child = await createKey(adminScoped, { name: 'child', scopes: ['read'] });
    expect(child.creatorId).toBe('3');
    expect((await withKey(a.baseUrl, child.key).get('/admin/jobs/runs')).body).toMatchObject({ error: 'InsufficientScope' });
    // A key never grants a scope it lacks.
    expect((await adminScoped.post('/api-keys', { name: 'wider', scopes: ['write'] })).body).toMatchObject({
      error: 'InsufficientScope',
      details: { requiredScope: 'write' },
    });
    expect((await adminScoped.del(`/api-keys/${child.id}`)).status).toBe(204);
    expect((await withKey(a.baseUrl, child.key).get('/media')).status).toBe(401);
  });

  it('refuses a key once it has expired', async () => {
    const alice = api(a.baseUrl, 75);
    const expiresAt = new Date(Date.now() + 4000).toISOString();
    const created = await createKey(alice, { name: 'short-lived', scopes: ['read'], expiresAt });
    expect(created).toMatchObject({ expiresAt });
    const client = withKey(a.baseUrl, created.key);
    expect((await client.get('/media')).status).toBe(200);
    const refused = await waitFor(
      async () => {
        const r = await client.get('/media');
        return r.status === 401 ? r : null;
      },
      { what: 'the key to expire', timeoutMs: 15000, everyMs: 200 },
    );
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(refused.body).toMatchObject({ error: 'Unauthenticated', message: expect.stringMatching(/expired/) });
  });

  it('refuses a revoked key at once on the other replica, which had it in memory', async () => {
    const alice = api(a.baseUrl, 76);
    for (let i = 0; i < 5; i++) {
      const { id, key } = await createKey(alice, { name: `revocable ${i}`, scopes: ['read'] });
      const onB = withKey(b.baseUrl, key, i % 2 ? 'bearer' : 'x-api-key');
      expect((await onB.get('/media')).status).toBe(200);
      expect((await onB.get('/api-keys')).status).toBe(200);
      expect((await alice.del(`/api-keys/${id}`)).status).toBe(204);
      const after = await onB.get('/media');
      expect([i, after.status, after.body.error]).toEqual([i, 401, 'Unauthenticated']);
    }
  });

  it('gives each key its own rate-limit budget, separate from its user and larger', async () => {
    const user = api(a.baseUrl, 77);
    for (let i = 0; i < 3; i++) expect((await user.post('/media/upload-url', uploadUrlBody(i))).status).toBe(201);
    const limited = await user.post('/media/upload-url', uploadUrlBody(3));
    expect([limited.status, limited.body.error]).toEqual([429, 'RateLimited']);

    const key = withKey(b.baseUrl, (await createKey(user, { name: 'bulk', scopes: ['write'] })).key);
    for (let i = 0; i < 6; i++) expect([i, (await key.post('/media/upload-url', uploadUrlBody(i))).status]).toEqual([i, 201]);
    const keyLimited = await key.post('/media/upload-url', uploadUrlBody(6));
    expect([keyLimited.status, keyLimited.body.error]).toEqual([429, 'RateLimited']);
    expect(keyLimited.body.message).toMatch(/at most 6 per 60 s/);
    // Another key of the same user has a budget of its own; the user's is still spent.
    const other = withKey(a.baseUrl, (await createKey(user, { name: 'bulk 2', scopes: ['write'] })).key);
    expect((await other.post('/media/upload-url', uploadUrlBody(7))).status).toBe(201);
    expect((await user.post('/media/upload-url', uploadUrlBody(8))).status).toBe(429);
  });

  it('records lastUsedAt without writing the row on every request', async () => {
    await a.sql(`CREATE TABLE IF NOT EXISTS test_api_key_writes (key_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await a.sql(`CREATE OR REPLACE FUNCTION test_count_api_key_writes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO test_api_key_writes (key_id) VALUES (NEW.key_id); RETURN NULL; END $$`);
    await a.sql(`DROP TRIGGER IF EXISTS test_api_key_writes ON api_keys`);
    await a.sql(
      `CREATE TRIGGER test_api_key_writes AFTER UPDATE OF last_used_at ON api_keys FOR EACH ROW EXECUTE FUNCTION test_count_api_key_writes()`,
    );

    const alice = api(a.baseUrl, 78);
    const { id, key } = await createKey(alice, { name: 'busy', scopes: ['read'] });
    const client = withKey(a.baseUrl, key);
    const started = Date.now();
    const requests = 40;
    for (let i = 0; i < requests; i++) expect((await client.get('/media')).status).toBe(200);
    const elapsed = Date.now() - started;
    const listed = await waitFor(
      async () =>
        (await alice.get('/api-keys')).body.items.find((k: { id: string; lastUsedAt: string | null }) => k.id === id && k.lastUsedAt),
      { what: 'lastUsedAt to be recorded', timeoutMs: 10000 },
    );
    expect(Date.parse(listed.lastUsedAt)).toBeGreaterThanOrEqual(started - 1000);
    const [{ n }] = await a.sql<{ n: number }>(`SELECT count(*)::int AS n FROM test_api_key_writes WHERE key_id = $1`, [id]);
    // One write per 2 s flush interval at most (plus one for a window cut in two), never one per request.
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(Math.ceil(elapsed / 2000) + 1);
    expect(n).toBeLessThan(requests / 4);
  });

  it('the SDK (apiKey) and the CLI (MEDIA_API_KEY, --api-key) upload with a key', async () => {
    const alice = api(a.baseUrl, 79);
    const { key, id } = await createKey(alice, { name: 'sdk and cli', scopes: ['read', 'write'] });
    const file = path.join(dir, 'from-a-backend.txt');
    writeFileSync(file, 'uploaded by a back end with an API key');

    const sdk = new MediaClient({ baseUrl: b.baseUrl, apiKey: key });
    const up = await sdk.uploadFile(file, { contentType: 'text/plain' });
    expect((await alice.get(`/media/${up.assetId}`)).body).toMatchObject({ ownerId: '79' });
    expect((await sdk.listApiKeys()).map((k) => k.id)).toContain(id);
    await expect(sdk.createApiKey({ name: 'nope', scopes: ['read'] })).rejects.toBeInstanceOf(MediaApiError);

    const run = await cli(['upload', '-q', file], { MEDIA_URL: a.baseUrl, MEDIA_API_KEY: key });
    expect([run.code, run.stderr]).toEqual([0, '']);
    const assetId = run.stdout.split('\t')[0];
    expect((await alice.get(`/media/${assetId}`)).body).toMatchObject({ ownerId: '79', filename: 'from-a-backend.txt' });
    const listed = await cli(['--api-key', key, 'api-keys', 'list'], { MEDIA_URL: a.baseUrl });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(key);
  });

  it('never writes a key to the logs', async () => {
    expect(issued.length).toBeGreaterThan(10);
    const output = a.output() + b.output();
    // Replica a logs every request (LOG_LEVEL=trace): the requests that carried keys are in its output.
    expect(a.output()).toContain('"url":"/api-keys"');
    expect(a.output()).toContain('"statusCode":401');
    const leaked = issued.filter((k) => output.includes(k.slice(12)));
    expect(leaked).toEqual([]);
  });
});
