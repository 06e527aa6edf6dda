/**
 * Per-owner quotas end to end: bytes (413) and asset count (429) refused at upload-url with the limit named,
 * pending uploads counting until they expire, delete and failed processing freeing, per-owner overrides, and
 * concurrent requests never overshooting a limit.
 */
import { api, Api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { readyAsset } from './support/assets';

describe('quotas', () => {
  let app: RunningApp;
  let admin: Api;
  const ask = (c: Api, sizeBytes: number, extra: Record<string, unknown> = {}) =>
    c.post('/media/upload-url', { filename: 'q.txt', mimeType: 'text/plain', sizeBytes, ...extra });

  beforeAll(async () => {
    app = await startApp({ QUOTA_MAX_BYTES_PER_OWNER: '1000', QUOTA_MAX_ASSETS_PER_OWNER: '3' });
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
  });
  afterAll(() => app?.stop());

  it('refuses bytes over the limit with 413 and one asset too many with 429, naming the limit', async () => {
    const c = api(app.baseUrl, 90);
    expect((await ask(c, 600)).status).toBe(201);
    const bytes = await ask(c, 401);
    expect(bytes.status).toBe(413);
    expect(bytes.body).toMatchObject({
      statusCode: 413,
      error: 'QuotaBytesExceeded',
      message: expect.stringMatching(/would exceed the storage quota \(maxBytes\) of owner 90: 600 of 1000 bytes are in use/),
      details: { limit: 'maxBytes', maxBytes: 1000, usedBytes: 600, pendingBytes: 600, requestedBytes: 401 },
    });
    expect((await ask(c, 400)).status).toBe(201);
    expect((await ask(c, 0)).status).toBe(201);
    const count = await ask(c, 0);
    expect(count.status).toBe(429);
    expect(count.body).toMatchObject({
      statusCode: 429,
      error: 'QuotaAssetsExceeded',
      message: expect.stringMatching(/reached the asset quota \(maxAssets\): 3 of 3 assets/),
      details: { limit: 'maxAssets', maxAssets: 3, usedAssets: 3, pendingAssets: 3 },
    });
    expect((await app.sql(`SELECT count(*)::int AS n FROM media_assets WHERE owner_id = 90`))[0].n).toBe(3); // refusals create nothing
    expect((await c.get('/quota')).body).toEqual({
      ownerId: '90',
      limits: { maxBytes: 1000, maxAssets: 3, overridden: false },
      usage: { bytes: 1000, assets: 3, pendingBytes: 1000, pendingAssets: 3 },
    });
  });

  it('counts pending uploads until they expire', async () => {
    const c = api(app.baseUrl, 91);
    const first = await ask(c, 900, { expiresInSeconds: 1 });
    expect(first.status).toBe(201);
    expect((await ask(c, 200)).status).toBe(413);
    // The wall clock is what is under test: ask again once the first grant's stated expiry has passed.
    await new Promise((r) => setTimeout(r, Math.max(0, new Date(first.body.expiresAt).getTime() - Date.now()) + 100));
    expect((await ask(c, 200)).status).toBe(201);
    expect((await c.get('/quota')).body.usage).toEqual({ bytes: 200, assets: 1, pendingBytes: 200, pendingAssets: 1 });
  });

  it('keeps counting an upload once it is processing or ready; deleting it, or failed processing, frees it', async () => {
    const c = api(app.baseUrl, 92);
    const id = await readyAsset(c, 'x'.repeat(800));
    expect((await c.get('/quota')).body.usage).toEqual({ bytes: 800, assets: 1, pendingBytes: 0, pendingAssets: 0 });
    expect((await ask(c, 300)).status).toBe(413);
    expect((await c.del(`/media/${id}`)).status).toBe(204);
    expect((await c.get('/quota')).body.usage).toEqual({ bytes: 0, assets: 0, pendingBytes: 0, pendingAssets: 0 });
    expect((await ask(c, 300)).status).toBe(201);

    const bad = await uploadBytes(c, Buffer.from('y'.repeat(600)), { mimeType: 'image/png' });
    expect((await c.get('/quota')).body.usage.bytes).toBe(900);
    await c.post(`/media/${bad.assetId}/complete`);
    await eventually(async () => (await c.get(`/media/${bad.assetId}`)).body.status === 'failed');
    expect((await c.get('/quota')).body.usage).toEqual({ bytes: 300, assets: 1, pendingBytes: 300, pendingAssets: 1 });
  });

  it('never overshoots under concurrent requests of one owner', async () => {
    const count = await Promise.all(Array.from({ length: 10 }, () => ask(api(app.baseUrl, 93), 10)));
    expect(count.filter((r) => r.status === 201)).toHaveLength(3);
    expect(count.filter((r) => r.status === 429)).toHaveLength(7);

    await admin.put('/admin/quotas/94', { maxBytes: 1000, maxAssets: 0 });
    const bytes = await Promise.all(Array.from({ length: 10 }, () => ask(api(app.baseUrl, 94), 300)));
    expect(bytes.filter((r) => r.status === 201)).toHaveLength(3);
    expect(bytes.filter((r) => r.status === 413)).toHaveLength(7);
  });

  it('stays exact at the edge of a quota under many concurrent requests, batched together across owners', async () => {
    // Three owners at once, so that their requests share group-commit batches: 60 requests each.
    await admin.put('/admin/quotas/96', { maxBytes: 0, maxAssets: 25 });
    await admin.put('/admin/quotas/97', { maxBytes: 1000, maxAssets: 0 });
    await admin.put('/admin/quotas/98', { maxBytes: 5000, maxAssets: 100 });
    const sizeOf = (owner: number, i: number) => (owner === 96 ? 1 : owner === 97 ? 17 + (i % 13) : 100 + (i % 50));
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        [96, 97, 98].map((owner) => ask(api(app.baseUrl, owner), sizeOf(owner, i)).then((r) => ({ owner, r }))),
      ).flat(),
    );
    const rows = await app.sql<{ owner: string; n: number; bytes: number }>(
      `SELECT owner_id::text AS owner, count(*)::int AS n, sum(size_bytes)::int AS bytes FROM media_assets
        WHERE owner_id IN (96, 97, 98) AND status = 'pending' GROUP BY owner_id ORDER BY owner_id`,
    );
    const by = Object.fromEntries(rows.map((r) => [r.owner, r]));
    const granted = (owner: number) => results.filter((x) => x.owner === owner && x.r.status === 201);
    // Every 201 is a row, and nothing else is.
    for (const owner of [96, 97, 98]) expect(granted(owner).length).toBe(by[String(owner)]?.n ?? 0);
    expect(by['96'].n).toBe(25); // count limit reached exactly
    expect(results.filter((x) => x.owner === 96 && x.r.status === 429)).toHaveLength(35);
    expect(by['97'].bytes).toBeLessThanOrEqual(1000);
    expect(by['97'].bytes).toBeGreaterThan(1000 - 29); // refused only when the next one did not fit
    expect(by['98'].bytes).toBeLessThanOrEqual(5000);
    expect(by['98'].bytes).toBeGreaterThan(5000 - 149);
    // Each refusal names the figures it was decided on, and they are over the limit.
    for (const { r } of results.filter((x) => x.owner === 97 && x.r.status === 413)) {
      expect(r.body.details.usedBytes + r.body.details.requestedBytes).toBeGreaterThan(1000);
    }
    expect((await api(app.baseUrl, 97).get('/quota')).body.usage.bytes).toBe(by['97'].bytes);
  });

  it('takes per-owner overrides from the owner_quotas table (admin API)', async () => {
    const c = api(app.baseUrl, 95);
    expect((await ask(c, 2000)).status).toBe(413);
    expect((await c.put('/admin/quotas/95', { maxBytes: 5000, maxAssets: null })).status).toBe(403);
    const set = await admin.put('/admin/quotas/95', { maxBytes: 5000, maxAssets: null });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ ownerId: '95', limits: { maxBytes: 5000, maxAssets: 3, overridden: true } });
    expect((await ask(c, 2000)).status).toBe(201);
    expect((await app.sql(`SELECT max_bytes::int AS b, max_assets FROM owner_quotas WHERE owner_id = 95`))[0]).toEqual({
      b: 5000,
      max_assets: null,
    });
    // Unlimited (0), then back to the defaults (both null removes the override).
    await admin.put('/admin/quotas/95', { maxBytes: 0, maxAssets: 0 });
    expect((await ask(c, 1_000_000)).status).toBe(201);
    const reset = await admin.put('/admin/quotas/95', { maxBytes: null, maxAssets: null });
    expect(reset.body.limits).toEqual({ maxBytes: 1000, maxAssets: 3, overridden: false });
    expect((await ask(c, 1)).status).toBe(413);
    for (const body of [{ maxBytes: -1, maxAssets: null }, { maxBytes: 'lots', maxAssets: null }, { maxBytes: 1 }]) {
      const r = await admin.put('/admin/quotas/95', body);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('ValidationFailed');
    }
    expect((await admin.put('/admin/quotas/bob', { maxBytes: 1, maxAssets: 1 })).body.message).toMatch(/ownerId/);
    expect((await admin.get('/admin/quotas/95')).body.ownerId).toBe('95');
  });

  it('keeps the usage counter equal to what it counts', async () => {
    // One INSERT statement of several owners and every status (the insert trigger counts per statement), then the
    // row-level trigger on an update and a delete of those rows.
    await app.sql(
      `INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, status, filename, upload_expires_at, checksum_sha256)
       SELECT gen_random_uuid(), 80 + (g % 3), 'b', 'k/' || g, 'image/png', g * 10, s.status::media_asset_status, 'f.png',
              now() + interval '1 hour', CASE WHEN s.status = 'ready' THEN repeat('a', 64) END
         FROM generate_series(1, 12) g,
              unnest(ARRAY['pending', 'processing', 'ready', 'failed', 'quarantined', 'deleted']) AS s(status)`,
    );
    await app.sql(`UPDATE media_assets SET status = 'ready', checksum_sha256 = repeat('b', 64) WHERE owner_id = 81 AND status = 'pending'`);
    await app.sql(`DELETE FROM media_assets WHERE owner_id = 82 AND status IN ('processing', 'pending')`);
    const counted = await app.sql(
      `SELECT owner_id::text, sum(size_bytes)::text AS bytes, count(*)::text AS assets FROM media_assets
        WHERE status IN ('processing', 'ready') GROUP BY owner_id ORDER BY owner_id`,
    );
    const counter = await app.sql(`SELECT owner_id::text, bytes::text, assets::text FROM owner_usage WHERE assets > 0 ORDER BY owner_id`);
    expect(counter).toEqual(counted);
    // Pending uploads (expired or not) are counted by the same trigger; the quota check subtracts the expired ones.
    const pending = await app.sql(
      `SELECT owner_id::text, sum(size_bytes)::text AS bytes, count(*)::text AS assets FROM media_assets
        WHERE status = 'pending' GROUP BY owner_id ORDER BY owner_id`,
    );
    expect(pending.length).toBeGreaterThan(0);
    const pendingCounter = await app.sql(
      `SELECT owner_id::text, pending_bytes::text AS bytes, pending_assets::text AS assets FROM owner_usage WHERE pending_assets > 0 ORDER BY owner_id`,
    );
    expect(pendingCounter).toEqual(pending);
  });
});
