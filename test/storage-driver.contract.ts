import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  PresignedPost,
  PresignedPut,
  StorageDriver,
  StorageNotFoundError,
} from '../libs/storage/src/storage-driver';

/**
 * What a backing store really enforces, where it differs between drivers. Each `false` is a known gap
 * of a test store, stated here so the contract asserts what that store really does instead of
 * skipping: the test still fails if the behaviour changes either way.
 */
export interface StorageContractOptions {
  /**
   * Form POST uploads are held to their signed policy (content-length-range, signature).
   * The local driver: yes. Real S3: yes. The s3rver emulator: no (it ignores the policy entirely).
   */
  enforcesPostPolicy?: boolean;
  /**
   * A PUT whose body does not match its (correctly signed) x-amz-checksum-sha256 header is refused.
   * The local driver: yes. Real S3: yes (400 BadDigest). The s3rver emulator: no.
   */
  verifiesChecksum?: boolean;
}

export interface StorageContractSetup {
  driver: StorageDriver;
  teardown(): Promise<void>;
}

const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Changes one character of the URL's signature query parameter (whatever the driver calls it). */
function tamperSignature(url: string): string {
  const u = new URL(url);
  const name = [...u.searchParams.keys()].find((k) => /signature/i.test(k));
  if (!name) throw new Error(`no signature parameter in ${url}`);
  const sig = u.searchParams.get(name)!;
  const last = sig[sig.length - 1];
  const flipped = last === '0' ? '1' : '0';
  u.searchParams.set(name, sig.slice(0, -1) + flipped);
  return u.toString();
}

function put(p: PresignedPut, body: Buffer, headers: Record<string, string> = p.headers): Promise<Response> {
  return fetch(p.url, { method: p.method, headers, body });
}

function postForm(p: PresignedPost, file: Buffer, type: string): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(p.fields)) form.append(k, v);
  // The file must be the last field.
  form.append('file', new Blob([file], { type }), 'upload.bin');
  return fetch(p.url, { method: p.method, body: form });
}

/**
 * The behaviour every StorageDriver must have, run against a real backing store: one fresh
 * setup per file (beforeAll), unique keys per test.
 */
