import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStorageDriver } from '../libs/storage/src/drivers/local-storage.driver';
import { createLocalObjectHandler } from '../libs/storage/src/local/local-object.http-handler';
import { describeStorageDriverContract } from './storage-driver.contract';

/**
 * LocalStorageDriver with its signed-URL HTTP handler served by a plain node server on 127.0.0.1
 * (ephemeral port), over a fresh temporary root. It enforces everything the contract asks,
 * including the POST policy and the declared checksum.
 */
jest.setTimeout(30_000);

describeStorageDriverContract('local (filesystem + signed-URL handler)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'local-storage-test-'));
  // eslint-disable-next-line prefer-const -- the server below reads it before it is set (and answers 503 until then)
  let handler: ReturnType<typeof createLocalObjectHandler> | undefined;
  const server = createServer((req, res) => {
    if (!handler) {
      res.writeHead(503).end();
      return;
    }
    void handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const driver = new LocalStorageDriver({
    root,
    bucket: 'media-contract',
    baseUrl: `http://127.0.0.1:${port}`,
    signingSecret: 'contract-test-secret-0123456789-abcdefghij',
  });
  await driver.init();
  handler = createLocalObjectHandler(driver);
  return {
    driver,
    async teardown() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
      await rm(root, { recursive: true, force: true });
    },
  };
});
