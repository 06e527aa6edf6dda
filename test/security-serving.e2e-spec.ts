/**
 * How stored objects are served, against the real built service:
 * - a filename with bidirectional controls ("invoice<U+202E>fdp.exe", shown as "invoiceexe.pdf") reaches no
 *   Content-Disposition with them: the local driver's answer, and the S3 presigned GET's
 *   response-content-disposition (the emulator answers with it);
 * - every local download answer carries `Content-Security-Policy: sandbox` and nosniff, whatever the type;
 * - PUBLIC_STORAGE_URL on another origin (http://localhost:<port> while PUBLIC_BASE_URL is http://127.0.0.1:<port>:
 *   one process, two names): grants and download redirects point at it, upload → complete → download works through
 *   it (single PUT and a multipart part), a signed URL with its host swapped back to the API's is refused, and the
 *   upload page (Chromium) uploads through it cross-origin under its CSP.
 */
import { Browser } from 'playwright-core';
import { api, Api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp, token } from './support/app-process';
import { launchChromium } from './support/browser';
import { jpegWithExif, png } from './support/media-fixtures';
import { s3ServiceEnv, S3TestServer, startS3Server } from './support/s3-server';

const SPOOFED = 'invoice\u202Efdp.exe';
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|%E2%80%8[EF]|%E2%80%A[A-E]|%E2%81%A[6-9]|%D8%9C/i;
const MINIMAL_PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n' + 'trailer<</Root 1 0 R>>\n%%EOF\n',
);

/** Upload, complete, and wait until processing settled; returns the asset id and its final status. */
async function uploadAndSettle(client: Api, bytes: Buffer, filename: string, mimeType: string) {
  const up = await uploadBytes(client, bytes, { filename, mimeType });
  expect(up.putStatus).toBe(200);
  expect((await client.post(`/media/${up.assetId}/complete`)).status).toBe(202);
  const status = await eventually(async () => {
    const s = (await client.get(`/media/${up.assetId}`)).body?.status as string | undefined;
    return s && s !== 'pending' && s !== 'processing' ? s : undefined;
  }, 30_000);
  return { assetId: up.assetId, status, grant: up.grant as { uploadUrl: string } };
}

/** The signed URL GET /media/{id}/download redirects to. */
async function downloadLocation(client: Api, assetId: string): Promise<string> {
  const dl = await client.get(`/media/${assetId}/download`);
  expect(dl.status).toBe(302);
  return dl.headers.get('location')!;
}

function expectSandboxed(res: Response) {
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp.split(';').map((d) => d.trim())).toContain('sandbox');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
}

