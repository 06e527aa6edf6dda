/**
 * WEB_CONCURRENCY=2: the primary prepares the database and runs two worker processes that share the port; the
 * service works through them, and SIGTERM stops the workers and the primary.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { api, uploadBytes } from './support/api';
import { RunningApp, startApp } from './support/app-process';

const childrenOf = (pid: number): number[] =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return (
          Number(
            readFileSync(`/proc/${p}/stat`, 'utf8')
              .replace(/^.*\) /, '')
              .split(' ')[1],
          ) === pid
        );
      } catch {
        return false;
      }
    })
    .map(Number);

describe('WEB_CONCURRENCY (node:cluster workers)', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ WEB_CONCURRENCY: '2' });
  });
  afterAll(() => app?.stop());

  it('serves through two worker processes and stops them all on SIGTERM', async () => {
    const workers = childrenOf(app.pid());
    expect(workers).toHaveLength(2);
    const alice = api(app.baseUrl, 50);
    const bob = api(app.baseUrl, 51);
    const up = await uploadBytes(alice, Buffer.from('served by workers'), { mimeType: 'text/plain' });
    // Grants and revocations are seen on the next request, whichever worker answers it.
    for (let i = 0; i < 3; i++) {
      expect((await alice.post(`/media/${up.assetId}/acl`, { principal: 'user:51', permission: 'read' })).status).toBe(200);
      for (let j = 0; j < 4; j++) expect((await bob.get(`/media/${up.assetId}`)).status).toBe(200);
      expect((await alice.del(`/media/${up.assetId}/acl/user:51/read`)).status).toBe(204);
      for (let j = 0; j < 4; j++) expect((await bob.get(`/media/${up.assetId}`)).status).toBe(404);
    }
    await app.stopProcess('SIGTERM');
    const gone = workers.filter((pid) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    expect(gone).toEqual(workers);
  });
});
