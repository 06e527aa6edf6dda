/**
 * "Someone else's asset" and "no such asset" must not be told apart: both are 404 with the same body, and both are
 * answered from the asset cache once looked up, since "no such asset" is remembered too (briefly). The database is
 * observed not to be asked through the cache counters (GET /admin/cache/stats: a lookup answered by the cache
 * counts a hit, one that needed PostgreSQL a miss). Production mode.
 */
import { randomUUID } from 'node:crypto';
import { api, Api, uploadBytes } from './support/api';
import { RunningApp, startApp } from './support/app-process';

describe('negative lookups of the asset cache', () => {
  let app: RunningApp;
  let owner: Api;
  let stranger: Api;
  let admin: Api;
  const stats = async () => (await admin.get('/admin/cache/stats')).body as { hits: number; misses: number; fills: number };

  beforeAll(async () => {
    app = await startApp({ NODE_ENV: 'production', METRICS_TOKEN: 'negative-cache-metrics-token-0123' });
    owner = api(app.baseUrl, 61);
    stranger = api(app.baseUrl, 62);
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
  });
  afterAll(() => app?.stop());

  it("answers another user's asset and a missing one with the same 404", async () => {
    const { assetId } = await uploadBytes(owner, Buffer.from('mine'), { mimeType: 'text/plain' });
    const missing = randomUUID();
    const other = await stranger.get(`/media/${assetId}`);
    const none = await stranger.get(`/media/${missing}`);
    expect(other.status).toBe(404);
    expect(none.status).toBe(404);
    expect({ ...other.body, message: other.body.message.replace(assetId, '<id>') }).toEqual({
      ...none.body,
      message: none.body.message.replace(missing, '<id>'),
    });
  });

  it('asks the database once about an asset that does not exist, then answers from the cache', async () => {
    const missing = randomUUID();
    const before = await stats();
    expect((await stranger.get(`/media/${missing}`)).status).toBe(404); // looked up in PostgreSQL, remembered
    const first = await stats();
    expect(first.misses).toBeGreaterThan(before.misses);
    expect(first.fills).toBeGreaterThan(before.fills);
    for (let i = 0; i < 3; i++) expect((await stranger.get(`/media/${missing}`)).status).toBe(404);
    const after = await stats();
    expect(after.misses).toBe(first.misses);
    expect(after.hits).toBeGreaterThanOrEqual(first.hits + 3);
    // The same answer whoever asks.
    expect((await owner.get(`/media/${missing}`)).status).toBe(404);
  });

  it('finds a new upload at once, and a deleted asset is gone at once', async () => {
    // Ids are made by the service at creation, so a new upload was never looked up before: it is found at once.
    const { assetId } = await uploadBytes(owner, Buffer.from('fresh'), { mimeType: 'text/plain' });
    expect((await owner.get(`/media/${assetId}`)).status).toBe(200);
    // A deleted asset answers 404 to everyone at once (its entry is invalidated, not left to expire).
    expect((await owner.del(`/media/${assetId}`)).status).toBe(204);
    expect((await owner.get(`/media/${assetId}`)).status).toBe(404);
  });
});
