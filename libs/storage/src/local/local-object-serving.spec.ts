import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalStorageDriver } from '../drivers/local-storage.driver';
import { createLocalObjectHandler, sandboxedPolicy } from './local-object.http-handler';

const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|%E2%80%8[EF]|%E2%80%A[A-E]|%E2%81%A[6-9]|%D8%9C/i;

describe('sandboxedPolicy', () => {
  it('puts sandbox first and keeps the directives already set', () => {
    expect(sandboxedPolicy(undefined)).toBe('sandbox');
    expect(sandboxedPolicy("default-src 'self'; frame-ancestors 'self'")).toBe("sandbox; default-src 'self'; frame-ancestors 'self'");
    // A weaker sandbox set before (allow-scripts) is replaced, not kept beside it.
    expect(sandboxedPolicy("sandbox allow-scripts; img-src 'self'")).toBe("sandbox; img-src 'self'");
    expect(sandboxedPolicy(['a-src x', 'b-src y'])).toBe('sandbox; a-src x; b-src y');
  });
});

describe('local object downloads', () => {
  let root: string;
  let driver: LocalStorageDriver;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'local-serving-'));
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    driver = new LocalStorageDriver({ root, bucket: 'media', baseUrl: base, signingSecret: 's'.repeat(32) });
    await driver.init();
    const handle = createLocalObjectHandler(driver);
    server.on('request', (req, res) => void handle(req, res));
    const put = (key: string, body: string, contentType: string) =>
      driver.write({ key, body: Readable.from([Buffer.from(body)]), contentType, contentLength: Buffer.byteLength(body) });
    await put('a/page.html', '<script>alert(document.domain)</script>', 'text/plain');
    await put('a/img.png', 'not really a png', 'image/png');
    await put('a/doc.pdf', '%PDF-1.4 fake', 'application/pdf');
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });

  const signed = (key: string, filename?: string, contentType?: string) =>
    driver.presignGet({ key, expiresInSeconds: 60, downloadFilename: filename, contentType });

  const expectSandboxed = (res: Response) => {
    expect(res.headers.get('content-security-policy')).toBe('sandbox');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  };

  it('sends CSP sandbox and nosniff with every object, whatever its type, with or without a filename', async () => {
    for (const [key, type] of [
      ['a/page.html', 'text/plain'],
      ['a/img.png', 'image/png'],
      ['a/doc.pdf', 'application/pdf'],
    ]) {
      for (const filename of ['x.bin', undefined]) {
        const res = await fetch(await signed(key, filename));
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe(type);
        expectSandboxed(res);
        expect(res.headers.get('content-disposition')).toBe(filename ? `attachment; filename="x.bin"; filename*=UTF-8''x.bin` : null);
        await res.arrayBuffer();
      }
    }
  });

  it('sends them with HEAD, 206, 304, 416 and error answers too', async () => {
    const url = await signed('a/doc.pdf', 'doc.pdf');
    const head = await fetch(url, { method: 'HEAD' });
    expectSandboxed(head);
    const partial = await fetch(url, { headers: { range: 'bytes=0-3' } });
    expect(partial.status).toBe(206);
    expectSandboxed(partial);
    await partial.arrayBuffer();
    const notModified = await fetch(url, { headers: { 'if-none-match': head.headers.get('etag')! } });
    expect(notModified.status).toBe(304);
    expectSandboxed(notModified);
    const unsatisfiable = await fetch(url, { headers: { range: 'bytes=999-' } });
    expect(unsatisfiable.status).toBe(416);
    expectSandboxed(unsatisfiable);
    await unsatisfiable.arrayBuffer();
    const tampered = await fetch(url.replace('X-Media-Signature=', 'X-Media-Signature=0'));
    expect(tampered.status).toBe(403);
    expectSandboxed(tampered);
    await tampered.arrayBuffer();
    const missing = await fetch(await signed('a/none.pdf', 'none.pdf'));
    expect(missing.status).toBe(404);
    expectSandboxed(missing);
    await missing.arrayBuffer();
  });

  it("serves the signed Last-Modified (the asset's own date) instead of the file's, in 200, 304 and If-Range", async () => {
    const own = new Date('2030-06-01T12:00:00Z');
    const url = await driver.presignGet({ key: 'a/doc.pdf', expiresInSeconds: 60, lastModified: own });
    const res = await fetch(url);
    expect(res.headers.get('last-modified')).toBe(own.toUTCString());
    await res.arrayBuffer();
    const unchanged = await fetch(url, { headers: { 'if-modified-since': own.toUTCString() } });
    expect(unchanged.status).toBe(304);
    expect(unchanged.headers.get('last-modified')).toBe(own.toUTCString());
    // The file's own (older) date no longer answers If-Modified-Since, nor If-Range.
    const fileDate = (await driver.head('a/doc.pdf'))!.lastModified!;
    expect((await fetch(url, { headers: { 'if-modified-since': new Date(own.getTime() - 1000).toUTCString() } })).status).toBe(200);
    const ranged = await fetch(url, { headers: { range: 'bytes=0-3', 'if-range': fileDate.toUTCString() } });
    expect(ranged.status).toBe(200);
    await ranged.arrayBuffer();
    const ownRange = await fetch(url, { headers: { range: 'bytes=0-3', 'if-range': own.toUTCString() } });
    expect(ownRange.status).toBe(206);
    await ownRange.arrayBuffer();
    // The date is signed: changing it breaks the signature.
    const forged = await fetch(url.replace(/X-Media-Modified=\d+/, 'X-Media-Modified=1'));
    expect(forged.status).toBe(403);
    await forged.arrayBuffer();
  });

  it('serves a filename with bidirectional controls without them', async () => {
    const res = await fetch(await signed('a/doc.pdf', 'invoice\u202Efdp.exe'));
    expect(res.status).toBe(200);
    const cd = res.headers.get('content-disposition')!;
    expect(cd).toBe(`attachment; filename="invoicefdp.exe"; filename*=UTF-8''invoicefdp.exe`);
    expect(cd).not.toMatch(BIDI);
    await res.arrayBuffer();
  });
});
