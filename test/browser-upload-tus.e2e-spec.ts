import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { api } from './support/api';
import { RunningApp, startApp, token } from './support/app-process';
import { ARTIFACTS, launchChromium } from './support/browser';

/**
 * The upload page's large-file path: above `?tusThreshold=` it loads tus-js-client's browser bundle from
 * /assets/tus.min.js and uploads with tus 1.0 to /tus/ (the upload id is the asset id), and resumes an
 * interrupted upload of the same file after a reload. Needs the /tus/ endpoint (the tus branch).
 */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

let browser: Browser;
let app: RunningApp;

beforeAll(async () => {
  browser = await launchChromium();
  app = await startApp();
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** A JPEG of random pixels (does not compress): about 3 bytes per pixel at quality 95. */
async function noisyJpeg(width: number, height: number): Promise<Buffer> {
  const raw = randomBytes(width * height * 3);
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

function settled(page: Page) {
  return page.waitForSelector(
    'li.upload:is([data-status="ready"], [data-status="failed"], [data-status="quarantined"], [data-status="error"])',
    {
      timeout: 60000,
    },
  );
}

it('uploads above the threshold with tus (the upload id is the asset id), and resumes after a reload', async () => {
  const jpeg = await noisyJpeg(1200, 900);
  expect(jpeg.length).toBeGreaterThan(1024 * 1024);
  // A file on disk: the same file chosen again has the same name, size and modification time, which is what
  // tus-js-client's fingerprint (the key of the stored upload URL) is made of.
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'browser-tus-')), 'big.jpg');
  writeFileSync(file, jpeg);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(60000);
    const requests: { method: string; url: string }[] = [];
    page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
    // Every progress value the page shows, per page load.
    await page.addInitScript(() => {
      const g = globalThis as any;
      const trace: number[] = (g.__progress = []);
      const desc = Object.getOwnPropertyDescriptor(g.HTMLProgressElement.prototype, 'value')!;
      Object.defineProperty(g.HTMLProgressElement.prototype, 'value', {
        configurable: true,
        get() {
          return desc.get!.call(this);
        },
        set(v: number) {
          trace.push(v);
          desc.set!.call(this, v);
        },
      });
    });
    // Slow the upload down so that it can be interrupted half-way.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 256 * 1024,
    });

    await page.goto(`${app.baseUrl}/?tusThreshold=1024`);
    await page.getByLabel('Access token').fill(token(42));
    await page.getByLabel('Choose files').setInputFiles(file);
    await page.waitForFunction(() => Number((globalThis as any).document.querySelector('li.upload progress')?.value ?? 0) >= 30);
    expect(await page.locator('li.upload .status').textContent()).toBe('uploading (resumable)');
    const created = requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/tus/');
    expect(created).toHaveLength(1);
    expect(requests.some((r) => new URL(r.url).pathname === '/assets/tus.min.js')).toBe(true);
    expect(requests.some((r) => r.method === 'PUT')).toBe(false);

    // Interrupt: reload the page (the upload's URL stays in localStorage), then choose the same file again.
    await page.reload();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await page.getByLabel('Choose files').setInputFiles(file);
    await settled(page);
    const row = page.locator('li.upload');
    const errorText = (await row.locator('.error').isVisible()) ? await row.locator('.error').textContent() : '';
    expect({ status: await row.getAttribute('data-status'), errorText }).toEqual({ status: 'ready', errorText: '' });
    expect(await row.locator('.percent').textContent()).toBe('100 %');
    // It went on from where the server had got to (at least a few hundred KiB in), not from 0. (Not exactly the
    // 30 % the page showed: some of those bytes were still in socket buffers when the page went away.)
    const after = (await page.evaluate(() => (globalThis as any).__progress)) as number[];
    expect(after[0]).toBeGreaterThanOrEqual(5);

    // One creation in all: the second page load resumed (HEAD, then PATCH from the offset).
    expect(requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/tus/')).toHaveLength(1);
    const uploadPaths = [
      ...new Set(requests.filter((r) => r.method === 'PATCH' || r.method === 'HEAD').map((r) => new URL(r.url).pathname)),
    ];
    expect(uploadPaths).toHaveLength(1);
    const tusId = UUID.exec(uploadPaths[0])![0];
    expect(requests.some((r) => r.method === 'HEAD' && new URL(r.url).pathname === uploadPaths[0])).toBe(true);
    expect(await row.getAttribute('data-asset-id')).toBe(tusId);

    const asset = await api(app.baseUrl, 42).get(`/media/${tusId}`);
    expect(asset.body).toMatchObject({ status: 'ready', sizeBytes: jpeg.length, filename: 'big.jpg' });
    const img = row.locator('img.thumbnail');
    await img.waitFor({ state: 'visible' });
    expect(await img.evaluate((el: any) => el.naturalWidth)).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'browser-upload-tus.png'), fullPage: true });
  } finally {
    await context.close();
    rmSync(path.dirname(file), { recursive: true, force: true });
  }
});

it("shows the tus endpoint's message on the row when it refuses the upload", async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(60000);
    await page.goto(`${app.baseUrl}/?tusThreshold=1`);
    await page.getByLabel('Access token').fill(`${token(42).slice(0, -4)}AAAA`);
    await page.getByLabel('Choose files').setInputFiles({ name: 'x.jpg', mimeType: 'image/jpeg', buffer: await noisyJpeg(32, 32) });
    await settled(page);
    const row = page.locator('li.upload');
    expect(await row.getAttribute('data-status')).toBe('error');
    const text = await row.locator('.error').textContent();
    expect(text).toMatch(/token/i);
    expect(text).not.toMatch(/HTTP \d+\.$/);
  } finally {
    await context.close();
  }
});
