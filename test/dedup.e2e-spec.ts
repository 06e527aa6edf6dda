/**
 * Dedup with reference counts under concurrency, and that it is no oracle: users never see object keys,
 * other owners, or whether their bytes were shared; operators see the stored object.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { api, Api, sha256, uploadBytes } from './support/api';
import { filesUnder } from './support/files';
import { eventually, RunningApp, startApp } from './support/app-process';
import { waitForOutboxDrained } from './support/waits';
import { asAdmin } from './support/health';

// The e2e project's testTimeout is not applied per project by jest; bound every test and hook here.
jest.setTimeout(60000);

describe('dedup with reference counts (SCANNER=none)', () => {
  let app: RunningApp;
  let admin: Api;

  beforeAll(async () => {
    app = await startApp({ PROCESSING_CONCURRENCY: '8' });
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
  });
  afterAll(() => app?.stop());

  it('warns at start-up and in /health/ready that nothing is scanned', async () => {
    expect(app.output()).toMatch(/SCANNER=none: uploads are NOT scanned/);
    const body = (await (await fetch(`${app.baseUrl}/health/ready`, asAdmin())).json()) as any;
    expect(body.details.scanner).toMatchObject({ status: 'up', kind: 'none', scanning: 'disabled' });
  });

  it('20 concurrent identical uploads → one stored object with ref_count 20; deleting 19 keeps it, the 20th removes it', async () => {
    const bytes = randomBytes(256 * 1024);
    const sum = sha256(bytes);
    // Ten owners, two uploads each, all at once (upload, PUT, complete).
    const clients = Array.from({ length: 20 }, (_, i) => api(app.baseUrl, 500 + (i % 10)));
    const uploads = await Promise.all(
      clients.map(async (c, i) => {
        const up = await uploadBytes(c, bytes, { filename: `same-${i}.bin`, mimeType: 'application/octet-stream', checksum: i % 2 === 0 });
        expect(up.putStatus).toBe(200);
        expect((await c.post(`/media/${up.assetId}/complete`)).status).toBe(202);
        return { client: c, assetId: up.assetId, grant: up.grant };
      }),
    );
    const views = await Promise.all(uploads.map(async (u) => (await u.client.get(`/media/${u.assetId}?waitFor=ready&timeout=30`)).body));
    expect(views.map((v) => v.status)).toEqual(Array(20).fill('ready'));

    // Exactly one stored object, counted 20 times, enforced by the primary key and row locks; it lives at the key of
    // one of the assets, and every asset has a key of its own (nothing about another owner's copy shows in its URL).
    const objects = await app.sql(`SELECT checksum_sha256, object_key, ref_count FROM stored_objects`);
    expect(objects).toEqual([
      { checksum_sha256: sum, object_key: expect.stringMatching(/^objects\/[0-9a-f]{2}\/[0-9a-f]{64}$/), ref_count: 20 },
    ]);
    const keys = await app.sql(`SELECT object_key, stored_object_sha256 FROM media_assets WHERE asset_id = ANY($1)`, [
      uploads.map((u) => u.assetId),
    ]);
    expect(new Set(keys.map((k: any) => k.object_key)).size).toBe(20);
    expect(keys.every((k: any) => k.stored_object_sha256 === sum && /^objects\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(k.object_key))).toBe(true);
    expect(keys.map((k: any) => k.object_key)).toContain(objects[0].object_key);
    // On disk: every uploaded copy is gone, and once the background dedup step ran, the 20 keys are hard links to one
    // file (the bytes are held once).
    const bucket = path.join(app.storageRoot, 'media');
    await eventually(async () => filesUnder(path.join(bucket, 'uploads')).length === 0);
    await waitForOutboxDrained(app);
    const stored = filesUnder(path.join(bucket, 'objects'));
    expect(stored.sort()).toEqual(keys.map((k: any) => path.join(bucket, k.object_key)).sort());
    expect(new Set(stored.map((f) => statSync(f).ino)).size).toBe(1);
    // A client retrying its PUT now finds the URL used up (412), and leaves nothing behind.
    const retried = await fetch(uploads[5].grant.uploadUrl, { method: 'PUT', headers: uploads[5].grant.headers, body: bytes });
    expect(retried.status).toBe(412);
    expect(filesUnder(path.join(bucket, 'uploads'))).toEqual([]);

    // No oracle: the first and the deduplicated uploads look alike, and nothing names a key, an owner or a count.
    const shape = (v: Record<string, unknown>) => Object.keys(v).sort();
    for (const v of views) {
      expect(shape(v)).toEqual(shape(views[0]));
      expect(JSON.stringify(v)).not.toMatch(/objects\/|uploads\/|ref_?count|stored_?object/i);
    }
    const link = await uploads[3].client.get(`/media/${uploads[3].assetId}/download?redirect=false`);
    const urlPath = decodeURIComponent(new URL(link.body.url).pathname);
    for (const u of uploads) expect(urlPath).not.toContain(u.assetId);
    expect(urlPath).not.toMatch(/\/50\d\//);
    const other = await uploads[4].client.get(`/media/${uploads[4].assetId}/download?redirect=false`);
    expect(decodeURIComponent(new URL(other.body.url).pathname)).not.toBe(urlPath);

    // Operators see the stored object.
    const seen = await admin.get(`/admin/objects/${sum}`);
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual({
      sha256: sum,
      sizeBytes: bytes.length,
      refCount: 20,
      storageClass: 'STANDARD',
      regions: [{ bucket: 'media', objectKey: objects[0].object_key }],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      lastVerifiedAt: expect.any(String),
      lastAccessedAt: null,
      integrity: 'ok',
      integrityNote: null,
      integrityChangedAt: null,
    });

    // Delete 19 (each by its owner, some at once): the object stays, still readable by the last asset.
    const [last, ...rest] = uploads;
    await Promise.all(rest.map(async (u) => expect((await u.client.del(`/media/${u.assetId}`)).status).toBe(204)));
    expect((await admin.get(`/admin/objects/${sum}`)).body.refCount).toBe(1);
    // The deletes' follow-ups (events, object deletions) run from the outbox: once it is drained, none removed the object.
    await waitForOutboxDrained(app);
    expect(existsSync(path.join(bucket, objects[0].object_key))).toBe(true);
    const [{ object_key: ownKey }] = await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [last.assetId]);
    // The deleted assets' own keys are gone (the stored object's key stays while it is referenced).
    expect(filesUnder(path.join(bucket, 'objects')).sort()).toEqual(
      [...new Set([objects[0].object_key, ownKey])].map((k) => path.join(bucket, k)).sort(),
    );
    const dl = await fetch((await last.client.get(`/media/${last.assetId}/download`)).headers.get('location')!);
    expect(Buffer.from(await dl.arrayBuffer()).equals(bytes)).toBe(true);

    // The 20th removes it (its own key and the stored object's).
    expect((await last.client.del(`/media/${last.assetId}`)).status).toBe(204);
    expect((await admin.get(`/admin/objects/${sum}`)).status).toBe(404);
    await eventually(async () => filesUnder(path.join(bucket, 'objects')).length === 0);
    expect(await app.sql(`SELECT * FROM stored_objects`)).toEqual([]);
  }, 60000);

  it('keeps /admin/objects for admins (403 otherwise) and checks the checksum', async () => {
    const someone = api(app.baseUrl, 77);
    const sha = 'a'.repeat(64);
    const forbidden = await someone.get(`/admin/objects/${sha}`);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    expect((await api(app.baseUrl).get(`/admin/objects/${sha}`)).status).toBe(401);
    const missing = await admin.get(`/admin/objects/${sha}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ statusCode: 404, error: 'NotFound' });
    const bad = await admin.get('/admin/objects/xyz');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('ValidationFailed');
  });
});
