import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { api } from './support/api';
import { RunningApp, startApp, token } from './support/app-process';
import { launchChromium } from './support/browser';
import { jpegWithExif } from './support/media-fixtures';
import { s3ServiceEnv, S3TestServer, startS3Server } from './support/s3-server';

/**
 * A browser app on another origin (a page served by a tiny server on another port of 127.0.0.1: another origin)
 * using the service in a real Chromium, as an app on https://app.example.com would use https://media.example.com:
 * upload-url → PUT to the signed URL → complete with fetch, tus with tus-js-client, and Uppy's AwsS3 plugin whose
 * signRequest asks our upload-url. With the local driver (the /storage URLs are the service's) and with the s3
 * driver (the emulator's bucket CORS rule, applied at start-up, follows API_CORS_ORIGINS). A page on an origin not in
 * API_CORS_ORIGINS is refused by the browser itself.
 */

const SCRIPTS: Record<string, string> = {
  '/tus.min.js': require.resolve('tus-js-client/dist/tus.min.js'),
  '/uppy.min.js': require.resolve('uppy/dist/uppy.min.js'),
};

/** The "app": an HTML page loading tus-js-client and Uppy, served on its own port (its own origin). */
async function startPageServer(): Promise<{ origin: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const script = SCRIPTS[req.url ?? ''];
    if (script) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(readFileSync(script));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      '<!doctype html><meta charset="utf-8"><title>app</title><script src="/tus.min.js"></script><script src="/uppy.min.js"></script>',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Tab {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

async function openTab(browser: Browser, origin: string): Promise<Tab> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(45_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  // Chromium reports refused headers ("Refused to set unsafe header") and CORS refusals here.
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${origin}/`);
  return { context, page, problems };
}

/** In the page: upload-url → PUT with the granted headers → complete → long-poll until settled; what the page could read. */
function fetchFlow(page: Page, args: { base: string; token: string; bytes: string }) {
  return page.evaluate(async ({ base, token: t, bytes }) => {
    const g = globalThis as any;
    const body = Uint8Array.from(g.atob(bytes), (c: string) => c.charCodeAt(0));
    const digest = new Uint8Array(await g.crypto.subtle.digest('SHA-256', body));
    const checksumSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    const auth = { Authorization: `Bearer ${t}` };
    const granted = await g.fetch(`${base}/media/upload-url`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ filename: 'cross.jpg', mimeType: 'image/jpeg', sizeBytes: body.length, checksumSha256 }),
    });
    const grant = await granted.json();
    const put = await g.fetch(grant.uploadUrl, { method: grant.method, headers: grant.headers, body });
    const complete = await g.fetch(`${base}/media/${grant.assetId}/complete`, { method: 'POST', headers: auth });
    const asset = await (await g.fetch(`${base}/media/${grant.assetId}?waitFor=ready&timeout=20`, { headers: auth })).json();
    // The thumbnail's signed URL shown in an <img> on this page (another origin than the storage's).
    const thumb = await (await g.fetch(`${base}/media/${grant.assetId}/thumbnail?redirect=false`, { headers: auth })).json();
    const img = g.document.createElement('img');
    img.src = thumb.url;
    const thumbnailWidth = await img.decode().then(
      () => img.naturalWidth as number,
      () => 0,
    );
    return {
      thumbnailWidth,
      grantStatus: granted.status,
      grantHeaders: grant.headers,
      rateLimitRemaining: granted.headers.get('X-RateLimit-Remaining-upload-url'),
      requestId: granted.headers.get('X-Request-Id'),
      putStatus: put.status,
      etag: put.headers.get('ETag'),
      completeStatus: complete.status,
      assetId: grant.assetId,
      status: asset.status,
      checksum: asset.checksumSha256 === checksumSha256,
    };
  }, args);
}

/** In the page: a tus upload with tus-js-client (in several PATCHes); resolves with the upload URL or the error. */
function tusFlow(page: Page, args: { base: string; token: string; size: number }) {
  return page.evaluate(
    ({ base, token: t, size }) =>
      new Promise<{ url?: string; error?: string }>((resolve) => {
        const g = globalThis as any;
        const file = new g.Blob([new Uint8Array(size).fill(7)], { type: 'application/octet-stream' });
        const upload = new g.tus.Upload(file, {
          endpoint: `${base}/tus/`,
          chunkSize: Math.ceil(size / 3),
          retryDelays: [],
          headers: { Authorization: `Bearer ${t}` },
          metadata: { filename: 'tus.bin', filetype: 'application/octet-stream' },
          onSuccess: () => resolve({ url: upload.url }),
          onError: (e: Error) => resolve({ error: String(e.message) }),
        });
        upload.start();
      }),
    args,
  );
}

/** In the page: Uppy (core + AwsS3) whose signRequest asks our upload-url; complete on upload-success. */
function uppyFlow(page: Page, args: { base: string; token: string; bytes: string }) {
  return page.evaluate(async ({ base, token: t, bytes }) => {
    const g = globalThis as any;
    const { Uppy, AwsS3 } = g.Uppy;
    const auth = { Authorization: `Bearer ${t}` };
    const uppy = new Uppy({ autoProceed: false });
    const completions: Promise<number>[] = [];
    uppy.use(AwsS3, {
      shouldUseMultipart: false,
      generateObjectKey: (file: any) => file.id,
      // Uppy 6: called for the PUT; answers the URL to send the file to (our grant's).
      signRequest: async ({ method, key }: { method: string; key: string }) => {
        if (method !== 'PUT') throw new Error(`unexpected ${method}`);
        const file = uppy.getFile(key);
        const res = await g.fetch(`${base}/media/upload-url`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ filename: file.name, mimeType: file.type, sizeBytes: file.size }),
        });
        const grant = await res.json();
        uppy.setFileMeta(file.id, { assetId: grant.assetId, grantHeaders: grant.headers });
        return { url: grant.uploadUrl };
      },
    });
    uppy.on('upload-success', (file: any) => {
      const { assetId } = uppy.getFile(file.id).meta;
      completions.push(g.fetch(`${base}/media/${assetId}/complete`, { method: 'POST', headers: auth }).then((r: any) => r.status));
    });
    const data = new g.Blob([Uint8Array.from(g.atob(bytes), (c: string) => c.charCodeAt(0))], { type: 'image/jpeg' });
    const id = uppy.addFile({ name: 'uppy.jpg', type: 'image/jpeg', data, source: 'test' });
    const result = await uppy.upload();
    const meta = uppy.getFile(id).meta;
    return {
      successful: result.successful.length,
      failed: result.failed.map((f: any) => String(f.error)),
      assetId: meta.assetId as string,
      grantHeaders: meta.grantHeaders as Record<string, string>,
      completeStatuses: await Promise.all(completions),
    };
  }, args);
}

/** The count of OPTIONS requests the service answered, from its own metrics. */
async function preflightsAnswered(app: RunningApp): Promise<number> {
  const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
  return [...text.matchAll(/^media_http_request_duration_seconds_count\{[^}]*method="OPTIONS"[^}]*\} (\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

let browser: Browser;
let allowedPage: Awaited<ReturnType<typeof startPageServer>>;
let otherPage: Awaited<ReturnType<typeof startPageServer>>;

beforeAll(async () => {
  browser = await launchChromium();
  allowedPage = await startPageServer();
  otherPage = await startPageServer();
});
afterAll(async () => {
  await browser?.close();
  await allowedPage?.close();
  await otherPage?.close();
});

function describeCrossOriginApp(name: string, appEnv: () => Promise<Record<string, string>>, storageOrigin: (app: RunningApp) => string) {
  describe(name, () => {
    let app: RunningApp;
    let jpeg: Buffer;

    beforeAll(async () => {
      app = await startApp({ API_CORS_ORIGINS: allowedPage.origin, ...(await appEnv()) });
      jpeg = await jpegWithExif(64, 48);
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('answers preflights with the allowed headers and a Max-Age, to the allowed origin only', async () => {
      const preflight = (origin: string, path: string, method: string, headers: string) =>
        fetch(`${app.baseUrl}${path}`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
        });
      for (const [path, method, headers] of [
        ['/media/upload-url', 'POST', 'authorization,content-type'],
        ['/media/00000000-0000-4000-8000-000000000000/complete', 'POST', 'x-api-key'],
        ['/tus/', 'POST', 'authorization,tus-resumable,upload-length,upload-metadata'],
        ['/storage/media/k', 'PUT', 'content-type,x-amz-checksum-sha256'],
      ]) {
        const ok = await preflight(allowedPage.origin, path, method, headers);
        expect([path, ok.status]).toEqual([path, 204]);
        expect(ok.headers.get('access-control-allow-origin')).toBe(allowedPage.origin);
        expect(ok.headers.get('access-control-allow-methods')).toContain(method);
        for (const h of headers.split(',')) expect(ok.headers.get('access-control-allow-headers')!.split(', ')).toContain(h);
        expect(Number(ok.headers.get('access-control-max-age'))).toBeGreaterThan(0);
        expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
        expect(ok.headers.get('vary')).toContain('Origin');
        const refused = await preflight(otherPage.origin, path, method, headers);
        expect([path, refused.status, refused.headers.get('access-control-allow-origin')]).toEqual([path, 403, null]);
      }
    });

    it('a page on an allowed origin uploads with fetch: upload-url → PUT → complete, reading ETag and the rate-limit headers', async () => {
      const tab = await openTab(browser, allowedPage.origin);
      try {
        const seen = await fetchFlow(tab.page, { base: app.baseUrl, token: token(42), bytes: jpeg.toString('base64') });
        expect(seen).toMatchObject({ grantStatus: 201, putStatus: 200, completeStatus: 202, status: 'ready', checksum: true });
        expect(Object.keys(seen.grantHeaders).map((h) => h.toLowerCase())).not.toContain('content-length');
        expect(seen.etag).toMatch(/^"[^"]+"$/);
        expect(Number(seen.rateLimitRemaining)).toBeGreaterThan(0);
        expect(seen.requestId).toBeTruthy();
        expect(seen.thumbnailWidth).toBe(64);
        expect(tab.problems).toEqual([]);
        expect(
          new URL(
            (await api(app.baseUrl, 42).post('/media/upload-url', { filename: 'x', mimeType: 'image/jpeg', sizeBytes: 1 })).body.uploadUrl,
          ).origin,
        ).toBe(storageOrigin(app));
      } finally {
        await tab.context.close();
      }
    });

    it('a second identical call is not preflighted again (the preflight is cached)', async () => {
      const tab = await openTab(browser, allowedPage.origin);
      try {
        const call = () =>
          tab.page.evaluate(
            async ({ base, token: t }) =>
              (await (globalThis as any).fetch(`${base}/quota`, { headers: { Authorization: `Bearer ${t}` } })).status as number,
            { base: app.baseUrl, token: token(42) },
          );
        const before = await preflightsAnswered(app);
        expect(await call()).toBe(200);
        const afterFirst = await preflightsAnswered(app);
        expect(afterFirst).toBe(before + 1);
        expect(await call()).toBe(200);
        expect(await call()).toBe(200);
        expect(await preflightsAnswered(app)).toBe(afterFirst);
      } finally {
        await tab.context.close();
      }
    });

    it('a page on an allowed origin uploads with tus-js-client (Location and Upload-Offset readable)', async () => {
      const tab = await openTab(browser, allowedPage.origin);
      try {
        const result = await tusFlow(tab.page, { base: app.baseUrl, token: token(43), size: 300_000 });
        expect(result.error).toBeUndefined();
        const assetId = result.url!.split('/').pop()!;
        const asset = await api(app.baseUrl, 43).get(`/media/${assetId}?waitFor=ready&timeout=20`);
        expect(asset.body).toMatchObject({ status: 'ready', sizeBytes: 300_000 });
        expect(tab.problems).toEqual([]);
      } finally {
        await tab.context.close();
      }
    });

    it("a page on an allowed origin uploads with Uppy's AwsS3 plugin, signRequest asking our upload-url", async () => {
      const tab = await openTab(browser, allowedPage.origin);
      try {
        const result = await uppyFlow(tab.page, { base: app.baseUrl, token: token(44), bytes: jpeg.toString('base64') });
        expect(result).toMatchObject({ successful: 1, failed: [], completeStatuses: [202] });
        // Uppy's signRequest hands back only a URL: the PUT carries just Content-Type, all the grant asks for.
        expect(result.grantHeaders).toEqual({ 'Content-Type': 'image/jpeg' });
        const asset = await api(app.baseUrl, 44).get(`/media/${result.assetId}?waitFor=ready&timeout=20`);
        expect(asset.body).toMatchObject({ status: 'ready', sizeBytes: jpeg.length, detectedMimeType: 'image/jpeg' });
        expect(tab.problems).toEqual([]);
      } finally {
        await tab.context.close();
      }
    });

    it('a page on another origin is refused by the browser: the API, the signed URL and tus', async () => {
      const grant = (await api(app.baseUrl, 45).post('/media/upload-url', { filename: 'x.txt', mimeType: 'text/plain', sizeBytes: 5 }))
        .body;
      const tab = await openTab(browser, otherPage.origin);
      try {
        const seen = await tab.page.evaluate(
          async ({ base, token: t, grant: g }) => {
            const w = globalThis as any;
            const outcome = (p: Promise<any>) => p.then((r) => `status ${r.status}`).catch((e: Error) => e.name);
            return {
              api: await outcome(
                w.fetch(`${base}/media/upload-url`, {
                  method: 'POST',
                  headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' },
                  body: JSON.stringify({ filename: 'no.txt', mimeType: 'text/plain', sizeBytes: 5 }),
                }),
              ),
              read: await outcome(w.fetch(`${base}/quota`, { headers: { Authorization: `Bearer ${t}` } })),
              put: await outcome(w.fetch(g.uploadUrl, { method: 'PUT', headers: g.headers, body: 'hello' })),
            };
          },
          { base: app.baseUrl, token: token(45), grant },
        );
        expect(seen).toEqual({ api: 'TypeError', read: 'TypeError', put: 'TypeError' });
        const tus = await tusFlow(tab.page, { base: app.baseUrl, token: token(45), size: 1000 });
        expect(tus.error).toMatch(/failed to create upload/);
        // Nothing but the one asset granted above from Node was created: the refused preflights stopped the requests.
        const mine = await api(app.baseUrl, 45).get('/media');
        expect(mine.body.items.map((a: { assetId: string }) => a.assetId)).toEqual([grant.assetId]);
        expect(tab.problems.some((p) => p.includes('CORS policy'))).toBe(true);
      } finally {
        await tab.context.close();
      }
    });
  });
}

describeCrossOriginApp(
  'a browser app on another origin, local driver',
  async () => ({}),
  (app) => app.baseUrl,
);

describe('with the s3 driver', () => {
  let s3: S3TestServer;
  beforeAll(async () => {
    // No CORS rule on the bucket until the service applies its own (CORS_ALLOWED_ORIGINS defaults to API_CORS_ORIGINS).
    s3 = await startS3Server({ buckets: ['media-cors'], corsOrigins: [] });
  });
  afterAll(async () => {
    await s3?.stop();
  });
  describeCrossOriginApp(
    'a browser app on another origin, s3 driver (the bucket rule follows API_CORS_ORIGINS)',
    async () => ({ ...s3ServiceEnv(s3, 'media-cors'), S3_APPLY_CORS: 'true' }),
    () => s3.endpoint,
  );
});
