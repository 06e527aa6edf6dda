/**
 * SIGKILL the service during 200 concurrent uploads in every state (URL issued, bytes in flight, stored,
 * completed, processing), restart it, let clients retry as real clients do, then check the invariants:
 * every asset ends ready or cleanly pending with a valid URL; no stored object without a row; no ready row
 * pointing at a missing object; reference counts equal the real counts; identical contents held once (hard links).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { api, sha256 } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { filesUnder, pool } from './support/files';

describe('SIGKILL during 200 concurrent uploads', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ PROCESSING_LOCK_DURATION_MS: '3000', RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '100000' });
  });
  afterAll(() => app?.stop());

  it('recovers to a consistent state', async () => {
    const client = api(app.baseUrl, 31);
    const N = 200;
    const body = (i: number) => Buffer.from(`crash recovery content ${i % 25}`); // 25 distinct contents: dedup under fire
    const plan = Array.from({ length: N }, (_, i) => ({ i, put: i % 10 < 8, complete: i % 10 < 6 }));
    const grants: { assetId: string; uploadUrl: string; headers: Record<string, string> }[] = [];
    await pool(plan, 20, async ({ i }) => {
      const r = await client.post('/media/upload-url', {
        filename: `c${i}.txt`,
        mimeType: 'text/plain',
        sizeBytes: body(i).length,
        checksumSha256: sha256(body(i)),
      });
      expect(r.status).toBe(201);
      grants[i] = r.body;
    });

    // Bytes and completions in flight; the service is killed part-way through.
    let done = 0;
    const work = pool(plan, 24, async ({ i, put, complete }) => {
      try {
        if (put) await fetch(grants[i].uploadUrl, { method: 'PUT', headers: grants[i].headers, body: body(i) });
        if (complete) await client.post(`/media/${grants[i].assetId}/complete`);
      } catch {
        /* connection refused or reset: the client retries after the restart */
      }
      done++;
    });
    await eventually(async () => done >= 90, 30000, 5);
    await app.stopProcess('SIGKILL');
    await work;
    await app.restart();

    // Clients retry what they may not have finished: the PUT (single-use URLs answer 412 once stored) and complete.
    await pool(plan, 16, async ({ i, put, complete }) => {
      if (put) {
        const r = await fetch(grants[i].uploadUrl, { method: 'PUT', headers: grants[i].headers, body: body(i) });
        expect([200, 412]).toContain(r.status);
      }
      if (complete) expect((await client.post(`/media/${grants[i].assetId}/complete`)).status).toBe(202);
    });
    const completed = plan.filter((p) => p.complete).map((p) => grants[p.i].assetId);
    await eventually(
      async () => {
        const [r] = await app.sql(`SELECT count(*)::int AS n FROM media_assets WHERE asset_id = ANY($1) AND status = 'ready'`, [completed]);
        return r.n === completed.length;
      },
      90000,
      250,
    );
    await eventually(async () => (await app.sql(`SELECT count(*)::int AS n FROM outbox`))[0].n === 0, 30000);

    const rows = await app.sql(`SELECT asset_id, status, object_key, stored_object_sha256, upload_expires_at FROM media_assets`);
    expect(rows).toHaveLength(N);
    for (const r of rows) expect(['ready', 'pending']).toContain(r.status);
    expect(rows.filter((r) => r.status === 'ready')).toHaveLength(completed.length);
    // Pending ones still hold a valid URL: one never uploaded takes its bytes now.
    const pending = rows.filter((r) => r.status === 'pending');
    for (const r of pending) expect(new Date(r.upload_expires_at).getTime()).toBeGreaterThan(Date.now());
    const never = plan.find((p) => !p.put)!;
    expect((await fetch(grants[never.i].uploadUrl, { method: 'PUT', headers: grants[never.i].headers, body: body(never.i) })).status).toBe(
      200,
    );

    // Reference counts equal the real counts; one stored object per distinct content.
    const counts = await app.sql(`
      SELECT o.checksum_sha256, o.ref_count, count(a.asset_id)::int AS real
        FROM stored_objects o LEFT JOIN media_assets a ON a.stored_object_sha256 = o.checksum_sha256 AND a.status <> 'deleted'
       GROUP BY o.checksum_sha256, o.ref_count`);
    for (const c of counts) expect(c.ref_count).toBe(c.real);
    const distinctReady = new Set(plan.filter((p) => p.complete).map((p) => sha256(body(p.i))));
    expect(counts).toHaveLength(distinctReady.size);

    // No ready row points at a missing object; no object lies in storage without a row that owns it.
    const bucketDir = path.join(app.storageRoot, 'media');
    const files = new Set(filesUnder(bucketDir).map((f) => path.relative(bucketDir, f)));
    const stored = await app.sql(`SELECT object_key FROM stored_objects`);
    for (const r of rows.filter((x) => x.status === 'ready')) expect(files.has(r.object_key)).toBe(true);
    // Owners: a stored object, or an asset (every ready asset has its own key; a pending one its upload key).
    const owned = new Set([...stored.map((s) => s.object_key), ...rows.filter((r) => r.status !== 'deleted').map((r) => r.object_key)]);
    expect([...files].filter((f) => !owned.has(f))).toEqual([]);
    // Identical contents are held once: the ready assets of one content are hard links to one file.
    const inodes = new Map<string, Set<number>>();
    for (const r of rows.filter((x) => x.status === 'ready')) {
      const set = inodes.get(r.stored_object_sha256) ?? new Set<number>();
      set.add(statSync(path.join(bucketDir, r.object_key)).ino);
      inodes.set(r.stored_object_sha256, set);
    }
    expect([...inodes.values()].every((s) => s.size === 1)).toBe(true);
  }, 180000);
});
