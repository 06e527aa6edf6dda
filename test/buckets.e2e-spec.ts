/**
 * Buckets and paths end to end (issue 17) against the built service, real PostgreSQL and Redis, on both storage
 * drivers: bucket lifecycle and settings, bucket grants and public buckets (anonymous read by path, revoked at
 * once), unique paths under concurrent uploads, ListObjectsV2-style listing with pagination while inserting,
 * move/copy with reference counts, batch delete with mixed permissions, and search by name.
 */
import { api, Api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp, startReplica } from './support/app-process';
import { NO_SUCH_ASSET, readyAsset, userKeys } from './support/assets';
import { s3ServiceEnv, startS3Server } from './support/s3-server';

jest.setTimeout(180_000);

type Driver = 'local' | 's3';

describe.each<Driver>(['local', 's3'])('buckets and paths (%s driver)', (driverKind) => {
  let app: RunningApp;
  let stopS3: (() => Promise<void>) | undefined;
  let alice: Api; // 701, owns the buckets
  let bob: Api; // 702
  let carol: Api; // 703, in group "team"
  let admin: Api;
  let anonymous: Api;
  let n = 0;
  const unique = (p: string) => `${p}-${driverKind}-${++n}`;

  beforeAll(async () => {
    const env: Record<string, string> = { CACHE_TTL_SECONDS: '3600' };
    if (driverKind === 's3') {
      const s3 = await startS3Server({ buckets: ['media-bk'] });
      stopS3 = s3.stop;
      Object.assign(env, s3ServiceEnv(s3, 'media-bk'));
    }
    app = await startApp(env);
    alice = api(app.baseUrl, 701);
    bob = api(app.baseUrl, 702);
    carol = api(app.baseUrl, 703, { groups: ['team'] });
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
    anonymous = api(app.baseUrl);
  });
  afterAll(async () => {
    await app?.stop();
    await stopS3?.();
  });

  async function bucket(opts: Record<string, unknown> = {}, owner = alice): Promise<string> {
    const name = unique('bk');
    const res = await owner.post('/buckets', { name, ...opts });
    expect(res.status).toBe(201);
    return name;
  }

  /** Uploads, completes and waits for ready at (bucket, path). */
  async function readyAt(client: Api, bucketName: string, path: string, body = `bytes of ${path}`, filename = 'f.txt'): Promise<string> {
    const bytes = Buffer.from(body);
    const res = await client.post('/media/upload-url', {
      filename,
      mimeType: 'text/plain',
      sizeBytes: bytes.length,
      bucket: bucketName,
      path,
    });
    expect(res.status).toBe(201);
    const put = await fetch(res.body.uploadUrl, { method: 'PUT', headers: res.body.headers, body: bytes });
    expect(put.status).toBe(200);
    expect((await client.post(`/media/${res.body.assetId}/complete`)).status).toBe(202);
    await eventually(async () => (await client.get(`/media/${res.body.assetId}`)).body?.status === 'ready', 20000, 50);
    return res.body.assetId as string;
  }

  const objectUrl = (b: string, p: string) => `/buckets/${b}/objects/${p.split('/').map(encodeURIComponent).join('/')}`;

  it('bucket lifecycle: create, read, list, change, refuse a non-empty delete, force-delete through the normal path', async () => {
    const name = unique('life');
    expect((await alice.post('/buckets', { name })).body).toMatchObject({ name, ownerId: '701', public: false, allowedMimeTypes: null });
    expect((await bob.post('/buckets', { name })).body).toMatchObject({ statusCode: 409, error: 'BucketExists' });
    for (const bad of ['ab', 'A-upper', 'x'.repeat(64), '-lead', 'trail.', 'a..b', 'has space', 'ünï']) {
      const res = await alice.post('/buckets', { name: bad });
      expect([res.status, res.body.error]).toEqual([400, 'ValidationFailed']);
    }
    expect((await alice.get(`/buckets/${name}`)).body.permissions).toEqual(['read', 'write', 'delete']);
    expect((await bob.get(`/buckets/${name}`)).status).toBe(404);
    expect((await alice.get('/buckets')).body.items.map((b: { name: string }) => b.name)).toContain(name);
    expect((await bob.get('/buckets')).body.items.map((b: { name: string }) => b.name)).not.toContain(name);
    const patched = await alice.raw('PATCH', `/buckets/${name}`, { fileSizeLimit: 1000, allowedMimeTypes: ['text/*'] });
    expect(patched.body).toMatchObject({ fileSizeLimit: 1000, allowedMimeTypes: ['text/*'], public: false });
    expect((await bob.raw('PATCH', `/buckets/${name}`, { public: true })).status).toBe(404);

    const quotaBefore = (await alice.get('/quota')).body.usage;
    const id = await readyAt(alice, name, 'docs/a.txt');
    const other = await readyAsset(bob, `bob's ${Math.random()}`);
    expect((await alice.del(`/buckets/${name}`)).body).toMatchObject({ statusCode: 409, error: 'BucketNotEmpty' });
    expect((await bob.del(`/buckets/${name}?force=true`)).status).toBe(404);
    expect((await alice.del(`/buckets/${name}?force=true`)).status).toBe(204);
    expect((await alice.get(`/media/${id}`)).status).toBe(404);
    expect((await bob.get(`/media/${other}`)).status).toBe(200);
    expect((await alice.get('/quota')).body.usage).toMatchObject({ bytes: quotaBefore.bytes, assets: quotaBefore.assets });
    expect((await alice.get(`/buckets/${name}`)).status).toBe(404);
    // The name is free again.
    expect((await bob.post('/buckets', { name })).status).toBe(201);
    // The default bucket is nobody's to change.
    expect((await alice.raw('PATCH', '/buckets/default', { public: true })).status).toBe(403);
    expect((await admin.del('/buckets/default')).status).toBe(403);
  });

  it("settings are enforced at upload-url: 400 naming the type, 413 naming the bucket's limit; bad paths are 400", async () => {
    const name = await bucket({ allowedMimeTypes: ['image/*', 'application/pdf'], fileSizeLimit: 100 });
    const req = (o: Record<string, unknown>) => alice.post('/media/upload-url', { filename: 'x', sizeBytes: 10, bucket: name, ...o });
    const type = await req({ mimeType: 'text/plain', path: 'a.txt' });
    expect([type.status, type.body.error]).toEqual([400, 'MimeTypeNotAllowed']);
    expect(type.body.message).toContain('text/plain');
    const big = await req({ mimeType: 'image/png', path: 'a.png', sizeBytes: 101 });
    expect([big.status, big.body.error, big.body.details.limit]).toEqual([413, 'PayloadTooLarge', 100]);
    expect(big.body.message).toContain('100 bytes');
    expect((await req({ mimeType: 'image/png', path: 'a.png' })).status).toBe(201);
    expect((await req({ mimeType: 'application/pdf', path: 'b.pdf' })).status).toBe(201);
    for (const path of ['../x', 'a/../b', '/abs', 'nul\u0000x', 'tab\tx', 'a//b', 'dir/', '', 'é'.repeat(513), './x']) {
      const res = await req({ mimeType: 'image/png', path });
      expect([path, res.status, res.body.error]).toEqual([path, 400, 'ValidationFailed']);
    }
    // No write on someone else's bucket; no sight of it at all without a grant.
    expect(
      (await bob.post('/media/upload-url', { filename: 'x', sizeBytes: 1, mimeType: 'image/png', bucket: name, path: 'b' })).status,
    ).toBe(404);
    // NFC: "é" decomposed and composed name the same path.
    const nfd = await req({ mimeType: 'image/png', path: 'cafe\u0301.png' });
    expect(nfd.status).toBe(201);
    const nfc = await req({ mimeType: 'image/png', path: 'caf\u00e9.png' });
    expect([nfc.status, nfc.body.error]).toEqual([409, 'PathTaken']);
    expect((await alice.get(`/media/${nfd.body.assetId}`)).body).toMatchObject({ bucket: name, path: 'caf\u00e9.png' });
  });

  it('assets uploaded without bucket and path land in the default bucket under their id (chosen paths need a bucket)', async () => {
    const up = await uploadBytes(alice, Buffer.from('plain'), { mimeType: 'text/plain' });
    expect((await alice.get(`/media/${up.assetId}`)).body).toMatchObject({ bucket: 'default', path: up.assetId });
    // A path in the shared default bucket could reveal (409) another user's file: refused for everyone.
    for (const body of [{ path: 'x.txt' }, { bucket: 'default', path: 'x.txt' }]) {
      const res = await bob.post('/media/upload-url', { filename: 'x', mimeType: 'text/plain', sizeBytes: 1, ...body });
      expect([res.status, res.body.details?.field ?? res.body.details]).toEqual([400, 'path']);
    }
    expect((await alice.post(`/media/${up.assetId}/move`, { bucket: 'default', path: 'y.txt' })).status).toBe(400);
  });

  it('bucket grants apply to every asset in it; public buckets serve anonymous reads by path, stopped at once', async () => {
    const name = await bucket();
    const id = await readyAt(alice, name, 'pics/cat.txt', 'meow');
    const url = objectUrl(name, 'pics/cat.txt');
    expect((await bob.get(url)).status).toBe(404);
    expect((await bob.get(`/media/${id}`)).status).toBe(404);
    expect((await anonymous.get(url)).status).toBe(401);

    const acl = await alice.put(`/buckets/${name}/acl`, {
      entries: [
        { principal: 'group:team', permission: 'read' },
        { principal: 'user:702', permission: 'write' },
      ],
    });
    expect(acl.status).toBe(200);
    // Bob holds a grant (write) on the bucket: he sees it, but only its owner sees or changes its grants.
    expect((await bob.get(`/buckets/${name}/acl`)).status).toBe(403);
    const viaPath = await carol.get(url);
    expect(viaPath.status).toBe(302);
    expect(await (await fetch(viaPath.headers.get('location')!)).text()).toBe('meow');
    expect((await carol.get(`/media/${id}/download`)).status).toBe(302);
    expect((await carol.del(`/media/${id}`)).status).toBe(403);
    // write without read: still invisible (read is what reveals an asset)
    expect((await bob.get(url)).status).toBe(404);
    const head = await carol.raw('HEAD', url);
    expect(head.status).toBe(302);
    expect(head.text).toBe('');
    // The same object (a signed URL carries its own time, so compare without the query).
    expect(head.headers.get('location')!.split('?')[0]).toBe(viaPath.headers.get('location')!.split('?')[0]);

    expect((await alice.raw('PATCH', `/buckets/${name}`, { public: true })).body.public).toBe(true);
    const anon = await anonymous.get(url);
    expect(anon.status).toBe(302);
    expect(await (await fetch(anon.headers.get('location')!)).text()).toBe('meow');
    expect((await anonymous.get(`/media/${id}/download`)).status).toBe(302);
    expect((await anonymous.get(`/buckets/${name}/objects`)).body.items.map((i: { path: string }) => i.path)).toEqual(['pics/cat.txt']);

    expect((await alice.raw('PATCH', `/buckets/${name}`, { public: false })).body.public).toBe(false);
    expect((await anonymous.get(url)).status).toBe(401);
    expect((await anonymous.get(`/media/${id}/download`)).status).toBe(401);
    expect((await anonymous.get(`/media/${id}`)).status).toBe(401);

    await alice.put(`/buckets/${name}/acl`, { entries: [] });
    expect((await carol.get(url)).status).toBe(404);
    expect((await carol.get(`/media/${id}`)).status).toBe(404);
  });

  it('a live path is unique: of concurrent uploads to one path exactly one wins', async () => {
    const name = await bucket();
    const clients = Array.from({ length: 12 }, (_, i) => (i % 2 ? alice : admin)); // admin may write into any bucket
    const answers = await Promise.all(
      clients.map((c) =>
        c.post('/media/upload-url', { filename: 'x', mimeType: 'text/plain', sizeBytes: 1, bucket: name, path: 'race/one.txt' }),
      ),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const lost = answers.filter((a) => a.status !== 201);
    expect(lost.every((a) => a.status === 409 && a.body.error === 'PathTaken' && a.body.message.includes('race/one.txt'))).toBe(true);
    // Deleting the winner frees the path.
    const won = answers.findIndex((a) => a.status === 201);
    expect((await clients[won].del(`/media/${answers[won].body.assetId}`)).status).toBe(204);
    expect(
      (await alice.post('/media/upload-url', { filename: 'x', mimeType: 'text/plain', sizeBytes: 1, bucket: name, path: 'race/one.txt' }))
        .status,
    ).toBe(201);
  });

  it('lists like ListObjectsV2: folders as common prefixes, path order, a stable cursor while inserting', async () => {
    const name = await bucket();
    const paths = ['a/1.txt', 'a/2.txt', 'a/b/3.txt', 'c.txt', 'd/e/f.txt', 'd/g.txt', 'e.txt'];
    for (const p of paths) {
      const res = await alice.post('/media/upload-url', {
        filename: p.split('/').pop(),
        mimeType: 'text/plain',
        sizeBytes: 1,
        bucket: name,
        path: p,
      });
      expect(res.status).toBe(201);
    }
    const top = (await alice.get(`/buckets/${name}/objects?delimiter=/`)).body;
    expect(top.items.map((i: { path: string }) => i.path)).toEqual(['c.txt', 'e.txt']);
    expect(top.prefixes).toEqual(['a/', 'd/']);
    const a = (await alice.get(`/buckets/${name}/objects?delimiter=/&prefix=a/`)).body;
    expect([a.items.map((i: { path: string }) => i.path), a.prefixes]).toEqual([['a/1.txt', 'a/2.txt'], ['a/b/']]);

    // Paged by 2 with the delimiter: a/, c.txt | d/, e.txt
    const p1 = (await alice.get(`/buckets/${name}/objects?delimiter=/&limit=2`)).body;
    expect([p1.prefixes, p1.items.map((i: { path: string }) => i.path)]).toEqual([['a/'], ['c.txt']]);
    const p2 = (await alice.get(`/buckets/${name}/objects?delimiter=/&limit=2&cursor=${p1.nextCursor}`)).body;
    expect([p2.prefixes, p2.items.map((i: { path: string }) => i.path), p2.nextCursor]).toEqual([['d/'], ['e.txt'], null]);

    // Flat, paged by 2, with inserts between pages: no duplicates, order kept, everything that existed is seen.
    const seen: string[] = [];
    let cursor: string | null = null;
    let inserted = 0;
    do {
      const page: { items: { path: string }[]; nextCursor: string | null } = (
        await alice.get(`/buckets/${name}/objects?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      ).body;
      seen.push(...page.items.map((i) => i.path));
      cursor = page.nextCursor;
      const early = `0-early-${inserted}.txt`;
      const late = `z-late-${inserted++}.txt`;
      for (const p of [early, late]) {
        await alice.post('/media/upload-url', { filename: 'x', mimeType: 'text/plain', sizeBytes: 1, bucket: name, path: p });
      }
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1))).toEqual(seen);
    for (const p of paths) expect(seen).toContain(p);
    expect(seen.some((p) => p.startsWith('z-late-'))).toBe(true);
    expect(seen.some((p) => p.startsWith('0-early-'))).toBe(false);

    // Others see only what they may read; a cursor of other filters is refused.
    expect((await bob.get(`/buckets/${name}/objects`)).status).toBe(404);
    const bad = await alice.get(`/buckets/${name}/objects?prefix=a/&cursor=${p1.nextCursor}`);
    expect([bad.status, bad.body.error]).toEqual([400, 'ValidationFailed']);
  });

  it('move renames without touching bytes; copy shares the stored object (reference count +1), copies metadata, not the ACL', async () => {
    const name = await bucket();
    const target = await bucket();
    const bytes = `unique content ${Math.random()}`;
    const id = await readyAt(alice, name, 'src/orig.txt', bytes);
    await alice.put(`/media/${id}/metadata/topic`, { value: 'cats' });
    await alice.put(`/media/${id}/acl`, { entries: [{ principal: 'user:703', permission: 'read' }] });
    const sha = (await alice.get(`/media/${id}`)).body.checksumSha256;

    const moved = await alice.post(`/media/${id}/move`, { path: 'dst/renamed.txt' });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ assetId: id, bucket: name, path: 'dst/renamed.txt', checksumSha256: sha });
    expect((await alice.get(objectUrl(name, 'src/orig.txt'))).status).toBe(404);
    expect((await alice.get(objectUrl(name, 'dst/renamed.txt'))).status).toBe(302);
    const other = await readyAt(alice, name, 'taken.txt');
    const taken = await alice.post(`/media/${other}/move`, { path: 'dst/renamed.txt' });
    expect([taken.status, taken.body.error]).toEqual([409, 'PathTaken']);

    // Carol may read the source but has no write on the target bucket; then gets it.
    expect((await carol.post(`/media/${id}/copy`, { bucket: target, path: 'c.txt' })).status).toBe(404);
    expect((await carol.post(`/media/${id}/move`, { bucket: target, path: 'c.txt' })).status).toBe(403);
    await alice.put(`/buckets/${target}/acl`, { entries: [{ principal: 'user:703', permission: 'write' }] });
    const copy = await carol.post(`/media/${id}/copy`, { bucket: target, path: 'copies/c.txt' });
    expect(copy.status).toBe(201);
    expect(copy.body).toMatchObject({ ownerId: '703', bucket: target, path: 'copies/c.txt', status: 'ready', checksumSha256: sha });
    expect(userKeys(copy.body.metadata)).toEqual({ topic: 'cats' });
    expect((await carol.get(`/media/${copy.body.assetId}/acl`)).body.entries).toEqual([]);
    const [obj] = await app.sql<{ ref_count: number }>(`SELECT ref_count FROM stored_objects WHERE checksum_sha256 = $1`, [sha]);
    expect(obj.ref_count).toBe(2);

    // Copying into a taken path, or what one cannot read: 409 / 404.
    expect((await carol.post(`/media/${id}/copy`, { bucket: target, path: 'copies/c.txt' })).body.error).toBe('PathTaken');
    expect((await bob.post(`/media/${id}/copy`, { bucket: target, path: 'b.txt' })).status).toBe(404);
    expect((await alice.post(`/media/${NO_SUCH_ASSET}/copy`, { path: 'x' })).status).toBe(404);

    // The source goes, the copy keeps the bytes.
    expect((await alice.del(`/media/${id}`)).status).toBe(204);
    const [after] = await app.sql<{ ref_count: number }>(`SELECT ref_count FROM stored_objects WHERE checksum_sha256 = $1`, [sha]);
    expect(after.ref_count).toBe(1);
    const dl = await carol.get(objectUrl(target, 'copies/c.txt'));
    expect(dl.status).toBe(302);
    expect(await (await fetch(dl.headers.get('location')!)).text()).toBe(bytes);
  });

  it("a copy counts against the caller's quota", async () => {
    const name = await bucket({ public: true });
    const id = await readyAt(alice, name, 'big.txt', 'x'.repeat(100));
    const dave = api(app.baseUrl, 704);
    const daves = await bucket({}, dave);
    expect((await admin.put('/admin/quotas/704', { maxBytes: 50, maxAssets: null })).status).toBe(200);
    const refused = await dave.post(`/media/${id}/copy`, { bucket: daves, path: 'copy.txt' });
    expect([refused.status, refused.body.error]).toEqual([413, 'QuotaBytesExceeded']);
    expect((await admin.put('/admin/quotas/704', { maxBytes: 1000, maxAssets: null })).status).toBe(200);
    expect((await dave.post(`/media/${id}/copy`, { bucket: daves, path: 'copy.txt' })).status).toBe(201);
    expect((await dave.get('/quota')).body.usage).toMatchObject({ bytes: 100, assets: 1 });
  });

  it('batch delete: each entry independent (204/403/404), quota freed', async () => {
    const name = await bucket();
    const mine = await readyAt(alice, name, 'x/1.txt');
    const mine2 = await readyAt(alice, name, 'x/2.txt');
    const bobsReadable = await readyAsset(bob, `b1 ${Math.random()}`);
    await bob.put(`/media/${bobsReadable}/acl`, { entries: [{ principal: 'user:701', permission: 'read' }] });
    const bobsHidden = await readyAsset(bob, `b2 ${Math.random()}`);
    const before = (await alice.get('/quota')).body.usage;
    const res = await alice.post('/media/batch-delete', {
      ids: [mine, bobsReadable, bobsHidden, NO_SUCH_ASSET],
      bucket: name,
      paths: ['x/2.txt', 'x/none.txt'],
    });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { id: mine, status: 204 },
      { id: bobsReadable, status: 403 },
      { id: bobsHidden, status: 404 },
      { id: NO_SUCH_ASSET, status: 404 },
      { path: 'x/2.txt', status: 204 },
      { path: 'x/none.txt', status: 404 },
    ]);
    expect((await alice.get(`/media/${mine2}`)).status).toBe(404);
    expect((await bob.get(`/media/${bobsReadable}`)).status).toBe(200);
    const after = (await alice.get('/quota')).body.usage;
    expect(after.assets).toBe(before.assets - 2);
    const tooMany = await alice.post('/media/batch-delete', { ids: Array.from({ length: 1001 }, () => NO_SUCH_ASSET) });
    expect(tooMany.status).toBe(400);
    expect((await alice.post('/media/batch-delete', {})).status).toBe(400);
  });

  it('finds assets by name: case- and accent-insensitive, ranked by similarity, also in a bucket listing', async () => {
    const searcher = api(app.baseUrl, 777);
    const name = await bucket({}, searcher);
    await readyAt(searcher, name, 'menus/Café Menu.txt', 'a', 'Café Menu.txt');
    await readyAt(searcher, name, 'notes/CAFE.txt', 'b', 'cafe.txt');
    await readyAt(searcher, name, 'other/tea.txt', 'c', 'tea.txt');
    const hits = (await searcher.get('/media?q=cafe')).body.items.map((i: { path: string }) => i.path);
    expect(hits).toEqual(['notes/CAFE.txt', 'menus/Café Menu.txt']);
    expect((await searcher.get(`/media?q=${encodeURIComponent('CAFÉ m')}`)).body.items.map((i: { path: string }) => i.path)).toEqual([
      'menus/Café Menu.txt',
    ]);
    expect((await searcher.get('/media?q=zzz')).body.items).toEqual([]);
    expect((await bob.get('/media?q=cafe')).body.items).toEqual([]);
    const inBucket = (await searcher.get(`/buckets/${name}/objects?q=caf%C3%A9`)).body.items.map((i: { path: string }) => i.path);
    expect(inBucket).toEqual(['menus/Café Menu.txt', 'notes/CAFE.txt']);

    // Assets readable through their bucket are found (and listed) by the grantee, a page at a time, until revoked.
    const paths = (r: { body: { items: { path: string }[] } }) => r.body.items.map((i) => i.path);
    expect(paths(await carol.get('/media?q=cafe'))).toEqual([]);
    expect((await searcher.put(`/buckets/${name}/acl`, { entries: [{ principal: 'group:team', permission: 'read' }] })).status).toBe(200);
    expect(paths(await carol.get('/media?q=cafe'))).toEqual(['notes/CAFE.txt', 'menus/Café Menu.txt']);
    expect(
      paths(await carol.get('/media?limit=1000')).filter((p) => p.startsWith('notes/') || p.startsWith('menus/') || p.startsWith('other/')),
    ).toEqual(['other/tea.txt', 'notes/CAFE.txt', 'menus/Café Menu.txt']);
    const first = await carol.get('/media?q=cafe&limit=1');
    expect(paths(first)).toEqual(['notes/CAFE.txt']);
    const second = await carol.get(`/media?q=cafe&limit=1&cursor=${first.body.nextCursor}`);
    expect(paths(second)).toEqual(['menus/Café Menu.txt']);
    expect(second.body.nextCursor).toBeNull();
    // A moved asset is found under its new name (search_text follows filename and path).
    const tea = (await searcher.get('/media?q=tea')).body.items[0].assetId as string;
    expect((await searcher.post(`/media/${tea}/move`, { path: 'menus/cafe au lait.txt' })).status).toBe(200);
    expect(paths(await searcher.get('/media?q=lait'))).toEqual(['menus/cafe au lait.txt']);
    expect(paths(await carol.get('/media?q=cafe'))).toHaveLength(3);
    expect((await searcher.put(`/buckets/${name}/acl`, { entries: [] })).status).toBe(200);
    expect(paths(await carol.get('/media?q=cafe'))).toEqual([]);
  });

  it('pages a plain list (no q) across own and bucket-readable assets: newest first, each asset once', async () => {
    const pager = api(app.baseUrl, 779, { groups: ['pagers'] });
    const own = await bucket({}, pager);
    const team = await bucket({}, alice);
    const open = await bucket({ public: true }, bob);
    expect((await alice.put(`/buckets/${team}/acl`, { entries: [{ principal: 'group:pagers', permission: 'read' }] })).status).toBe(200);
    const ids: string[] = [];
    // Interleaved in time: every page mixes the branches.
    for (let i = 0; i < 3; i++) {
      ids.push(await readyAt(pager, own, `own/${i}.txt`));
      ids.push(await readyAt(alice, team, `team/${i}.txt`));
      ids.push(await readyAt(bob, open, `open/${i}.txt`));
    }
    type Page = { items: { assetId: string; createdAt: string }[]; nextCursor: string | null };
    const all = (await pager.get('/media?limit=1000')).body as Page;
    const mine = all.items.map((i) => i.assetId).filter((id) => ids.includes(id));
    expect(mine).toEqual([...ids].reverse());
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = (await pager.get(`/media?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
      paged.push(...page.items.map((i) => i.assetId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all.items.map((i) => i.assetId));
    expect(new Set(paged).size).toBe(paged.length);
    // Another owner's bucket assets, filtered by owner, still come through the bucket branch.
    const bobs = ((await pager.get('/media?owner=702&limit=1000')).body as Page).items
      .map((i) => i.assetId)
      .filter((id) => ids.includes(id));
    expect(bobs).toEqual([ids[8], ids[5], ids[2]]);
  });

  if (driverKind === 'local') {
    it('BUCKET_CREATION=admin: only admins create buckets', async () => {
      await app.restart({ BUCKET_CREATION: 'admin' });
      const refused = await alice.post('/buckets', { name: unique('adm') });
      expect([refused.status, refused.body.error]).toEqual([403, 'Forbidden']);
      expect((await admin.post('/buckets', { name: unique('adm') })).status).toBe(201);
    });
  }
});

describe('bucket access cache across two replicas (in-memory, invalidated through Redis pub/sub)', () => {
  let a: RunningApp;
  let b: RunningApp;

  beforeAll(async () => {
    // An hour in memory: only the pub/sub notification can make replica B see a change made through replica A.
    const env = { CACHE_TTL_SECONDS: '3600', CACHE_LOCAL_TTL_MS: '3600000' };
    a = await startApp(env);
    b = await startReplica(a, env);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('a bucket made private or a bucket grant revoked on one replica stops reads on the other at once', async () => {
    const ownerA = api(a.baseUrl, 801);
    const carolB = api(b.baseUrl, 803, { groups: ['crew'] });
    const anonymousB = api(b.baseUrl);
    const name = `bk-two-replicas-${Date.now().toString(36)}`;
    expect((await ownerA.post('/buckets', { name, public: true })).status).toBe(201);
    const up = await ownerA.post('/media/upload-url', {
      filename: 'r.txt',
      mimeType: 'text/plain',
      sizeBytes: 2,
      bucket: name,
      path: 'r.txt',
    });
    expect(up.status).toBe(201);
    expect((await fetch(up.body.uploadUrl, { method: 'PUT', headers: up.body.headers, body: 'hi' })).status).toBe(200);
    expect((await ownerA.post(`/media/${up.body.assetId}/complete`)).status).toBe(202);
    await eventually(async () => (await ownerA.get(`/media/${up.body.assetId}`)).body?.status === 'ready', 20000, 50);
    const url = `/buckets/${name}/objects/r.txt`;

    // B remembers the bucket: a change behind the service's back stays unseen there (the cache is real)...
    expect((await anonymousB.get(url)).status).toBe(302);
    await a.sql(`UPDATE buckets SET public = false WHERE name = $1`, [name]);
    expect((await anonymousB.get(url)).status).toBe(302);
    await a.sql(`UPDATE buckets SET public = true WHERE name = $1`, [name]);

    // ...but a change through replica A reaches B at once.
    expect((await ownerA.raw('PATCH', `/buckets/${name}`, { public: false })).status).toBe(200);
    const privateAt = Date.now();
    await eventually(async () => (await anonymousB.get(url)).status === 401, 2000, 20);
    expect(Date.now() - privateAt).toBeLessThan(2000);
    expect((await anonymousB.get(url)).status).toBe(401);

    expect((await ownerA.put(`/buckets/${name}/acl`, { entries: [{ principal: 'group:crew', permission: 'read' }] })).status).toBe(200);
    await eventually(async () => (await carolB.get(url)).status === 302, 2000, 20);
    expect((await carolB.get(`/media/${up.body.assetId}`)).status).toBe(200);
    expect((await ownerA.put(`/buckets/${name}/acl`, { entries: [] })).status).toBe(200);
    const revokedAt = Date.now();
    await eventually(async () => (await carolB.get(url)).status === 404, 2000, 20);
    expect(Date.now() - revokedAt).toBeLessThan(2000);
    expect((await carolB.get(`/media/${up.body.assetId}`)).status).toBe(404);
  });
});
