import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { api } from './support/api';
import { RunningApp, startApp, token } from './support/app-process';
import { ARTIFACTS, launchChromium } from './support/browser';
import { fakeExecutable, jpegWithExif } from './support/media-fixtures';
import { s3ServiceEnv, S3TestServer, startS3Server } from './support/s3-server';

/**
 * The browser upload page (GET /) driven by a real Chromium (Debian's, through playwright-core): a token,
 * a real JPEG through the file input, the PUT straight to the signed URL with progress, complete, the
 * long-poll to `ready`, the thumbnail and the metadata. On the local driver (same origin) and on the s3
 * driver (the emulator on another port: cross-origin, so the bucket CORS rule the service applies at
 * start-up is what lets the PUT through). Screenshots go to test-artifacts/.
 */
const SETTLE_MS = 45000;

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

interface PageRun {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions and console errors (CSP violations show up here). */
  problems: string[];
  /** Every request the page made: method and URL. */
  requests: { method: string; url: string }[];
}

async function openPage(baseUrl: string): Promise<PageRun> {
  const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(SETTLE_MS);
  const problems: string[] = [];
  const requests: { method: string; url: string }[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  // Records every status and progress value each row goes through, in order.
  // (Runs in the page: browser globals through `g`, since the test project has no DOM typings.)
  await page.addInitScript(() => {
    const g = globalThis as any;
    const trace: string[] = (g.__trace = []);
    new g.MutationObserver((records: any[]) => {
      for (const r of records) trace.push(`status:${r.target.getAttribute('data-status')}`);
    }).observe(g.document, { subtree: true, attributes: true, attributeFilter: ['data-status'] });
    const proto = g.HTMLProgressElement.prototype;
    const desc = Object.getOwnPropertyDescriptor(proto, 'value')!;
    Object.defineProperty(proto, 'value', {
      configurable: true,
      get() {
        return desc.get!.call(this);
      },
      set(v: number) {
        trace.push(`progress:${v}`);
        desc.set!.call(this, v);
      },
    });
  });
  await page.goto(`${baseUrl}/`);
  return { context, page, problems, requests };
}

async function chooseFile(page: Page, tokenValue: string, file: { name: string; mimeType: string; buffer: Buffer }) {
  await page.getByLabel('Access token').fill(tokenValue);
  await page.getByLabel('Choose files').setInputFiles(file);
  const row = page.locator('li.upload', { hasText: file.name });
  await row.waitFor();
  // Settled one way or another: ready, failed, quarantined, or an error on the row.
  try {
    await page.waitForSelector(
      'li.upload:is([data-status="ready"], [data-status="failed"], [data-status="quarantined"], [data-status="error"])',
      {
        timeout: SETTLE_MS,
      },
    );
  } catch (e) {
    // Say where the row stopped (hashing, uploading, completing, processing…), so that a timeout points at its step.
    const where = `status ${await row.getAttribute('data-status')}, asset ${await row.getAttribute('data-asset-id')}: ${await row.innerText()}`;
    throw new Error(`${(e as Error).message}\nthe row stopped at ${where}`);
  }
  return row;
}

async function expectReadyJpeg(run: PageRun, baseUrl: string, screenshot: string) {
  const { page } = run;
  const jpeg = await jpegWithExif(640, 480);
  const row = await chooseFile(page, token(42), { name: 'sunset.jpg', mimeType: 'image/jpeg', buffer: jpeg });
  const errorText = (await row.locator('.error').isVisible()) ? await row.locator('.error').textContent() : '';
  expect({ status: await row.getAttribute('data-status'), errorText }).toEqual({ status: 'ready', errorText: '' });
  expect(await row.locator('.status').textContent()).toBe('ready');

  // Progress went up to 100 % while uploading, and only went up.
  expect(await row.locator('progress').evaluate((p: any) => p.value)).toBe(100);
  expect(await row.locator('.percent').textContent()).toBe('100 %');
  const trace = await page.evaluate(() => (globalThis as any).__trace as string[]);
  const progress = trace.filter((t) => t.startsWith('progress:')).map((t) => Number(t.slice(9)));
  expect(progress.at(-1)).toBe(100);
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
  const statuses = trace.filter((t) => t.startsWith('status:')).map((t) => t.slice(7));
  expect(statuses.indexOf('uploading')).toBeGreaterThanOrEqual(0);
  expect(statuses.indexOf('uploading')).toBeLessThan(statuses.indexOf('completing'));
  expect(statuses.at(-1)).toBe('ready');

  // The thumbnail <img> is shown and decoded.
  const img = row.locator('img.thumbnail');
  await img.waitFor({ state: 'visible' });
  const natural = await img.evaluate(async (el: any) => {
    await el.decode();
    return { w: el.naturalWidth, h: el.naturalHeight, alt: el.alt };
  });
  expect(natural.w).toBeGreaterThan(0);
  expect(natural.w).toBeLessThanOrEqual(256);
  expect(natural.alt).toBe('Thumbnail of sunset.jpg');

  // The size picker: a 400 px WebP rendition by default, another size on request (GET /media/{id}/render).
  const rendition = row.locator('img.rendition');
  await rendition.waitFor({ state: 'visible' });
  const rendered = async () => rendition.evaluate(async (el: any) => (await el.decode(), el.naturalWidth as number));
  expect(await rendered()).toBe(400);
  await row.locator('select.render-width').selectOption('128');
  await row
    .locator('form.render[data-state="rendering"]')
    .waitFor({ state: 'attached' })
    .catch(() => undefined);
  await row.locator('form.render[data-state="shown"]').waitFor({ state: 'attached' });
  expect(await rendered()).toBe(128);
  expect(await row.locator('a.render-link').getAttribute('href')).toMatch(/^https?:\/\//);

  // Metadata: size, type, dimensions and EXIF.
  const meta = await row.locator('.metadata').innerText();
  expect(meta).toContain(`${(jpeg.length / 1024).toFixed(jpeg.length / 1024 < 10 ? 1 : 0)} KiB`);
  expect(meta).toContain('image/jpeg');
  expect(meta).toContain('640 × 480 px');
  expect(meta).toContain('TestCam');

  // The asset the row names is the one the API knows, ready, with the bytes' checksum the page computed.
  const assetId = await row.getAttribute('data-asset-id');
  const asset = await api(baseUrl, 42).get(`/media/${assetId}`);
  expect(asset.body.status).toBe('ready');
  expect(asset.body.sizeBytes).toBe(jpeg.length);

  expect(run.problems).toEqual([]);
  await page.screenshot({ path: path.join(ARTIFACTS, screenshot), fullPage: true });
  return { assetId: assetId!, trace };
}

describe('browser upload page, local driver (same origin)', () => {
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('serves the page, its module, style and the tus bundle with their types and a CSP', async () => {
    const page = await fetch(`${app.baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ${app.baseUrl}`);
    expect(csp).not.toContain('unsafe-inline');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="assets/upload-page.js"></script>');
    for (const [p, type] of [
      ['/assets/upload-page.js', 'text/javascript; charset=utf-8'],
      ['/assets/upload-page.css', 'text/css; charset=utf-8'],
      ['/assets/tus.min.js', 'text/javascript; charset=utf-8'],
    ]) {
      const r = await fetch(`${app.baseUrl}${p}`);
      expect([p, r.status, r.headers.get('content-type')]).toEqual([p, 200, type]);
      const etag = r.headers.get('etag')!;
      expect((await fetch(`${app.baseUrl}${p}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    }
    // tus-js-client's own browser bundle, as installed.
    expect(await (await fetch(`${app.baseUrl}/assets/tus.min.js`)).text()).toBe(
      readFileSync(require.resolve('tus-js-client/dist/tus.min.js'), 'utf8'),
    );
    const missing = await fetch(`${app.baseUrl}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('NotFound');
  });

  it('uploads a JPEG: progress to 100 %, ready, thumbnail and metadata shown; the token stays in the tab', async () => {
    const run = await openPage(app.baseUrl);
    try {
      await expectReadyJpeg(run, app.baseUrl, 'browser-upload-local.png');
      // The PUT went straight to the signed URL (served by this service for the local driver).
      const put = run.requests.find((r) => r.method === 'PUT');
      expect(put?.url.startsWith(`${app.baseUrl}/storage/`)).toBe(true);
      expect(put?.url).toContain('X-Media-Signature=');
      // The token is kept in sessionStorage: a reload of the page still has it.
      const typed = await run.page.getByLabel('Access token').inputValue();
      expect(typed).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      await run.page.reload();
      expect(await run.page.getByLabel('Access token').inputValue()).toBe(typed);
      expect(await run.page.evaluate(() => (globalThis as any).sessionStorage.getItem('media-upload-page.token'))).toBe(typed);
    } finally {
      await run.context.close();
    }
  });

  it('uploads a file dropped on the drop zone', async () => {
    const run = await openPage(app.baseUrl);
    try {
      await run.page.getByLabel('Access token').fill(token(43));
      const jpeg = (await jpegWithExif(80, 60)).toString('base64');
      // A real drop event carrying a File, as the browser dispatches it when a file is dragged from the desktop.
      const dataTransfer = await run.page.evaluateHandle((b64: string) => {
        const g = globalThis as any;
        const bytes = Uint8Array.from(g.atob(b64), (c: string) => c.charCodeAt(0));
        const dt = new g.DataTransfer();
        dt.items.add(new g.File([bytes], 'dropped.jpg', { type: 'image/jpeg' }));
        return dt;
      }, jpeg);
      await run.page.dispatchEvent('#drop-zone', 'dragenter', { dataTransfer });
      expect(await run.page.locator('#drop-zone').getAttribute('class')).toContain('dragging');
      await run.page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
      const row = run.page.locator('li.upload', { hasText: 'dropped.jpg' });
      await run.page.waitForSelector('li.upload:is([data-status="ready"], [data-status="failed"], [data-status="error"])', {
        timeout: SETTLE_MS,
      });
      expect(await row.getAttribute('data-status')).toBe('ready');
      expect(await row.locator('.metadata').innerText()).toContain('80 × 60 px');
      expect(run.problems).toEqual([]);
    } finally {
      await run.context.close();
    }
  });

  it("shows the service's message on the row when the token is refused", async () => {
    const run = await openPage(app.baseUrl);
    try {
      const bad = `${token(42).slice(0, -4)}AAAA`;
      const expected = await api(app.baseUrl).post(
        '/media/upload-url',
        { filename: 'x.jpg', mimeType: 'image/jpeg', sizeBytes: 3 },
        { authorization: `Bearer ${bad}` },
      );
      expect(expected.status).toBe(401);
      const row = await chooseFile(run.page, bad, { name: 'refused.jpg', mimeType: 'image/jpeg', buffer: await jpegWithExif() });
      expect(await row.getAttribute('data-status')).toBe('error');
      const error = row.locator('.error');
      expect(await error.isVisible()).toBe(true);
      expect(await error.textContent()).toBe(expected.body.message);
      expect(await error.getAttribute('role')).toBe('alert');
      expect(run.requests.some((r) => r.method === 'PUT')).toBe(false);
      await run.page.screenshot({ path: path.join(ARTIFACTS, 'browser-upload-bad-token.png'), fullPage: true });
    } finally {
      await run.context.close();
    }
  });

  it('shows the failure reason on the row when the service refuses the content (an executable named .jpg)', async () => {
    const run = await openPage(app.baseUrl);
    try {
      const row = await chooseFile(run.page, token(42), { name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: fakeExecutable() });
      expect(await row.getAttribute('data-status')).toBe('failed');
      const assetId = await row.getAttribute('data-asset-id');
      const asset = await api(app.baseUrl, 42).get(`/media/${assetId}`);
      expect(asset.body.status).toBe('failed');
      expect(asset.body.failureReason).toMatch(/executable/);
      expect(await row.locator('.error').textContent()).toBe(asset.body.failureReason);
      expect(await row.locator('img.thumbnail').isVisible()).toBe(false);
      expect(run.problems).toEqual([]);
    } finally {
      await run.context.close();
    }
  });
});

describe('browser upload page, s3 driver (cross-origin PUT to the emulator)', () => {
  let s3: S3TestServer;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['media-browser', 'media-browser-nocors'], corsOrigins: [] });
  });
  afterAll(async () => {
    await s3?.stop();
  });

  const s3Env = (bucket: string, extra: Record<string, string> = {}) => ({
    ...s3ServiceEnv(s3, bucket),
    ...extra,
  });

  const preflight = (bucket: string, origin: string) =>
    fetch(`${s3.endpoint}/${bucket}/uploads/x`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type,x-amz-checksum-sha256' },
    });

  it('with S3_APPLY_CORS=true the service applies the bucket CORS rule at start-up, and the page uploads through it', async () => {
    // Before the service starts the bucket has no CORS configuration: the emulator refuses the preflight.
    expect((await preflight('media-browser', 'http://127.0.0.1:1')).status).toBe(403);
    const app = await startApp(s3Env('media-browser', { S3_APPLY_CORS: 'true' }));
    try {
      const ok = await preflight('media-browser', app.baseUrl);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-methods')).toBe('PUT, POST, GET, HEAD');
      expect(ok.headers.get('access-control-allow-headers')).toBe('content-type, x-amz-checksum-sha256');
      // Only the configured origin (default: PUBLIC_BASE_URL's).
      expect((await preflight('media-browser', 'http://evil.example')).status).toBe(403);

      const csp = (await fetch(`${app.baseUrl}/`)).headers.get('content-security-policy')!;
      expect(csp).toContain(`connect-src 'self' ${s3.endpoint}`);

      const run = await openPage(app.baseUrl);
      try {
        await expectReadyJpeg(run, app.baseUrl, 'browser-upload-s3.png');
        const put = run.requests.find((r) => r.method === 'PUT');
        expect(put?.url.startsWith(`${s3.endpoint}/media-browser/`)).toBe(true);

        // A script on the page can read the ETag of its PUT (browser multipart uploads need it for each part).
        const body = Buffer.from('etag please');
        const grant = await api(app.baseUrl, 42).post('/media/upload-url', {
          filename: 'e.txt',
          mimeType: 'text/plain',
          sizeBytes: body.length,
        });
        const seen = await run.page.evaluate(
          ({ url, headers, text }) =>
            new Promise<{ status: number; etag: string | null }>((resolve) => {
              const xhr = new (globalThis as any).XMLHttpRequest();
              xhr.open('PUT', url);
              for (const [k, v] of Object.entries(headers as Record<string, string>)) xhr.setRequestHeader(k, v);
              xhr.onloadend = () => resolve({ status: xhr.status, etag: xhr.getResponseHeader('ETag') });
              xhr.send(text);
            }),
          { url: grant.body.uploadUrl, headers: grant.body.headers, text: body.toString() },
        );
        expect(seen).toEqual({ status: 200, etag: expect.stringMatching(/^"[0-9a-f]{32}"$/) });
      } finally {
        await run.context.close();
      }
    } finally {
      await app.stop();
    }
  });

  it('a rule that cannot be applied is logged as an error with the rule, and the service still starts', async () => {
    const app = await startApp(s3Env('no-such-bucket', { S3_APPLY_CORS: 'true' }));
    try {
      const line = app
        .output()
        .split('\n')
        .find((l) => l.includes('Could not apply the CORS rule'));
      expect(line).toBeDefined();
      const entry = JSON.parse(line!);
      expect(entry.level).toBeGreaterThanOrEqual(50);
      expect(entry.msg).toContain('bucket "no-such-bucket"');
      expect(entry.msg).toContain(`"AllowedOrigins":["${app.baseUrl}"]`);
      expect((await fetch(`${app.baseUrl}/`)).status).toBe(200);
    } finally {
      await app.stop();
    }
  });

  it('without S3_APPLY_CORS the service logs the rule for the operator, and the row says why the browser could not upload', async () => {
    const app = await startApp(
      s3Env('media-browser-nocors', { LOG_LEVEL: 'info', CORS_ALLOWED_ORIGINS: 'https://app.example.com, http://127.0.0.1:1' }),
    );
    try {
      const line = app
        .output()
        .split('\n')
        .find((l) => l.includes('needs this CORS configuration'));
      expect(line).toBeDefined();
      const msg: string = JSON.parse(line!).msg;
      const rule = JSON.parse(msg.slice(msg.indexOf('{')));
      expect(rule.CORSRules[0]).toMatchObject({
        AllowedOrigins: ['https://app.example.com', 'http://127.0.0.1:1'],
        AllowedMethods: ['PUT', 'POST', 'GET', 'HEAD'],
        ExposeHeaders: expect.arrayContaining(['ETag']),
        AllowedHeaders: expect.arrayContaining(['content-type', 'x-amz-checksum-sha256']),
      });
      expect((await preflight('media-browser-nocors', app.baseUrl)).status).toBe(403);

      const run = await openPage(app.baseUrl);
      try {
        const row = await chooseFile(run.page, token(42), { name: 'blocked.jpg', mimeType: 'image/jpeg', buffer: await jpegWithExif() });
        expect(await row.getAttribute('data-status')).toBe('error');
        expect(await row.locator('.error').textContent()).toBe(
          "Could not send the file to storage (network error, or the bucket's CORS rule does not allow this page's origin).",
        );
      } finally {
        await run.context.close();
      }
    } finally {
      await app.stop();
    }
  });
});
