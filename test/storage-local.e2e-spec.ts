import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { LocalStorageDriver } from '../libs/storage/src/drivers/local-storage.driver';
import { InvalidPartError } from '../libs/storage/src/storage-driver';
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

/**
 * The local driver's multipart uploads with a declared layout: parts written in place in one data file, assembly a
 * rename (the object is the very file the parts were written into), a part cut off mid-body never listed.
 */
describe('local multipart written in place', () => {
  let root: string;
  let driver: LocalStorageDriver;
  let server: ReturnType<typeof createServer>;
  const partSize = 64 * 1024;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'local-inplace-test-'));
    // eslint-disable-next-line prefer-const -- the server below reads it before it is set
    let handler: ReturnType<typeof createLocalObjectHandler> | undefined;
    server = createServer((req, res) => void handler?.(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    driver = new LocalStorageDriver({
      root,
      bucket: 'b',
      baseUrl: `http://127.0.0.1:${port}`,
      signingSecret: 'inplace-test-secret-0123456789-abcdefghij',
    });
    await driver.init();
    handler = createLocalObjectHandler(driver);
  });

  afterAll(async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
    await rm(root, { recursive: true, force: true });
  });

  const sign = (key: string, uploadId: string, partNumber: number, contentLength: number) =>
    driver.presignUploadPart({ key, uploadId, partNumber, contentLength, expiresInSeconds: 60 });
  /** PUTs the part; while the server still holds the claim of a body it was cut off from (409), again once it let go. */
  const put = async (url: string, body: Buffer) => {
    for (;;) {
      const res = await fetch(url, { method: 'PUT', body });
      const text = await res.text();
      if (res.status !== 409 || !text.includes('UploadInProgress')) return res;
    }
  };
  const writers = (uploadId: string) => readdir(join(root, '.multipart', 'b', uploadId, 'writers')).catch(() => [] as string[]);
  const until = async (probe: () => Promise<boolean>) => {
    const deadline = Date.now() + 10_000;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error('condition not reached within 10 s');
      await new Promise((r) => setImmediate(r));
    }
  };
  /**
   * Sends the signed Content-Length but only `partial` bytes; once the server is writing the part (its writer claim
   * is there), drops the connection, and resolves when the server has let go of it (the claim is gone).
   */
  const cutOff = async (uploadId: string, url: string, length: number, partial: Buffer) => {
    const req = request(url, { method: 'PUT', headers: { 'content-length': String(length) } }, (res) => res.resume());
    req.on('error', () => undefined);
    req.write(partial);
    await until(async () => (await writers(uploadId)).length > 0);
    req.destroy();
    await until(async () => (await writers(uploadId)).length === 0);
  };

  it('writes each part at its offset in one data file, and completes by renaming that file (no second write)', async () => {
    const key = `uploads/7/${randomUUID()}`;
    const size = 2 * partSize + 10;
    const bytes = Buffer.alloc(size, 1);
    bytes.fill(2, partSize, 2 * partSize);
    bytes.fill(3, 2 * partSize);
    const { uploadId } = await driver.createMultipartUpload({ key, contentType: 'application/octet-stream', partSize, size });
    const data = join(root, '.multipart', 'b', uploadId, 'data');
    expect((await stat(data)).size).toBe(size); // sized at creation
    const parts = [];
    for (const n of [3, 1, 2]) {
      const chunk = bytes.subarray((n - 1) * partSize, Math.min(n * partSize, size));
      const res = await put((await sign(key, uploadId, n, chunk.length)).url, chunk);
      expect(res.status).toBe(200);
      parts[n - 1] = { partNumber: n, etag: res.headers.get('etag')! };
    }
    const inode = (await stat(data)).ino;
    const info = await driver.completeMultipartUpload({ key, uploadId, parts });
    expect(info).toMatchObject({ size, etag: expect.stringMatching(/^"[0-9a-f]{32}-3"$/) });
    const placed = await driver.localFilePath({ key });
    expect((await stat(placed!)).ino).toBe(inode);
    expect(Buffer.compare(await readFile(placed!), bytes)).toBe(0);
    expect(await readdir(join(root, '.multipart', 'b'))).not.toContain(uploadId);
  });

  it('part ETags: CRC32 form without Content-MD5, MD5 with it; Content-MD5 and x-amz-checksum-crc32 verified (a mismatch is never listed)', async () => {
    const key = `uploads/7/${randomUUID()}`;
    const size = 2 * partSize;
    const one = Buffer.alloc(partSize, 4);
    const two = Buffer.alloc(partSize, 8);
    const md5 = (b: Buffer) => createHash('md5').update(b);
    const crcHeader = (b: Buffer) => {
      const v = Buffer.alloc(4);
      v.writeUInt32BE(crc32(b));
      return v.toString('base64');
    };
    const putWith = (url: string, body: Buffer, headers: Record<string, string>) => fetch(url, { method: 'PUT', body, headers });
    const { uploadId } = await driver.createMultipartUpload({ key, contentType: 'application/octet-stream', partSize, size });
    const p1 = await sign(key, uploadId, 1, partSize);
    const p2 = await sign(key, uploadId, 2, partSize);
    // No digest sent: the cheap ETag, the same for the same bytes.
    const plain = await put(p1.url, one);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('etag')).toBe(`"crc32-${crc32(one).toString(16).padStart(8, '0')}"`);
    expect((await put(p1.url, one)).headers.get('etag')).toBe(plain.headers.get('etag'));
    // Content-MD5 of other bytes: 400 BadDigest, and the part (re-PUT) is no longer listed.
    const bad = await putWith(p1.url, one, { 'content-md5': md5(two).digest('base64') });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/BadDigest/);
    expect(await driver.listParts({ key, uploadId })).toEqual([]);
    const malformed = await putWith(p1.url, one, { 'content-md5': 'not-an-md5' });
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toMatch(/InvalidDigest/);
    // The right Content-MD5: S3's ETag, the part's MD5.
    const withMd5 = await putWith(p1.url, one, { 'content-md5': md5(one).digest('base64') });
    expect(withMd5.status).toBe(200);
    expect(withMd5.headers.get('etag')).toBe(`"${md5(one).digest('hex')}"`);
    // x-amz-checksum-crc32: verified too.
    const wrongCrc = await putWith(p2.url, two, { 'x-amz-checksum-crc32': crcHeader(one) });
    expect(wrongCrc.status).toBe(400);
    expect(await wrongCrc.text()).toMatch(/BadDigest/);
    const rightCrc = await putWith(p2.url, two, { 'x-amz-checksum-crc32': crcHeader(two) });
    expect(rightCrc.status).toBe(200);
    expect((await driver.listParts({ key, uploadId })).map((p) => [p.partNumber, p.etag])).toEqual([
      [1, withMd5.headers.get('etag')],
      [2, rightCrc.headers.get('etag')],
    ]);
    // The stale cheap ETag of part 1 no longer names what is stored; the current ones complete.
    await expect(
      driver.completeMultipartUpload({
        key,
        uploadId,
        parts: [
          { partNumber: 1, etag: plain.headers.get('etag')! },
          { partNumber: 2, etag: rightCrc.headers.get('etag')! },
        ],
      }),
    ).rejects.toBeInstanceOf(InvalidPartError);
    const info = await driver.completeMultipartUpload({
      key,
      uploadId,
      parts: [
        { partNumber: 1, etag: withMd5.headers.get('etag')! },
        { partNumber: 2, etag: rightCrc.headers.get('etag')! },
      ],
    });
    // S3's multipart form: MD5 over each part's MD5 bytes, or a CRC32 ETag's text.
    const expected = createHash('md5')
      .update(md5(one).digest())
      .update(Buffer.from(rightCrc.headers.get('etag')!.replace(/"/g, ''), 'utf8'))
      .digest('hex');
    expect(info).toMatchObject({ size, etag: `"${expected}-2"` });
    expect(Buffer.compare(await readFile((await driver.localFilePath({ key }))!), Buffer.concat([one, two]))).toBe(0);
  });

  it('never lists a part whose body was cut off (first PUT or re-PUT), refuses another size, and a list without it', async () => {
    const key = `uploads/7/${randomUUID()}`;
    const size = 2 * partSize;
    const { uploadId } = await driver.createMultipartUpload({ key, contentType: 'application/octet-stream', partSize, size });
    const p1 = await sign(key, uploadId, 1, partSize);
    await cutOff(uploadId, p1.url, partSize, Buffer.alloc(partSize / 2, 5));
    expect(await driver.listParts({ key, uploadId })).toEqual([]);
    const first = await put(p1.url, Buffer.alloc(partSize, 5));
    expect(first.status).toBe(200);
    expect((await driver.listParts({ key, uploadId })).map((p) => p.partNumber)).toEqual([1]);
    // A re-PUT cut off: the part is unlisted (its old bytes may be half overwritten), never counted with them.
    await cutOff(uploadId, p1.url, partSize, Buffer.alloc(partSize / 2, 6));
    expect(await driver.listParts({ key, uploadId })).toEqual([]);
    // A part of another size than the layout gives it is refused.
    const wrong = await sign(key, uploadId, 2, partSize - 1);
    expect((await put(wrong.url, Buffer.alloc(partSize - 1))).status).toBe(400);
    const p2 = await put((await sign(key, uploadId, 2, partSize)).url, Buffer.alloc(partSize, 7));
    await expect(
      driver.completeMultipartUpload({ key, uploadId, parts: [{ partNumber: 2, etag: p2.headers.get('etag')! }] }),
    ).rejects.toBeInstanceOf(InvalidPartError);
    // Still completable: part 1 again, whole.
    const again = await put(p1.url, Buffer.alloc(partSize, 6));
    const info = await driver.completeMultipartUpload({
      key,
      uploadId,
      parts: [
        { partNumber: 1, etag: again.headers.get('etag')! },
        { partNumber: 2, etag: p2.headers.get('etag')! },
      ],
    });
    expect(info.size).toBe(size);
    const got = await readFile((await driver.localFilePath({ key }))!);
    expect(Buffer.compare(got, Buffer.concat([Buffer.alloc(partSize, 6), Buffer.alloc(partSize, 7)]))).toBe(0);
  });
});