describe('serving objects (local driver, service origin)', () => {
  let app: RunningApp;
  let alice: Api;

  beforeAll(async () => {
    app = await startApp();
    alice = api(app.baseUrl, 71);
  });
  afterAll(() => app?.stop());

  it('serves a filename with a right-to-left override without any bidirectional control', async () => {
    const { assetId, status } = await uploadAndSettle(alice, Buffer.from('not an executable'), SPOOFED, 'text/plain');
    expect(status).toBe('ready');
    const res = await fetch(await downloadLocation(alice, assetId));
    expect(res.status).toBe(200);
    const cd = res.headers.get('content-disposition')!;
    expect(cd).toBe(`attachment; filename="invoicefdp.exe"; filename*=UTF-8''invoicefdp.exe`);
    expect(cd).not.toMatch(BIDI);
    expectSandboxed(res);
    expect(await res.text()).toBe('not an executable');
    // The redirect=false form gives the same signed URL.
    const json = await alice.get(`/media/${assetId}/download?redirect=false`);
    const again = await fetch(json.body.url);
    expect(again.headers.get('content-disposition')).toBe(cd);
    await again.arrayBuffer();
  });

  it('sends Content-Security-Policy: sandbox and nosniff with every download: image, HTML declared as text, PDF', async () => {
    const cases = [
      { bytes: await png(8, 8), name: 'pixel.png', type: 'image/png' },
      { bytes: Buffer.from('<!doctype html><script>alert(document.domain)</script>'), name: 'page.txt', type: 'text/plain' },
      { bytes: MINIMAL_PDF, name: 'doc.pdf', type: 'application/pdf' },
    ];
    for (const c of cases) {
      const { assetId, status } = await uploadAndSettle(alice, c.bytes, c.name, c.type);
      expect({ name: c.name, status }).toEqual({ name: c.name, status: 'ready' });
      const url = await downloadLocation(alice, assetId);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(c.type);
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; /);
      expectSandboxed(res);
      expect(Buffer.from(await res.arrayBuffer()).equals(c.bytes)).toBe(true);
      const head = await fetch(url, { method: 'HEAD' });
      expectSandboxed(head);
      const partial = await fetch(url, { headers: { range: 'bytes=0-1' } });
      expect(partial.status).toBe(206);
      expectSandboxed(partial);
      await partial.arrayBuffer();
      const cached = await fetch(url, { headers: { 'if-none-match': res.headers.get('etag')! } });
      expect(cached.status).toBe(304);
      expectSandboxed(cached);
      const tampered = await fetch(url.replace(/X-Media-Expires=\d+/, 'X-Media-Expires=4102444800'));
      expect(tampered.status).toBe(403);
      expectSandboxed(tampered);
      await tampered.arrayBuffer();
    }
  });
});

describe('serving objects (S3 presigned GET)', () => {
  let s3: S3TestServer;
  let app: RunningApp;
  let alice: Api;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['media-serving'] });
    app = await startApp(s3ServiceEnv(s3, 'media-serving'));
    alice = api(app.baseUrl, 72);
  });
  afterAll(async () => {
    await app?.stop();
    await s3?.stop();
  });

  it('signs a response-content-disposition without bidirectional controls, and S3 answers with it', async () => {
    const { assetId, status } = await uploadAndSettle(alice, Buffer.from('s3 bytes'), SPOOFED, 'text/plain');
    expect(status).toBe('ready');
    const url = new URL(await downloadLocation(alice, assetId));
    expect(url.origin).toBe(s3.endpoint);
    const signed = url.searchParams.get('response-content-disposition')!;
    expect(signed).toBe(`attachment; filename="invoicefdp.exe"; filename*=UTF-8''invoicefdp.exe`);
    expect(url.search).not.toMatch(BIDI);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(signed);
    expect(await res.text()).toBe('s3 bytes');
  });
});

