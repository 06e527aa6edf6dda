/**
 * Metadata tags and GET /media end to end against the built service and real PostgreSQL: validation errors,
 * reserved namespaces, the per-asset key limit, and listing with filters, visibility and cursor pagination that
 * stays stable while assets are inserted between pages.
 */
import { api, Api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { readyAsset, userKeys } from './support/assets';
import { png } from './support/media-fixtures';

describe('metadata', () => {
  let app: RunningApp;
  let alice: Api;
  beforeAll(async () => {
    app = await startApp();
    alice = api(app.baseUrl, 50);
  });
  afterAll(() => app?.stop());

  it('sets, reads and deletes user keys, visible on the asset too', async () => {
    const id = await readyAsset(alice, 'tagged');
    const put = await alice.put(`/media/${id}/metadata/project`, { value: 'apollo 11 — “moon”' });
    expect(put.status).toBe(200);
    expect(put.body.assetId).toBe(id);
    expect(userKeys(put.body.metadata)).toEqual({ project: 'apollo 11 — “moon”' });
    expect((await alice.put(`/media/${id}/metadata/camera.lens-2:a_b`, { value: '' })).status).toBe(200);
    expect(userKeys((await alice.get(`/media/${id}/metadata`)).body.metadata)).toEqual({
      project: 'apollo 11 — “moon”',
      'camera.lens-2:a_b': '',
    });
    expect((await alice.get(`/media/${id}`)).body.metadata.project).toBe('apollo 11 — “moon”');
    expect((await alice.put(`/media/${id}/metadata/project`, { value: 'gemini' })).body.metadata.project).toBe('gemini');
    expect((await alice.del(`/media/${id}/metadata/project`)).status).toBe(204);
    expect(userKeys((await alice.get(`/media/${id}`)).body.metadata)).toEqual({ 'camera.lens-2:a_b': '' });
    const missing = await alice.del(`/media/${id}/metadata/project`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: 'MetadataKeyNotFound', message: `Asset ${id} has no metadata key "project"` });
  });

  it('answers malformed keys and values with 400 naming the problem', async () => {
    const id = await readyAsset(alice, 'validation');
    const cases: [string, unknown, RegExp][] = [
      ['Upper', { value: 'x' }, /Metadata key "Upper" is invalid/],
      ['k'.repeat(65), { value: 'x' }, /is invalid: use 1-64 characters/],
      ['sp%20ace', { value: 'x' }, /Metadata key "sp ace" is invalid/],
      ['ok', { value: 'x'.repeat(4097) }, /value is 4097 bytes; metadata values may be at most 4096 bytes/],
      ['ok', { value: 'é'.repeat(2049) }, /value is 4098 bytes/],
      ['ok', { value: 42 }, /value must be a string/],
      ['ok', {}, /value is required/],
      ['ok', { value: 'x', other: 1 }, /other/],
    ];
    for (const [key, body, message] of cases) {
      const r = await alice.put(`/media/${id}/metadata/${key}`, body);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ statusCode: 400, error: 'ValidationFailed' });
      expect(r.body.message).toMatch(message);
    }
    expect((await alice.put(`/media/${id}/metadata/ok`, { value: 'x'.repeat(4096) })).status).toBe(200);
    expect((await alice.put(`/media/${id}/metadata/ok`, { value: 'é'.repeat(2048) })).status).toBe(200);
  });

  it('protects the reserved namespaces that processing writes', async () => {
    const id = await readyAsset(alice, await png(12, 10), { filename: 'p.png', mimeType: 'image/png' });
    const before = (await alice.get(`/media/${id}/metadata`)).body.metadata;
    expect(before['media:width']).toBe('12');
    for (const key of ['media:width', 'exif:make', 'scan:result']) {
      const put = await alice.put(`/media/${id}/metadata/${key}`, { value: '9999' });
      expect(put.status).toBe(403);
      expect(put.body).toMatchObject({
        error: 'ReservedMetadataKey',
        message: expect.stringContaining(`reserved namespace "${key.split(':')[0]}:"`),
      });
      expect((await alice.del(`/media/${id}/metadata/${key}`)).status).toBe(403);
    }
    expect((await alice.get(`/media/${id}/metadata`)).body.metadata).toEqual(before);
    const viaUpload = await alice.post('/media/upload-url', {
      filename: 'a.txt',
      mimeType: 'text/plain',
      sizeBytes: 1,
      metadata: { 'exif:make': 'me' },
    });
    expect(viaUpload.status).toBe(403);
    expect(viaUpload.body.error).toBe('ReservedMetadataKey');
  });

  it('allows at most 64 user keys per asset (reserved keys do not count), also at upload time', async () => {
    const full = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, `v${i}`]));
    const res = await alice.post('/media/upload-url', {
      filename: 'a.png',
      mimeType: 'image/png',
      sizeBytes: (await png()).length,
      metadata: full,
    });
    expect(res.status).toBe(201);
    const id = res.body.assetId;
    await fetch(res.body.uploadUrl, { method: 'PUT', headers: res.body.headers, body: await png() });
    await alice.post(`/media/${id}/complete`);
    await eventually(async () => (await alice.get(`/media/${id}`)).body.status === 'ready');
    const meta = (await alice.get(`/media/${id}/metadata`)).body.metadata;
    expect(Object.keys(meta).filter((k) => !k.includes(':'))).toHaveLength(64);
    expect(meta['media:width']).toBe('16');

    const over = await alice.put(`/media/${id}/metadata/one-more`, { value: 'x' });
    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({
      error: 'MetadataLimitExceeded',
      message: expect.stringMatching(/already has 64 user metadata keys/),
    });
    expect((await alice.put(`/media/${id}/metadata/k0`, { value: 'changed' })).status).toBe(200); // replacing is fine
    // Concurrent additions cannot overshoot the limit.
    await alice.del(`/media/${id}/metadata/k1`);
    await alice.del(`/media/${id}/metadata/k2`);
    const racing = await Promise.all(Array.from({ length: 6 }, (_, i) => alice.put(`/media/${id}/metadata/race${i}`, { value: 'x' })));
    expect(racing.filter((r) => r.status === 200)).toHaveLength(2);
    expect(racing.filter((r) => r.status === 409)).toHaveLength(4);

    const tooMany = await alice.post('/media/upload-url', {
      filename: 'a.txt',
      mimeType: 'text/plain',
      sizeBytes: 1,
      metadata: { ...full, k64: 'x' },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toMatch(/metadata has 65 keys; an asset may have at most 64/);
    for (const [metadata, message] of [
      [{ 'Bad Key': 'x' }, /Metadata key "Bad Key" is invalid/],
      [{ ok: 'x'.repeat(4097) }, /metadata\.ok is 4097 bytes/],
      [{ ok: 1 }, /metadata\.ok must be a string/],
      [['a'], /metadata must be an object/],
    ] as const) {
      const r = await alice.post('/media/upload-url', { filename: 'a.txt', mimeType: 'text/plain', sizeBytes: 1, metadata });
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(message);
    }
  });
});

