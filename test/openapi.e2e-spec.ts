/**
 * The committed OpenAPI document (openapi.json) and the SDK types generated from it (libs/sdk/src/generated)
 * are exactly what the code produces, and the running service serves the same document at /openapi.json with
 * Swagger UI at /docs, without a token.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, RunningApp, startApp } from './support/app-process';
import { launchChromium } from './support/browser';

const COMMITTED_DOC = path.join(REPO_ROOT, 'openapi.json');
const COMMITTED_TYPES = path.join(REPO_ROOT, 'libs/sdk/src/generated/openapi.ts');
const GENERATOR = path.join(REPO_ROOT, 'dist/apps/api/src/cli/openapi.js');
const STALE = 'is stale: run `npm run openapi` and commit openapi.json and libs/sdk/src/generated/openapi.ts';

type Operation = { operationId: string; security?: unknown[]; parameters?: { in: string; name: string }[]; responses: Record<string, any> };
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head'];

function operations(doc: any): [string, string, Operation][] {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([p, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([m, op]) => [m.toUpperCase(), p, op] as [string, string, Operation]),
  );
}

describe('OpenAPI document and SDK types', () => {
  const committed = readFileSync(COMMITTED_DOC, 'utf8');
  const doc = JSON.parse(committed);

  it('openapi.json is what the code generates (without a database, Redis or storage)', () => {
    // An environment pointing at nothing: generation must not need any backing service.
    const generated = execFileSync(process.execPath, [GENERATOR, '--stdout'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', REDIS_URL: 'redis://127.0.0.1:1/0' },
      timeout: 30000,
    });
    if (generated !== committed) throw new Error(`openapi.json ${STALE}`);
    // And generating twice gives the same bytes (no times, hosts or random order).
    expect(execFileSync(process.execPath, [GENERATOR, '--stdout'], { encoding: 'utf8', timeout: 30000 })).toBe(generated);
  });

  it('the SDK types are what openapi-typescript makes of openapi.json', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-ts-'));
    try {
      const out = path.join(dir, 'openapi.ts');
      execFileSync(
        process.execPath,
        [path.join(REPO_ROOT, 'node_modules/openapi-typescript/bin/cli.js'), COMMITTED_DOC, '--output', out, '--alphabetize'],
        {
          stdio: 'pipe',
          timeout: 60000,
        },
      );
      if (readFileSync(out, 'utf8') !== readFileSync(COMMITTED_TYPES, 'utf8'))
        throw new Error(`libs/sdk/src/generated/openapi.ts ${STALE}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('describes the bearer and API-key schemes, and every route with its answers and the problem body for errors', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }));
    expect(doc.components.securitySchemes.apiKey).toEqual(expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }));
    expect(doc.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(doc.components.schemas.ProblemDto.required).toEqual(expect.arrayContaining(['statusCode', 'error', 'message']));
    // The committed document names the development default; the running service names its PUBLIC_BASE_URL (below).
    expect(doc.servers).toEqual([expect.objectContaining({ url: 'http://localhost:3000' })]);
    expect(doc.info.license).toEqual(expect.objectContaining({ name: 'UNLICENSED' }));

    const ops = operations(doc);
    expect(ops.length).toBeGreaterThanOrEqual(30);
    const ids = ops.map(([, , op]) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [method, p, op] of ops) {
      const where = `${method} ${p}`;
      const codes = Object.keys(op.responses);
      expect([where, codes.some((c) => /^[23]\d\d$/.test(c))]).toEqual([where, true]);
      for (const c of codes.filter((x) => /^[45]\d\d$/.test(x))) {
        const schema = op.responses[c].content?.['application/json']?.schema;
        const ref = schema?.$ref ?? schema?.allOf?.[0]?.$ref;
        expect([where, c, ref]).toEqual([where, c, '#/components/schemas/ProblemDto']);
      }
      expect([where, codes.includes('500')]).toEqual([where, true]);
      // Every {param} in the path is declared.
      for (const name of [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
        expect([where, name, op.parameters?.some((x) => x.in === 'path' && x.name === name)]).toEqual([where, name, true]);
      }
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      expect([where, codes.includes('401')]).toEqual([where, !isPublic]);
      // An API key outside its scope: every authenticated route can answer 403 InsufficientScope.
      const forbiddenCodes: string[] =
        op.responses['403']?.content?.['application/json']?.schema?.allOf?.[1]?.properties?.error?.enum ?? [];
      // …except the storage event receiver, whose caller is the storage with its own token (never an API key).
      const storageSender = op.security?.some((s) => 'storageEventsToken' in (s as object)) ?? false;
      expect([where, forbiddenCodes.includes('InsufficientScope')]).toEqual([where, !isPublic && !storageSender]);
    }
    // What the plugin cannot know is said per route.
    const byKey = Object.fromEntries(ops.map(([m, p, op]) => [`${m} ${p}`, op]));
    expect(Object.keys(byKey['POST /media/{id}/complete'].responses)).toEqual(expect.arrayContaining(['202', '404', '409']));
    expect(Object.keys(byKey['POST /media/upload-url'].responses)).toEqual(expect.arrayContaining(['201', '400', '413', '429']));
    expect(byKey['GET /health/live'].security).toEqual([]);
    expect(byKey['GET /media/{id}'].security).toEqual([{ bearer: [] }, { apiKey: [] }, {}]);
    expect(byKey['GET /admin/reconcile'] ?? byKey['POST /admin/reconcile']).toBeDefined();
    expect(Object.keys(byKey['POST /admin/reconcile'].responses)).toContain('403');
    expect(byKey['GET /media/{id}'].responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/AssetViewDto');
  });

  describe('served by the app', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await startApp();
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('GET /openapi.json (no token) is the committed document, with PUBLIC_BASE_URL as its server', async () => {
      const res = await fetch(`${app.baseUrl}/openapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      const served = (await res.json()) as any;
      expect(served.servers).toEqual([{ ...doc.servers[0], url: app.env.PUBLIC_BASE_URL }]);
      // Everything else is the committed document as it is: the running service's routes and schemas, not a copy.
      expect({ ...served, servers: doc.servers }).toEqual(doc);
    });

    it('GET /docs (no token) is Swagger UI, with its assets', async () => {
      const res = await fetch(`${app.baseUrl}/docs`);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('swagger-ui');
      for (const asset of [...html.matchAll(/(?:src|href)="\.?\/?([^"]+\.(?:js|css))"/g)].map((m) => m[1])) {
        const url =
          asset.startsWith('docs/') || asset.startsWith('/')
            ? `${app.baseUrl}/${asset.replace(/^\//, '')}`
            : `${app.baseUrl}/docs/${asset}`;
        const a = await fetch(url);
        expect([asset, a.status]).toEqual([asset, 200]);
      }
      const init = await fetch(`${app.baseUrl}/docs/swagger-ui-init.js`);
      expect(init.status).toBe(200);
      expect(await init.text()).toContain('media-storage');
    });

    it("Swagger UI renders every operation in a browser (under the service's security headers)", async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
        await page.goto(`${app.baseUrl}/docs`);
        await page.waitForSelector('.opblock', { timeout: 20000 });
        expect(await page.locator('.opblock').count()).toBe(operations(doc).length);
        expect(await page.locator('.title').first().textContent()).toContain('media-storage');
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  });
});