export function describeStorageDriverContract(
  name: string,
  setup: () => Promise<StorageContractSetup>,
  options: StorageContractOptions = {},
): void {
  const { enforcesPostPolicy = true, verifiesChecksum = true } = options;

  describe(`StorageDriver contract: ${name}`, () => {
    let driver: StorageDriver;
    let teardown: (() => Promise<void>) | undefined;
    const run = randomUUID();
    let n = 0;
    const newKey = () => `contract/${run}/obj-${++n}`;

    beforeAll(async () => {
      ({ driver, teardown } = await setup());
    });
    afterAll(async () => {
      await teardown?.();
    });

    describe('server-side operations', () => {
      it('writes a stream of known length, then heads and reads it back', async () => {
        const key = newKey();
        const body = Buffer.from('hello, storage contract');
        await driver.write({ key, body: Readable.from([body]), contentType: 'text/plain', contentLength: body.length });
        const info = await driver.head(key);
        expect(info).toMatchObject({ key, size: body.length, contentType: 'text/plain' });
        expect(info!.etag).toMatch(/^".+"$/);
        // Not toBeInstanceOf(Date): under jest, a Date made by Node core (fs.stat) is from another realm.
        const modified = info!.lastModified?.getTime() ?? NaN;
        expect(Math.abs(Date.now() - modified)).toBeLessThan(10 * 60_000);
        expect(await readAll(await driver.read(key))).toEqual(body);
      });

      it('writes a stream of unknown length in several chunks', async () => {
        const key = newKey();
        const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(3, 2), Buffer.alloc(50_000, 3)];
        await driver.write({ key, body: Readable.from(parts), contentType: 'application/octet-stream' });
        const all = Buffer.concat(parts);
        expect((await driver.head(key))?.size).toBe(all.length);
        expect(sha256Hex(await readAll(await driver.read(key)))).toBe(sha256Hex(all));
      });

      it('overwrites an existing object', async () => {
        const key = newKey();
        await driver.write({ key, body: Readable.from([Buffer.from('first version')]), contentType: 'text/plain', contentLength: 13 });
        await driver.write({ key, body: Readable.from([Buffer.from('v2')]), contentType: 'text/markdown', contentLength: 2 });
        expect(await driver.head(key)).toMatchObject({ size: 2, contentType: 'text/markdown' });
        expect((await readAll(await driver.read(key))).toString()).toBe('v2');
      });

      it('reads an inclusive byte range', async () => {
        const key = newKey();
        const body = Buffer.from('0123456789abcdef');
        await driver.write({ key, body: Readable.from([body]), contentType: 'text/plain', contentLength: body.length });
        expect((await readAll(await driver.read(key, { start: 3, end: 7 }))).toString()).toBe('34567');
        expect((await readAll(await driver.read(key, { start: 0, end: 0 }))).toString()).toBe('0');
        expect((await readAll(await driver.read(key, { start: 15, end: 15 }))).toString()).toBe('f');
      });

      it('deletes, and deleting an absent object succeeds', async () => {
        const key = newKey();
        await driver.write({ key, body: Readable.from([Buffer.from('x')]), contentType: 'text/plain', contentLength: 1 });
        await driver.delete(key);
        expect(await driver.head(key)).toBeNull();
        await expect(driver.read(key)).rejects.toBeInstanceOf(StorageNotFoundError);
        await expect(driver.delete(key)).resolves.toBeUndefined();
        await expect(driver.delete(newKey())).resolves.toBeUndefined();
      });

      it('heads an absent object as null and refuses to read it with StorageNotFoundError', async () => {
        const key = newKey();
        expect(await driver.head(key)).toBeNull();
        const err = await driver.read(key).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StorageNotFoundError);
        expect((err as StorageNotFoundError).key).toBe(key);
      });

      it('passes its health check', async () => {
        await expect(driver.checkHealth()).resolves.toBeUndefined();
      });
    });

    describe('presigned PUT', () => {
      const body = Buffer.from('0123456789'); // 10 bytes

      it('uploads exactly the signed body with the returned headers', async () => {
        const key = newKey();
        const p = await driver.presignPut({ key, contentType: 'text/plain', contentLength: 10, expiresInSeconds: 60 });
        expect(p.method).toBe('PUT');
        expect(p.headers).toEqual({ 'Content-Type': 'text/plain', 'Content-Length': '10' });
        const params = [...new URL(p.url).searchParams.keys()].map((k) => k.toLowerCase());
        expect(params.filter((k) => k.startsWith('x-amz-checksum') || k === 'x-amz-sdk-checksum-algorithm')).toEqual([]);
        const res = await put(p, body);
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        expect(await driver.head(key)).toMatchObject({ size: 10, contentType: 'text/plain' });
        expect(await readAll(await driver.read(key))).toEqual(body);
      });

      it('refuses an expired URL with 403', async () => {
        const key = newKey();
        const p = await driver.presignPut({ key, contentType: 'text/plain', contentLength: 10, expiresInSeconds: 1 });
        await sleep(2200);
        const res = await put(p, body);
        expect(res.status).toBe(403);
        await res.arrayBuffer();
        expect(await driver.head(key)).toBeNull();
      });

      it('refuses a tampered signature with 403', async () => {
        const key = newKey();
        const p = await driver.presignPut({ key, contentType: 'text/plain', contentLength: 10, expiresInSeconds: 60 });
        const res = await put({ ...p, url: tamperSignature(p.url) }, body);
        expect(res.status).toBe(403);
        await res.arrayBuffer();
        expect(await driver.head(key)).toBeNull();
      });

      it('refuses another Content-Type with 403', async () => {
        const key = newKey();
        const p = await driver.presignPut({ key, contentType: 'image/png', contentLength: 10, expiresInSeconds: 60 });
        const res = await put(p, body, { ...p.headers, 'Content-Type': 'text/html' });
        expect(res.status).toBe(403);
        await res.arrayBuffer();
        expect(await driver.head(key)).toBeNull();
      });

      it('refuses a body of another size (4xx) and stores nothing', async () => {
        const key = newKey();
        const p = await driver.presignPut({ key, contentType: 'text/plain', contentLength: 10, expiresInSeconds: 60 });
        const res = await put(p, Buffer.from('0123456789X'), { ...p.headers, 'Content-Length': '11' });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
        expect(await driver.head(key)).toBeNull();
      });

      it('binds a declared checksum: the right header uploads, a changed header gets 403', async () => {
        const key = newKey();
        const checksumSha256 = sha256Hex(body);
        const p = await driver.presignPut({ key, contentType: 'text/plain', contentLength: 10, checksumSha256, expiresInSeconds: 60 });
        expect(p.headers).toEqual({
          'Content-Type': 'text/plain',
          'Content-Length': '10',
          'x-amz-checksum-sha256': Buffer.from(checksumSha256, 'hex').toString('base64'),
        });
        // The checksum travels as a header, not in the URL.
        expect([...new URL(p.url).searchParams.keys()].map((k) => k.toLowerCase())).not.toContain('x-amz-checksum-sha256');

        const other = Buffer.from('abcdefghij');
        const changed = await put(p, other, {
          ...p.headers,
          'x-amz-checksum-sha256': createHash('sha256').update(other).digest('base64'),
        });
        expect(changed.status).toBe(403);
        await changed.arrayBuffer();
        expect(await driver.head(key)).toBeNull();

        const ok = await put(p, body);
        expect(ok.status).toBe(200);
        await ok.arrayBuffer();
        expect(await readAll(await driver.read(key))).toEqual(body);
      });

      it(
        verifiesChecksum
          ? 'refuses a body that does not match the declared checksum (4xx)'
          : 'KNOWN GAP of this store: stores a body that does not match the declared checksum',
        async () => {
          const key = newKey();
          const p = await driver.presignPut({
            key,
            contentType: 'text/plain',
            contentLength: 10,
            checksumSha256: sha256Hex(body),
            expiresInSeconds: 60,
          });
          const res = await put(p, Buffer.from('abcdefghij'));
          await res.arrayBuffer();
          if (verifiesChecksum) {
            expect(res.status).toBeGreaterThanOrEqual(400);
            expect(res.status).toBeLessThan(500);
            expect(await driver.head(key)).toBeNull();
          } else {
            // Real S3 answers 400 BadDigest here; this test store does not check x-amz-checksum-*
            // against the body. Asserted so that a store that starts checking fails this test and
            // the option gets flipped.
            expect(res.status).toBe(200);
            expect((await readAll(await driver.read(key))).toString()).toBe('abcdefghij');
          }
        },
      );
    });

    describe('presigned GET', () => {
      const body = Buffer.from('The quick brown fox jumps over the lazy dog');
      const filename = "Été (1) l'an*!.txt";
      let key: string;
      let etag: string | undefined;

      beforeAll(async () => {
        key = newKey();
        await driver.write({ key, body: Readable.from([body]), contentType: 'text/plain', contentLength: body.length });
        etag = (await driver.head(key))?.etag;
      });

      it('serves a Range with 206, the right bytes, an ETag and the download filename', async () => {
        const url = await driver.presignGet({ key, expiresInSeconds: 60, downloadFilename: filename, contentType: 'text/x-test' });
        const res = await fetch(url, { headers: { Range: 'bytes=4-8' } });
        expect(res.status).toBe(206);
        expect(await res.text()).toBe('quick');
        expect(res.headers.get('content-range')).toBe(`bytes 4-8/${body.length}`);
        expect(res.headers.get('etag')).toBeTruthy();
        expect(res.headers.get('etag')).toBe(etag);
        expect(res.headers.get('content-type')).toBe('text/x-test');
        const cd = res.headers.get('content-disposition') ?? '';
        expect(cd).toMatch(/^attachment;/);
        expect(cd).toContain(`filename*=UTF-8''${encodeURIComponent(filename).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}`);
        expect(cd).toMatch(/filename="[^"]*\.txt"/);
      });

      it('serves the whole object with 200', async () => {
        const url = await driver.presignGet({ key, expiresInSeconds: 60 });
        const res = await fetch(url);
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer())).toEqual(body);
        expect(res.headers.get('etag')).toBe(etag);
      });

      it('refuses a tampered signature with 403', async () => {
        const url = await driver.presignGet({ key, expiresInSeconds: 60 });
        const res = await fetch(tamperSignature(url));
        expect(res.status).toBe(403);
        await res.arrayBuffer();
      });
    });

    describe('presigned POST (browser form upload)', () => {
      const type = 'image/png';

      it('stores a form upload within the size range', async () => {
        const key = newKey();
        const p = await driver.presignPost({ key, contentType: type, minBytes: 1, maxBytes: 100, expiresInSeconds: 60 });
        expect(p.method).toBe('POST');
        expect(p.fields['Content-Type']).toBe(type);
        const file = Buffer.alloc(100, 7);
        const res = await postForm(p, file, type);
        expect(res.status).toBeGreaterThanOrEqual(200);
        expect(res.status).toBeLessThan(300);
        await res.arrayBuffer();
        expect(await driver.head(key)).toMatchObject({ size: 100, contentType: type });
        expect(await readAll(await driver.read(key))).toEqual(file);
      });

      if (enforcesPostPolicy) {
        it('refuses (4xx) a form upload above maxBytes and stores nothing', async () => {
          const key = newKey();
          const p = await driver.presignPost({ key, contentType: type, minBytes: 1, maxBytes: 100, expiresInSeconds: 60 });
          const res = await postForm(p, Buffer.alloc(101, 7), type);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          await res.arrayBuffer();
          expect(await driver.head(key)).toBeNull();
        });

        it('refuses (403) a form whose Content-Type field was changed', async () => {
          const key = newKey();
          const p = await driver.presignPost({ key, contentType: type, minBytes: 1, maxBytes: 100, expiresInSeconds: 60 });
          const res = await postForm({ ...p, fields: { ...p.fields, 'Content-Type': 'text/html' } }, Buffer.alloc(10), 'text/html');
          expect(res.status).toBe(403);
          await res.arrayBuffer();
          expect(await driver.head(key)).toBeNull();
        });
      } else {
        it('KNOWN GAP of this store: stores a form upload above maxBytes (the policy is not evaluated)', async () => {
          // Real S3 answers 400 EntityTooLarge here. This test store ignores the POST policy, so
          // the size limit is NOT tested against it; the policy document the driver signs is
          // checked separately by the driver's own spec. Asserted so that a store that starts
          // enforcing fails this test and the option gets flipped.
          const key = newKey();
          const p = await driver.presignPost({ key, contentType: type, minBytes: 1, maxBytes: 100, expiresInSeconds: 60 });
          const res = await postForm(p, Buffer.alloc(101, 7), type);
          await res.arrayBuffer();
          expect(res.status).toBeGreaterThanOrEqual(200);
          expect(res.status).toBeLessThan(300);
          expect((await driver.head(key))?.size).toBe(101);
        });
      }
    });
  });
}
