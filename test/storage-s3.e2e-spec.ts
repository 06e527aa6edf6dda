import { createHash } from 'node:crypto';
import { createServer, Server } from 'node:http';
import net, { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { S3StorageDriver } from '../libs/storage/src/drivers/s3-storage.driver';
import { StorageUnavailableError } from '../libs/storage/src/storage-driver';
import { s3DriverFor, startS3Server, S3TestServer } from './support/s3-server';
import { describeStorageDriverContract } from './storage-driver.contract';

/**
 * S3StorageDriver against the in-process @20minutes/s3rver emulator (real HTTP on 127.0.0.1, real
 * SigV4 verification). The emulator evaluates no POST policy and verifies no x-amz-checksum-*: the
 * contract asserts those gaps explicitly (see StorageContractOptions), and the signed POST policy
 * document is checked below instead.
 */
jest.setTimeout(30_000);

const BUCKET = 'media-contract';

describeStorageDriverContract(
  's3 (s3rver emulator)',
  async () => {
    const server = await startS3Server({ buckets: [BUCKET] });
    const driver = s3DriverFor(server, BUCKET);
    return {
      driver,
      async teardown() {
        driver.destroy();
        await server.stop();
      },
    };
  },
  { enforcesPostPolicy: false, verifiesChecksum: false, abortsMultipart: false, listsMultipartUploads: false },
);

describe('S3StorageDriver specifics', () => {
  let server: S3TestServer;
  let driver: S3StorageDriver;

  beforeAll(async () => {
    server = await startS3Server({ buckets: [BUCKET], corsOrigins: ['http://127.0.0.1:5173'] });
    driver = s3DriverFor(server, BUCKET);
  });
  afterAll(async () => {
    driver?.destroy();
    await server?.stop();
  });

  it('signs a POST policy with the exact size range, Content-Type, key and bucket', async () => {
    const p = await driver.presignPost({
      key: 'uploads/1/policy-check',
      contentType: 'image/jpeg',
      minBytes: 5,
      maxBytes: 2048,
      expiresInSeconds: 120,
    });
    expect(p.url).toBe(`${server.endpoint}/${BUCKET}`);
    expect(p.fields).toMatchObject({ key: 'uploads/1/policy-check', 'Content-Type': 'image/jpeg', bucket: BUCKET });
    expect(p.fields['X-Amz-Signature']).toMatch(/^[0-9a-f]{64}$/);
    const policy = JSON.parse(Buffer.from(p.fields.Policy, 'base64').toString('utf8'));
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ['content-length-range', 5, 2048],
        ['eq', '$Content-Type', 'image/jpeg'],
        { key: 'uploads/1/policy-check' },
        { bucket: BUCKET },
      ]),
    );
    const expiresIn = Date.parse(policy.expiration) - Date.now();
    expect(expiresIn).toBeGreaterThan(100_000);
    expect(expiresIn).toBeLessThanOrEqual(121_000);
  });

  it('presigned URLs sign content-type and content-length and carry no checksum parameters', async () => {
    const p = await driver.presignPut({ key: 'uploads/1/signed', contentType: 'image/png', contentLength: 3, expiresInSeconds: 60 });
    const q = new URL(p.url).searchParams;
    expect(q.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    expect(q.get('X-Amz-Expires')).toBe('60');
    expect([...q.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);
  });

  it('answers CORS preflight for a browser PUT from an allowed origin, exposing ETag', async () => {
    const p = await driver.presignPut({ key: 'uploads/1/cors', contentType: 'image/png', contentLength: 3, expiresInSeconds: 60 });
    const pre = await fetch(p.url, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://127.0.0.1:5173',
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    expect(pre.status).toBe(200);
    expect(pre.headers.get('access-control-allow-methods')).toContain('PUT');
    const res = await fetch(p.url, { method: 'PUT', headers: { ...p.headers, Origin: 'http://127.0.0.1:5173' }, body: Buffer.from('abc') });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-expose-headers')).toContain('ETag');
    const denied = await fetch(p.url, {
      method: 'OPTIONS',
      headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'PUT' },
    });
    expect(denied.status).toBe(403);
  });

  it('writes an unknown-length stream larger than one part as a multipart upload', async () => {
    const key = 'uploads/1/multipart';
    const chunk = Buffer.alloc(1024 * 1024);
    const hash = createHash('sha256');
    let total = 0;
    async function* generate() {
      for (let i = 0; i < 17; i++) {
        chunk.fill(i);
        hash.update(chunk);
        total += chunk.length;
        yield Buffer.from(chunk);
      }
    }
    const events: string[] = [];
    const unsubscribe = server.onEvent((e) => {
      for (const r of e.Records) if (r.s3.object.key === key) events.push(r.eventName);
    });
    try {
      await driver.write({ key, body: Readable.from(generate()), contentType: 'video/mp4' });
    } finally {
      unsubscribe();
    }
    // Completing a multipart upload is an ObjectCreated:Post on this emulator; a PutObject is :Put.
    expect(events).toEqual(['ObjectCreated:Post']);
    const expected = hash.digest('hex');
    expect(await driver.head(key)).toMatchObject({ size: total, contentType: 'video/mp4' });
    const got = createHash('sha256');
    for await (const c of await driver.read(key)) got.update(c as Buffer);
    expect(got.digest('hex')).toBe(expected);
  });

  describe('checkHealth', () => {
    it('passes against the emulator (HeadBucket, trailing slash stripped)', async () => {
      await expect(driver.checkHealth()).resolves.toBeUndefined();
    });

    it('fails with StorageUnavailableError naming a missing bucket', async () => {
      const other = s3DriverFor(server, 'no-such-bucket');
      try {
        const err = await other.checkHealth().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StorageUnavailableError);
        expect((err as Error).message).toContain('no-such-bucket');
      } finally {
        other.destroy();
      }
    });

    it('fails with StorageUnavailableError once the emulator is stopped, and so do object calls', async () => {
      const own = await startS3Server({ buckets: ['short-lived'] });
      const d = s3DriverFor(own, 'short-lived', { requestTimeoutMs: 1000 });
      try {
        await d.checkHealth();
        await own.stop();
        const started = Date.now();
        await expect(d.checkHealth()).rejects.toBeInstanceOf(StorageUnavailableError);
        await expect(d.head('uploads/1/x')).rejects.toBeInstanceOf(StorageUnavailableError);
        await expect(d.read('uploads/1/x')).rejects.toBeInstanceOf(StorageUnavailableError);
        await expect(d.delete('uploads/1/x')).rejects.toBeInstanceOf(StorageUnavailableError);
        await expect(
          d.write({ key: 'uploads/1/x', body: Readable.from([Buffer.from('abc')]), contentType: 'text/plain', contentLength: 3 }),
        ).rejects.toBeInstanceOf(StorageUnavailableError);
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        d.destroy();
        await own.stop();
      }
    });
  });

  describe('failures of the store', () => {
    let hole: net.Server;
    const sockets = new Set<net.Socket>();
    let errors: Server;

    beforeAll(async () => {
      // Accepts connections and never answers.
      hole = net.createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      // Answers every request 503 with an S3 error body.
      errors = createServer((req, res) => {
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>');
      });
      await Promise.all([
        new Promise<void>((r) => hole.listen(0, '127.0.0.1', r)),
        new Promise<void>((r) => errors.listen(0, '127.0.0.1', r)),
      ]);
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      errors.closeAllConnections();
      await Promise.all([new Promise((r) => hole.close(r)), new Promise((r) => errors.close(r))]);
    });

    const driverAt = (server: net.Server, requestTimeoutMs: number) =>
      s3DriverFor(
        { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        BUCKET,
        { requestTimeoutMs },
      );

    it('bounds a store that never answers by the request timeout', async () => {
      const d = driverAt(hole, 300);
      try {
        let started = Date.now();
        await expect(d.head('uploads/1/x')).rejects.toBeInstanceOf(StorageUnavailableError);
        // 3 attempts × 300 ms plus retry back-off.
        expect(Date.now() - started).toBeLessThan(5_000);
        started = Date.now();
        const err = await d.checkHealth().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StorageUnavailableError);
        expect((err as Error).message).toMatch(/no answer within 300 ms/);
        expect(Date.now() - started).toBeLessThan(2_000);
      } finally {
        d.destroy();
      }
    });

    it('turns 5xx answers into StorageUnavailableError', async () => {
      const d = driverAt(errors, 2000);
      try {
        await expect(d.head('uploads/1/x')).rejects.toBeInstanceOf(StorageUnavailableError);
        await expect(d.read('uploads/1/x')).rejects.toBeInstanceOf(StorageUnavailableError);
        await expect(d.delete('uploads/1/x')).rejects.toBeInstanceOf(StorageUnavailableError);
        await expect(
          d.write({ key: 'uploads/1/x', body: Readable.from([Buffer.from('abc')]), contentType: 'text/plain', contentLength: 3 }),
        ).rejects.toBeInstanceOf(StorageUnavailableError);
        await expect(d.checkHealth()).rejects.toBeInstanceOf(StorageUnavailableError);
      } finally {
        d.destroy();
      }
    });
  });

  /**
   * What the emulator does and does not verify, pinned so that a change in it shows up here rather
   * than as a confusing failure elsewhere. None of these is a property of our driver.
   */
  describe('emulator fidelity (documents the test store, not the driver)', () => {
    it('verifies SigV4 on object requests, including response-* overrides with RFC 3986 characters (patched)', async () => {
      await driver.write({
        key: 'uploads/1/fidelity',
        body: Readable.from([Buffer.from('abc')]),
        contentType: 'text/plain',
        contentLength: 3,
      });
      const url = await driver.presignGet({ key: 'uploads/1/fidelity', expiresInSeconds: 60, downloadFilename: "it's (a)*!.txt" });
      const ok = await fetch(url);
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
      const wrongKey = new URL(url);
      wrongKey.pathname = `/${BUCKET}/uploads/1/other`;
      const bad = await fetch(wrongKey);
      expect(bad.status).toBe(403);
      await bad.arrayBuffer();
    });

    it('does NOT refuse unauthenticated requests (real S3 with a private bucket would: 403)', async () => {
      const res = await fetch(`${server.endpoint}/${BUCKET}/uploads/1/anonymous`, {
        method: 'PUT',
        headers: { 'Content-Type': 'text/plain' },
        body: 'anon',
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      expect((await driver.head('uploads/1/anonymous'))?.size).toBe(4);
    });
  });
});