describe('PUBLIC_STORAGE_URL on its own origin', () => {
  let app: RunningApp;
  let alice: Api;
  let storageUrl: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    app = await startApp({ MULTIPART_MIN_PART_SIZE_BYTES: String(1024), MULTIPART_PART_SIZE_BYTES: String(1024) });
    // The port is known once started: the same process, restarted with storage on its other name.
    storageUrl = `http://localhost:${app.port}`;
    await app.restart({ PUBLIC_STORAGE_URL: storageUrl });
    alice = api(app.baseUrl, 73);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('grants uploads and redirects downloads to the storage origin, and the flow works through it', async () => {
    const bytes = Buffer.from('through the storage origin');
    const { assetId, status, grant } = await uploadAndSettle(alice, bytes, SPOOFED, 'text/plain');
    expect(grant.uploadUrl.startsWith(`${storageUrl}/storage/`)).toBe(true);
    expect(status).toBe('ready');
    const location = await downloadLocation(alice, assetId);
    expect(location.startsWith(`${storageUrl}/storage/`)).toBe(true);
    const res = await fetch(location);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(bytes.toString());
    expectSandboxed(res);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="invoicefdp.exe"; filename*=UTF-8''invoicefdp.exe`);

    // The signature does not cover the host: the same URL on the API's origin is refused, not served there.
    const swapped = location.replace(storageUrl, app.baseUrl);
    const misdirected = await fetch(swapped);
    expect(misdirected.status).toBe(421);
    expect(await misdirected.json()).toMatchObject({ statusCode: 421, error: 'MisdirectedRequest' });
    // The API itself stays where it was.
    expect((await alice.get(`/media/${assetId}`)).status).toBe(200);
  });

  it('signs multipart part URLs on the storage origin, and refuses a PUT addressed to the API origin', async () => {
    const bytes = Buffer.alloc(1500, 7);
    const start = await alice.post('/media/upload-url', {
      filename: 'parts.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: bytes.length,
      multipart: true,
    });
    expect(start.status).toBe(201);
    const parts = start.body.parts as { partNumber: number; url: string; method: string; headers: Record<string, string> }[];
    expect(parts).toHaveLength(2);
    for (const p of parts) expect(p.url.startsWith(`${storageUrl}/storage/`)).toBe(true);
    const onApi = await fetch(parts[0].url.replace(storageUrl, app.baseUrl), {
      method: 'PUT',
      headers: parts[0].headers,
      body: bytes.subarray(0, 1024),
    });
    expect(onApi.status).toBe(421);
    await onApi.arrayBuffer();
    const etags: string[] = [];
    for (const p of parts) {
      const body = bytes.subarray((p.partNumber - 1) * 1024, p.partNumber * 1024);
      const put = await fetch(p.url, { method: p.method, headers: p.headers, body });
      expect(put.status).toBe(200);
      etags.push(put.headers.get('etag')!);
    }
    const done = await alice.post(`/media/${start.body.assetId}/complete`, {
      parts: parts.map((p, i) => ({ partNumber: p.partNumber, etag: etags[i] })),
    });
    expect(done.status).toBe(202);
    await eventually(async () => (await alice.get(`/media/${start.body.assetId}`)).body?.status === 'ready', 30_000);
    const res = await fetch(await downloadLocation(alice, start.body.assetId));
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("lets the upload page's CSP reach the storage origin, and the page uploads there cross-origin", async () => {
    const page = await fetch(`${app.baseUrl}/`);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toMatch(new RegExp(`connect-src 'self' ${storageUrl}(;|$)`));
    expect(csp).toMatch(new RegExp(`img-src 'self' blob: data: ${storageUrl}(;|$)`));
    await page.arrayBuffer();

    browser = await launchChromium();
    const context = await browser.newContext();
    const tab = await context.newPage();
    const problems: string[] = [];
    const storageRequests: string[] = [];
    tab.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    tab.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    tab.on('request', (r) => {
      if (r.url().startsWith(`${storageUrl}/storage/`)) storageRequests.push(r.method());
    });
    await tab.goto(`${app.baseUrl}/`);
    await tab.getByLabel('Access token').fill(token(74));
    await tab
      .getByLabel('Choose files')
      .setInputFiles({ name: 'sunset.jpg', mimeType: 'image/jpeg', buffer: await jpegWithExif(320, 240) });
    const row = tab.locator('li.upload', { hasText: 'sunset.jpg' });
    await tab.waitForSelector('li.upload:is([data-status="ready"], [data-status="failed"], [data-status="error"])', { timeout: 45_000 });
    const errorText = (await row.locator('.error').isVisible()) ? await row.locator('.error').textContent() : '';
    expect({ status: await row.getAttribute('data-status'), errorText }).toEqual({ status: 'ready', errorText: '' });
    // The thumbnail came from the storage origin and decoded.
    const img = row.locator('img.thumbnail');
    await img.waitFor({ state: 'visible', timeout: 45_000 });
    const shown = await img.evaluate(async (el: any) => {
      await el.decode();
      return { src: String(el.src), width: Number(el.naturalWidth) };
    });
    expect(shown.src.startsWith(`${storageUrl}/storage/`)).toBe(true);
    expect(shown.width).toBeGreaterThan(0);
    expect(storageRequests).toEqual(expect.arrayContaining(['PUT', 'GET']));
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);
});