describe('GET /media', () => {
  let app: RunningApp;
  let me: Api; // user 60, group "team"
  let other: Api; // user 61
  const mine: string[] = []; // newest first, every asset of user 60
  let shared: { user: string; group: string; anyone: string; hidden: string };

  const create = async (client: Api, body: Record<string, unknown>) => {
    const r = await client.post('/media/upload-url', { filename: 'f', mimeType: 'text/plain', sizeBytes: 3, ...body });
    if (r.status !== 201) throw new Error(r.text);
    await new Promise((res) => setTimeout(res, 3)); // distinct created_at milliseconds, for the range filter
    return r.body.assetId as string;
  };
  const ids = (r: { body: { items: { assetId: string }[] } }) => r.body.items.map((i) => i.assetId);

  beforeAll(async () => {
    app = await startApp();
    me = api(app.baseUrl, 60, { groups: ['team'] });
    other = api(app.baseUrl, 61);
    const created: string[] = [];
    created.push(await create(me, { mimeType: 'image/jpeg', metadata: { project: 'alpha', camera: 'x1' } }));
    created.push(await create(me, { mimeType: 'image/png', metadata: { project: 'alpha', camera: 'x2' } }));
    created.push(await create(me, { mimeType: 'video/mp4', metadata: { project: 'beta', 'note:time': '12:30' } }));
    created.push(await readyAsset(me, 'ready text'));
    created.push(await create(me, { mimeType: 'application/pdf', metadata: { project: 'alpha' } }));
    const doomed = await create(me, { mimeType: 'image/gif', metadata: { project: 'alpha' } });
    expect((await me.del(`/media/${doomed}`)).status).toBe(204); // deleted assets are never listed
    mine.push(...created.reverse());
    shared = {
      user: await create(other, {
        mimeType: 'image/png',
        acl: [{ principal: 'user:60', permission: 'read' }],
        metadata: { project: 'alpha' },
      }),
      group: await create(other, { mimeType: 'audio/mpeg', acl: [{ principal: 'group:team', permission: 'read' }] }),
      anyone: await create(other, { mimeType: 'image/webp', acl: [{ principal: '*', permission: 'read' }] }),
      hidden: await create(other, {
        mimeType: 'image/png',
        acl: [{ principal: 'user:60', permission: 'write' }],
        metadata: { project: 'alpha' },
      }),
    };
  });
  afterAll(() => app?.stop());

  it('lists what the caller can read, newest first: own assets and read grants to its user, groups and *', async () => {
    const r = await me.get('/media');
    expect(r.status).toBe(200);
    expect(ids(r)).toEqual([shared.anyone, shared.group, shared.user, ...mine]);
    expect(r.body.nextCursor).toBeNull();
    const first = r.body.items.find((i: any) => i.assetId === mine[4]);
    expect(first).toMatchObject({ ownerId: '60', mimeType: 'image/jpeg', status: 'pending', metadata: { project: 'alpha', camera: 'x1' } });
    // The other user sees only its own.
    expect(ids(await other.get('/media'))).toEqual([shared.hidden, shared.anyone, shared.group, shared.user]);
    // A third user sees only what "*" grants.
    expect(ids(await api(app.baseUrl, 62).get('/media'))).toEqual([shared.anyone]);
  });

  it('filters by owner, status, mimeType prefix, tags (AND) and creation time', async () => {
    expect(ids(await me.get('/media?owner=60'))).toEqual(mine);
    expect(ids(await me.get('/media?owner=61'))).toEqual([shared.anyone, shared.group, shared.user]);
    expect(ids(await me.get('/media?status=ready'))).toEqual([mine[1]]);
    expect(ids(await me.get('/media?status=pending&owner=60'))).toEqual(mine.filter((id) => id !== mine[1]));
    expect(ids(await me.get('/media?status=ready,failed'))).toEqual([mine[1]]);
    expect(ids(await me.get('/media?status=ready&status=pending&owner=60'))).toEqual(mine);
    expect(ids(await me.get('/media?mimeType=image/'))).toEqual([shared.anyone, shared.user, mine[3], mine[4]]);
    expect(ids(await me.get('/media?mimeType=IMAGE/P'))).toEqual([shared.user, mine[3]]);
    expect(ids(await me.get('/media?mimeType=image/png'))).toEqual([shared.user, mine[3]]);
    expect(ids(await me.get('/media?mimeType=vid'))).toEqual([mine[2]]);
    expect(ids(await me.get('/media?tag=project:alpha'))).toEqual([shared.user, mine[0], mine[3], mine[4]]);
    expect(ids(await me.get('/media?tag=project:alpha&tag=camera:x2'))).toEqual([mine[3]]);
    expect(ids(await me.get('/media?tag=project:alpha&tag=camera:nope'))).toEqual([]);
    expect(ids(await me.get(`/media?tag=${encodeURIComponent('note:time:12:30')}`))).toEqual([mine[2]]); // keys and values may contain ':'
    expect(ids(await me.get('/media?tag=project:alpha&mimeType=image/&owner=60'))).toEqual([mine[3], mine[4]]);
    // Long values (over 512 bytes) are matched exactly too, through the md5 index.
    const long = 'L'.repeat(600);
    await me.put(`/media/${mine[2]}/metadata/long`, { value: long });
    await me.put(`/media/${mine[1]}/metadata/long`, { value: `${long}x` });
    expect(ids(await me.get(`/media?tag=long:${long}`))).toEqual([mine[2]]);

    const all = (await me.get('/media?owner=60')).body.items;
    const from = encodeURIComponent(all[3].createdAt);
    const to = encodeURIComponent(all[1].createdAt);
    expect(ids(await me.get(`/media?owner=60&createdFrom=${from}&createdTo=${to}`))).toEqual([mine[2], mine[3]]);
    expect(ids(await me.get(`/media?owner=60&createdFrom=${encodeURIComponent(all[0].createdAt)}`))).toEqual([mine[0]]);
  });

  it('pages with a cursor that stays stable while assets are inserted between pages', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: any = await me.get(`/media?owner=60&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...ids(r));
      cursor = r.body.nextCursor;
      pages++;
      await create(me, { metadata: { project: 'inserted-between-pages' } }); // newer than every page: never shows up later
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(mine);
    // The new assets are at the front of a fresh first page.
    const fresh = await me.get('/media?owner=60&limit=3');
    expect(fresh.body.items.map((i: any) => i.metadata.project)).toEqual([
      'inserted-between-pages',
      'inserted-between-pages',
      'inserted-between-pages',
    ]);
    // Paging the shared branch together with the owned one gives every readable asset once.
    const everything: string[] = [];
    cursor = null;
    do {
      const r: any = await me.get(`/media?limit=1&mimeType=image/${cursor ? `&cursor=${cursor}` : ''}`);
      everything.push(...ids(r));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(everything).toEqual([shared.anyone, shared.user, mine[3], mine[4]]);
  });

  it('refuses bad parameters with 400 naming them', async () => {
    const cases: [string, RegExp][] = [
      ['limit=1001', /limit must not be greater than 1000/],
      ['limit=0', /limit/],
      ['limit=ten', /limit must be an integer/],
      ['status=deleted', /status must be one of pending, processing, ready, failed, quarantined/],
      ['owner=bob', /owner must be a user id/],
      ['mimeType=%20', /mimeType/],
      ['tag=novalue', /tag "novalue" must be key:value/],
      ['createdFrom=yesterday', /createdFrom must be an ISO 8601 date-time/],
      ['cursor=not-a-cursor', /cursor is not valid/],
      ['sort=name', /property sort should not exist/],
      [Array.from({ length: 11 }, (_, i) => `tag=k:${i}`).join('&'), /at most 10 tag filters/],
    ];
    for (const [query, message] of cases) {
      const r = await me.get(`/media?${query}`);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ statusCode: 400, error: 'ValidationFailed' });
      expect(r.body.message).toMatch(message);
    }
    const page = await me.get('/media?owner=60&limit=1');
    const reused = await me.get(`/media?owner=61&limit=1&cursor=${page.body.nextCursor}`);
    expect(reused.status).toBe(400);
    expect(reused.body.message).toMatch(/cursor belongs to a list with other filters/);
    expect((await me.get('/media?limit=1000')).status).toBe(200);
  });

  it('needs a token', async () => {
    const r = await api(app.baseUrl).get('/media');
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('Unauthenticated');
  });

  it('uploads whose processing finished show their final status in the list', async () => {
    const up = await uploadBytes(me, Buffer.from('to be failed'), { mimeType: 'image/png' });
    await me.post(`/media/${up.assetId}/complete`);
    await eventually(async () => (await me.get(`/media/${up.assetId}`)).body.status === 'failed');
    expect(ids(await me.get('/media?status=failed'))).toEqual([up.assetId]);
  });
});

describe('GET /media?q= through grants (each grant row carries its asset search_text)', () => {
  let app: RunningApp;
  let owner: Api; // user 70
  let reader: Api; // user 71, group "crew"
  let stranger: Api; // user 72
  const names = (r: { body: { items: { filename: string }[] } }) => r.body.items.map((i) => i.filename).sort();
  const create = async (filename: string, acl: { principal: string; permission: string }[]) => {
    const r = await owner.post('/media/upload-url', { filename, mimeType: 'text/plain', sizeBytes: 3, acl });
    if (r.status !== 201) throw new Error(r.text);
    return r.body.assetId as string;
  };

  beforeAll(async () => {
    app = await startApp();
    owner = api(app.baseUrl, 70);
    reader = api(app.baseUrl, 71, { groups: ['crew'] });
    stranger = api(app.baseUrl, 72);
  });
  afterAll(() => app?.stop());

  it('finds what user, group and * grants make readable, each asset once, and follows renames, new grants, revokes and deletes', async () => {
    const north = await create('Atlas North.txt', [{ principal: 'user:71', permission: 'read' }]);
    await create('Atlas South.txt', [
      { principal: 'group:crew', permission: 'read' },
      { principal: '*', permission: 'read' },
      { principal: 'user:71', permission: 'read' },
    ]);
    const east = await create('Atlas East.txt', [{ principal: 'group:crew', permission: 'read' }]);
    await create('Atlas Hidden.txt', [{ principal: 'user:71', permission: 'write' }]);

    expect(names(await reader.get('/media?q=atlas'))).toEqual(['Atlas East.txt', 'Atlas North.txt', 'Atlas South.txt']);
    expect(names(await stranger.get('/media?q=atlas'))).toEqual(['Atlas South.txt']);
    expect(names(await owner.get('/media?q=atlas'))).toHaveLength(4);
    // One page at a time: every readable match exactly once (South is granted through three of the reader's principals).
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await reader.get(`/media?q=atlas&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((i: { filename: string }) => i.filename));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(['Atlas East.txt', 'Atlas North.txt', 'Atlas South.txt']);
    // The default bucket's listing with q: the same visibility, in path order, each asset once, page by page.
    expect(names(await reader.get('/buckets/default/objects?q=atlas'))).toEqual(['Atlas East.txt', 'Atlas North.txt', 'Atlas South.txt']);
    expect(names(await stranger.get('/buckets/default/objects?q=atlas'))).toEqual(['Atlas South.txt']);
    expect(names(await owner.get('/buckets/default/objects?q=atlas'))).toHaveLength(4);
    const listed: { path: string; filename: string }[] = [];
    let key: string | null = null;
    do {
      const page: any = await reader.get(`/buckets/default/objects?q=atlas&limit=1${key ? `&cursor=${key}` : ''}`);
      expect(page.status).toBe(200);
      listed.push(...page.body.items);
      key = page.body.nextCursor;
    } while (key);
    expect(listed.map((i) => i.filename).sort()).toEqual(['Atlas East.txt', 'Atlas North.txt', 'Atlas South.txt']);
    expect(listed.map((i) => i.path)).toEqual(listed.map((i) => i.path).sort());

    // Renamed: found under the new name only, by the grantee too; a grant given afterwards carries the new name.
    const bucket = `srch-${Date.now()}`;
    expect((await owner.post('/buckets', { name: bucket })).status).toBe(201);
    const moved = await owner.post(`/media/${north}/move`, { bucket, path: 'renamed/Globe North.txt' });
    expect(moved.status).toBe(200);
    expect(names(await reader.get('/media?q=globe'))).toEqual(['Atlas North.txt']);
    expect(names(await reader.get('/media?q=atlas'))).toEqual(['Atlas East.txt', 'Atlas North.txt', 'Atlas South.txt']); // filename kept
    expect(names(await reader.get('/media?q=renamed'))).toEqual(['Atlas North.txt']);
    expect(names(await stranger.get('/media?q=renamed'))).toEqual([]);
    expect((await owner.post(`/media/${north}/acl`, { principal: '*', permission: 'read' })).status).toBe(200);
    expect(names(await stranger.get('/media?q=renamed'))).toEqual(['Atlas North.txt']);
    // Revoked, deleted: gone.
    expect((await owner.del(`/media/${north}/acl/*/read`)).status).toBe(204);
    expect(names(await stranger.get('/media?q=renamed'))).toEqual([]);
    expect((await owner.del(`/media/${east}`)).status).toBe(204);
    expect(names(await reader.get('/media?q=atlas'))).toEqual(['Atlas North.txt', 'Atlas South.txt']);
  });

  it('pages exactly through more equally ranked matches than one query fetches', async () => {
    // Same filename, the path a UUID: mostly equal distances, more than the 2 × (limit + 1) + 20 nearest fetched.
    const all: string[] = [];
    for (let i = 0; i < 30; i++) {
      all.push(
        await create('Tied.txt', [
          { principal: '*', permission: 'read' },
          { principal: 'group:crew', permission: 'read' },
        ]),
      );
    }
    const orders: string[][] = [];
    for (const client of [stranger, reader]) {
      const seen: string[] = [];
      orders.push(seen);
      let cursor: string | null = null;
      do {
        const page: any = await client.get(`/media?q=tied&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((i: { assetId: string }) => i.assetId));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toHaveLength(30);
      expect([...seen].sort()).toEqual([...all].sort());
    }
    const first = await reader.get('/media?q=tied&limit=50');
    expect(first.body.items.map((i: { assetId: string }) => i.assetId).sort()).toEqual([...all].sort());
    // Page by page (the ties at each page's distance walked newest first) in the order of the one page ranking all.
    expect(orders).toEqual([
      first.body.items.map((i: { assetId: string }) => i.assetId),
      first.body.items.map((i: { assetId: string }) => i.assetId),
    ]);
  });
});
