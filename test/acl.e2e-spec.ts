/**
 * Access control end to end against the built service, real PostgreSQL and Redis: every permission path
 * (owner, user grant, group grant, `*`, none) on every asset route, the ACL API, grants at upload time,
 * and revocation taking effect on the very next request.
 */
import { api, Api, uploadBytes } from './support/api';
import { RunningApp, startApp, token } from './support/app-process';
import { NO_SUCH_ASSET, readyAsset } from './support/assets';

describe('access control', () => {
  let app: RunningApp;
  let owner: Api; // user 42
  let reader: Api; // user 43, granted read
  let writer: Api; // user 44, granted read + write
  let groupMember: Api; // user 45 in group "eng", the group granted read + delete
  let stranger: Api; // user 46, no grant
  let anonymous: Api;

  beforeAll(async () => {
    // A long cache TTL: anything that still answers correctly below does so because changes invalidate the cache.
    app = await startApp({ CACHE_TTL_SECONDS: '3600' });
    owner = api(app.baseUrl, 42);
    reader = api(app.baseUrl, 43);
    writer = api(app.baseUrl, 44);
    groupMember = api(app.baseUrl, 45, { groups: ['eng', 'other'] });
    stranger = api(app.baseUrl, 46);
    anonymous = api(app.baseUrl);
  });
  afterAll(() => app?.stop());

  /** Every asset route, as [name, call]. */
  const routes = (c: Api, id: string): [string, () => ReturnType<Api['get']>][] => [
    ['GET asset', () => c.get(`/media/${id}`)],
    ['GET download', () => c.get(`/media/${id}/download`)],
    ['GET metadata', () => c.get(`/media/${id}/metadata`)],
    ['PUT metadata', () => c.put(`/media/${id}/metadata/note`, { value: 'x' })],
    ['DELETE metadata', () => c.del(`/media/${id}/metadata/nothing-here`)],
    ['POST complete', () => c.post(`/media/${id}/complete`)],
    ['GET acl', () => c.get(`/media/${id}/acl`)],
    ['PUT acl', () => c.put(`/media/${id}/acl`, { entries: [] })],
    ['POST acl', () => c.post(`/media/${id}/acl`, { principal: 'user:99', permission: 'read' })],
    ['DELETE acl', () => c.del(`/media/${id}/acl/user:99/read`)],
    ['DELETE asset', () => c.del(`/media/${id}`)],
  ];

  async function statuses(c: Api, id: string, skip: string[] = []): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [name, call] of routes(c, id)) if (!skip.includes(name)) out[name] = (await call()).status;
    return out;
  }

  async function sharedAsset(): Promise<string> {
    const id = await readyAsset(owner, `shared ${Math.random()}`);
    const put = await owner.put(`/media/${id}/acl`, {
      entries: [
        { principal: 'user:43', permission: 'read' },
        { principal: 'user:44', permission: 'read' },
        { principal: 'user:44', permission: 'write' },
        { principal: 'group:eng', permission: 'read' },
        { principal: 'group:eng', permission: 'delete' },
      ],
    });
    expect(put.status).toBe(200);
    return id;
  }

  it('the owner may do everything without any grant', async () => {
    const id = await readyAsset(owner, 'owner only');
    expect(await statuses(owner, id)).toEqual({
      'GET asset': 200,
      'GET download': 302,
      'GET metadata': 200,
      'PUT metadata': 200,
      'DELETE metadata': 404, // no such key: the route was allowed
      'POST complete': 202,
      'GET acl': 200,
      'PUT acl': 200,
      'POST acl': 200,
      'DELETE acl': 204,
      'DELETE asset': 204,
    });
    const gone = await owner.get(`/media/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ statusCode: 404, error: 'AssetNotFound', message: `Asset ${id} was not found` });
  });

  it('a user with read may read but gets 403 on change, delete and the ACL', async () => {
    const id = await sharedAsset();
    expect(await statuses(reader, id)).toEqual({
      'GET asset': 200,
      'GET download': 302,
      'GET metadata': 200,
      'PUT metadata': 403,
      'DELETE metadata': 403,
      'POST complete': 403,
      'GET acl': 403,
      'PUT acl': 403,
      'POST acl': 403,
      'DELETE acl': 403,
      'DELETE asset': 403,
    });
    const r = await reader.put(`/media/${id}/metadata/note`, { value: 'x' });
    expect(r.body).toEqual({ statusCode: 403, error: 'Forbidden', message: expect.stringContaining('"write" permission') });
    expect((await reader.del(`/media/${id}`)).body.message).toMatch(/"delete" permission/);
    expect((await reader.get(`/media/${id}/acl`)).body.message).toMatch(/only its owner/);
  });

  it('a user with write may change metadata and complete, but not delete or change the ACL', async () => {
    const id = await sharedAsset();
    const set = await writer.put(`/media/${id}/metadata/reviewed-by`, { value: 'user 44' });
    expect(set.status).toBe(200);
    expect(set.body.metadata['reviewed-by']).toBe('user 44');
    expect((await owner.get(`/media/${id}`)).body.metadata['reviewed-by']).toBe('user 44');
    expect((await writer.del(`/media/${id}/metadata/reviewed-by`)).status).toBe(204);
    expect((await writer.post(`/media/${id}/complete`)).status).toBe(202);
    expect((await writer.del(`/media/${id}`)).status).toBe(403);
    expect((await writer.post(`/media/${id}/acl`, { principal: 'user:44', permission: 'delete' })).status).toBe(403);
  });

  it('a group grant applies to every member of the group (here: read and delete)', async () => {
    const id = await sharedAsset();
    expect((await groupMember.get(`/media/${id}`)).status).toBe(200);
    expect((await groupMember.put(`/media/${id}/metadata/note`, { value: 'x' })).status).toBe(403);
    expect((await api(app.baseUrl, 47, { groups: ['not-eng'] }).get(`/media/${id}`)).status).toBe(404);
    expect((await groupMember.del(`/media/${id}`)).status).toBe(204);
    expect((await owner.get(`/media/${id}`)).status).toBe(404);
  });

  it('a principal without read gets 404 everywhere, exactly as for an asset that does not exist', async () => {
    const id = await sharedAsset();
    const missing = await statuses(stranger, NO_SUCH_ASSET);
    expect(new Set(Object.values(missing))).toEqual(new Set([404]));
    expect(await statuses(stranger, id)).toEqual(missing);
    const r = await stranger.get(`/media/${id}`);
    expect(r.body).toEqual({ statusCode: 404, error: 'AssetNotFound', message: `Asset ${id} was not found` });
  });

  it('"*" lets anyone read, anonymous callers too; without it anonymous callers get 401; a bad token is always 401', async () => {
    const id = await readyAsset(owner, 'public bytes');
    expect((await anonymous.get(`/media/${id}`)).status).toBe(401);
    expect((await owner.post(`/media/${id}/acl`, { principal: '*', permission: 'read' })).status).toBe(200);

    const got = await anonymous.get(`/media/${id}`);
    expect(got.status).toBe(200);
    expect(got.body.assetId).toBe(id);
    const dl = await anonymous.get(`/media/${id}/download`);
    expect(dl.status).toBe(302);
    expect(await (await fetch(dl.headers.get('location')!)).text()).toBe('public bytes');
    expect((await anonymous.get(`/media/${id}/metadata`)).status).toBe(200);
    expect((await stranger.get(`/media/${id}`)).status).toBe(200);

    // Only read: anonymous callers cannot change anything, strangers get 403.
    expect((await anonymous.put(`/media/${id}/metadata/x`, { value: 'y' })).status).toBe(401);
    expect((await anonymous.del(`/media/${id}`)).status).toBe(401);
    expect((await stranger.del(`/media/${id}`)).status).toBe(403);
    // Anonymous access does not reveal whether a non-public asset exists.
    const privateId = await readyAsset(owner, 'private');
    for (const target of [privateId, NO_SUCH_ASSET]) {
      const r = await anonymous.get(`/media/${target}`);
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('Unauthenticated');
    }
    // A token that is present but bad is a 401 even where anonymous access is allowed.
    for (const t of [token(46, {}, 'some-other-secret-some-other-secret'), 'garbage']) {
      const r = await anonymous.get(`/media/${id}`, { authorization: `Bearer ${t}` });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('Unauthenticated');
    }
    expect((await anonymous.get('/media')).status).toBe(401);

    // Revoking "*" (sent as %2A or as a literal *) takes effect on the next request.
    expect((await owner.del(`/media/${id}/acl/%2A/read`)).status).toBe(204);
    expect((await anonymous.get(`/media/${id}`)).status).toBe(401);
    expect((await stranger.get(`/media/${id}`)).status).toBe(404);
    expect((await owner.post(`/media/${id}/acl`, { principal: '*', permission: 'read' })).status).toBe(200);
    expect((await anonymous.get(`/media/${id}`)).status).toBe(200);
    expect((await owner.del(`/media/${id}/acl/*/read`)).status).toBe(204);
    expect((await anonymous.get(`/media/${id}`)).status).toBe(401);
  });

  it('revoking a grant takes effect on the next request, and stops new download URLs', async () => {
    const id = await readyAsset(owner, 'revocable');
    expect((await reader.get(`/media/${id}`)).status).toBe(404);
    const granted = await owner.post(`/media/${id}/acl`, { principal: 'user:43', permission: 'read' });
    expect(granted.body).toEqual({ assetId: id, ownerId: '42', entries: [{ principal: 'user:43', permission: 'read' }] });
    expect((await reader.get(`/media/${id}`)).status).toBe(200);
    const issued = await reader.get(`/media/${id}/download?redirect=false`);
    expect(issued.status).toBe(200);

    expect((await owner.del(`/media/${id}/acl/user:43/read`)).status).toBe(204);
    expect((await reader.get(`/media/${id}`)).status).toBe(404);
    expect((await reader.get(`/media/${id}/download`)).status).toBe(404);
    expect((await reader.get(`/media/${id}/metadata`)).status).toBe(404);

    // A URL issued before the revocation lives until its own expiry, which cannot be widened.
    expect((await fetch(issued.body.url)).status).toBe(200);
    const widened = new URL(issued.body.url);
    widened.searchParams.set('X-Media-Expires', String(Number(widened.searchParams.get('X-Media-Expires')) + 86400));
    expect((await fetch(widened)).status).toBe(403);

    // Replace: the whole list changes at once.
    await owner.post(`/media/${id}/acl`, { principal: 'user:43', permission: 'read' });
    const replaced = await owner.put(`/media/${id}/acl`, { entries: [{ principal: 'group:eng', permission: 'read' }] });
    expect(replaced.body.entries).toEqual([{ principal: 'group:eng', permission: 'read' }]);
    expect((await reader.get(`/media/${id}`)).status).toBe(404);
    expect((await groupMember.get(`/media/${id}`)).status).toBe(200);
    expect((await owner.put(`/media/${id}/acl`, { entries: [] })).body.entries).toEqual([]);
    expect((await groupMember.get(`/media/${id}`)).status).toBe(404);
  });

  it('takes grants in the upload-url body, in the same transaction as the asset', async () => {
    const res = await owner.post('/media/upload-url', {
      filename: 'shared-at-birth.txt',
      mimeType: 'text/plain',
      sizeBytes: 5,
      acl: [
        { principal: 'user:44', permission: 'read' },
        { principal: 'user:44', permission: 'write' },
      ],
    });
    expect(res.status).toBe(201);
    const id = res.body.assetId;
    expect((await writer.get(`/media/${id}`)).body.status).toBe('pending');
    expect((await owner.get(`/media/${id}/acl`)).body.entries).toHaveLength(2);
    // The grantee with write may upload the bytes' completion for the owner.
    await fetch(res.body.uploadUrl, { method: 'PUT', headers: res.body.headers, body: 'hello' });
    expect((await writer.post(`/media/${id}/complete`)).status).toBe(202);

    const bad = await owner.post('/media/upload-url', {
      filename: 'a.txt',
      mimeType: 'text/plain',
      sizeBytes: 1,
      acl: [{ principal: 'everyone', permission: 'read' }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/acl\[0\]\.principal/);
    const before = await app.sql(`SELECT count(*)::int AS n FROM media_assets`);
    const star = await owner.post('/media/upload-url', {
      filename: 'a.txt',
      mimeType: 'text/plain',
      sizeBytes: 1,
      acl: [{ principal: '*', permission: 'write' }],
    });
    expect(star.status).toBe(400);
    expect(star.body.message).toMatch(/only be granted read/);
    expect(await app.sql(`SELECT count(*)::int AS n FROM media_assets`)).toEqual(before); // refused before anything was written
  });

  it('validates the ACL API with 400s that name what is wrong, and 404 for revoking a grant that is not there', async () => {
    const id = await readyAsset(owner, 'validation');
    const cases: [() => ReturnType<Api['get']>, RegExp][] = [
      [() => owner.post(`/media/${id}/acl`, { principal: 'bob', permission: 'read' }), /principal "bob" is not a principal/],
      [() => owner.post(`/media/${id}/acl`, { principal: 'user:1', permission: 'own' }), /permission must be one of read, write, delete/],
      [() => owner.post(`/media/${id}/acl`, { principal: 'user:1' }), /permission is required/],
      [() => owner.post(`/media/${id}/acl`, { principal: '*', permission: 'delete' }), /only be granted read/],
      [
        () =>
          owner.put(`/media/${id}/acl`, {
            entries: [
              { principal: 'user:1', permission: 'read' },
              { principal: 'group:', permission: 'read' },
            ],
          }),
        /entries\[1\]\.principal/,
      ],
      [() => owner.put(`/media/${id}/acl`, {}), /entries is required/],
      [() => owner.del(`/media/${id}/acl/user:1/everything`), /permission "everything"/],
      [() => owner.get(`/media/not-a-uuid/acl`), /"id" must be a UUID/],
    ];
    for (const [call, message] of cases) {
      const r = await call();
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ statusCode: 400, error: 'ValidationFailed' });
      expect(r.body.message).toMatch(message);
    }
    const none = await owner.del(`/media/${id}/acl/user:43/read`);
    expect(none.status).toBe(404);
    expect(none.body).toEqual({
      statusCode: 404,
      error: 'AclEntryNotFound',
      message: `Asset ${id} has no "read" grant for user:43`,
      details: { principal: 'user:43', permission: 'read' },
    });
    // Granting twice is one grant.
    await owner.post(`/media/${id}/acl`, { principal: 'group:eng', permission: 'read' });
    const twice = await owner.post(`/media/${id}/acl`, { principal: 'group:eng', permission: 'read' });
    expect(twice.body.entries).toEqual([{ principal: 'group:eng', permission: 'read' }]);
  });

  it("complete on someone else's pending upload is refused like any other route", async () => {
    const up = await uploadBytes(owner, Buffer.from('pending'), { mimeType: 'text/plain' });
    expect((await stranger.post(`/media/${up.assetId}/complete`)).status).toBe(404);
    expect((await owner.get(`/media/${up.assetId}`)).body.status).toBe('pending');
  });
});
