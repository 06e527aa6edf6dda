import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { storageOriginGate, StorageOriginSettings } from './local-storage-origin';

const separate: StorageOriginSettings = {
  publicBaseUrl: 'https://media.example.com',
  publicStorageUrl: 'https://storage.example.com',
};

describe('storageOriginGate', () => {
  it('is off when storage is on the service origin (default: PUBLIC_STORAGE_URL = PUBLIC_BASE_URL)', () => {
    expect(storageOriginGate({ ...separate, publicStorageUrl: separate.publicBaseUrl })).toBeNull();
    expect(storageOriginGate({ ...separate, publicStorageUrl: 'https://media.example.com/other/path' })).toBeNull();
    expect(storageOriginGate(separate)).not.toBeNull();
  });

  describe('on its own origin', () => {
    let server: Server;
    let url: string;
    let reached: number;

    beforeAll(async () => {
      const gate = storageOriginGate(separate)!;
      server = createServer((req: IncomingMessage, res: ServerResponse) => {
        // The test sends the host the request is addressed to in x-test-host (fetch does not let it set Host).
        if (gate(req, res, req.headers['x-test-host'] as string | undefined)) return;
        reached++;
        res.writeHead(200, { etag: '"e"' });
        res.end('bytes');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/storage/media/k`;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));
    beforeEach(() => (reached = 0));

    const call = (host: string | undefined, init: RequestInit & { headers?: Record<string, string> } = {}) =>
      fetch(url, { ...init, headers: { ...(host ? { 'x-test-host': host } : {}), ...init.headers } });

    it('refuses a request addressed to any other host with 421, before the handler', async () => {
      for (const host of ['media.example.com', 'storage.example.com.evil', '127.0.0.1:3000', undefined]) {
        const res = await call(host);
        expect(res.status).toBe(421);
        expect(await res.json()).toMatchObject({ statusCode: 421, error: 'MisdirectedRequest' });
      }
      const put = await call('media.example.com', { method: 'PUT', body: 'x'.repeat(1000) });
      expect(put.status).toBe(421);
      expect(reached).toBe(0);
    });

    it('serves the storage host (any case, explicit default port)', async () => {
      for (const host of ['storage.example.com', 'STORAGE.example.com', 'storage.example.com:443']) {
        const res = await call(host, { headers: { origin: 'https://media.example.com' } });
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('bytes');
      }
      expect(reached).toBe(3);
    });
  });
});
