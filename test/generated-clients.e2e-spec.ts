/**
 * Clients generated from openapi.json by tools nobody here wrote work as generated:
 * - what swagger-typescript-api and many HTTP libraries send on operations whose body is optional (POST with
 *   `Content-Type: application/json` and an empty body) is read as "no body";
 * - @hey-api/openapi-ts (a second generator, independent of the SDK's openapi-typescript + openapi-fetch) generates a
 *   client into a temporary directory, `tsc --strict` compiles it with a small program, and that program runs the
 *   whole upload flow against the running service without a hand edit.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, sha256, uploadBytes } from './support/api';
import { REPO_ROOT, RunningApp, startApp, token } from './support/app-process';
import { jpegWithExif } from './support/media-fixtures';

const HEY_API_CLI = path.join(REPO_ROOT, 'node_modules/@hey-api/openapi-ts/bin/run.js');
const TSC = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

/** The program compiled against the generated client: the upload flow, printing what it saw as JSON. */
const FLOW_PROGRAM = `
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createClient } from './client/client';
import { assetsDownload, assetsGet, uploadComplete, uploadCreate } from './client/sdk.gen';

async function main(): Promise<void> {
  const client = createClient({ baseUrl: process.env.BASE_URL, auth: () => process.env.TOKEN });
  const bytes = readFileSync(process.env.FILE as string);
  const created = await uploadCreate({
    client,
    body: { filename: 'generated.jpg', mimeType: 'image/jpeg', sizeBytes: bytes.length, checksumSha256: createHash('sha256').update(bytes).digest('hex') },
    throwOnError: true,
  });
  const grant = created.data;
  if (grant.method !== 'PUT') throw new Error('expected a single PUT grant, got ' + grant.method);
  const put = await fetch(grant.uploadUrl, { method: 'PUT', headers: grant.headers, body: bytes });
  if (!put.ok) throw new Error('PUT answered ' + put.status);
  const completed = await uploadComplete({ client, path: { id: grant.assetId }, throwOnError: true });
  const ready = await assetsGet({ client, path: { id: grant.assetId }, query: { waitFor: 'ready', timeout: 20 }, throwOnError: true });
  const link = await assetsDownload({ client, path: { id: grant.assetId }, query: { redirect: 'false' }, throwOnError: true });
  if (!('url' in link.data)) throw new Error('no link');
  const downloaded = Buffer.from(await (await fetch(link.data.url)).arrayBuffer());
  process.stdout.write(JSON.stringify({
    assetId: grant.assetId,
    completeStatus: completed.response.status,
    status: ready.data.status,
    downloadedSha256: createHash('sha256').update(downloaded).digest('hex'),
  }));
}

main().catch((e: unknown) => {
  process.stderr.write(String(e instanceof Error ? e.stack : JSON.stringify(e)) + '\\n');
  process.exit(1);
});
`;

describe('clients generated from openapi.json by other tools', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  const jsonWithoutBody = (sub: string, claims: Record<string, unknown> = {}) => ({
    authorization: `Bearer ${token(sub, claims)}`,
    'content-type': 'application/json',
  });

  it('reads an empty body with Content-Type: application/json as no body (swagger-typescript-api style)', async () => {
    const bytes = await jpegWithExif();
    const up = await uploadBytes(api(app.baseUrl, '7'), bytes, { filename: 'a.jpg', mimeType: 'image/jpeg' });
    expect(up.putStatus).toBe(200);

    const complete = await fetch(`${app.baseUrl}/media/${up.assetId}/complete`, {
      method: 'POST',
      headers: jsonWithoutBody('7'),
      body: '',
    });
    expect([complete.status, await complete.json()]).toEqual([202, expect.objectContaining({ assetId: up.assetId })]);

    const reconcile = await fetch(`${app.baseUrl}/admin/reconcile`, {
      method: 'POST',
      headers: jsonWithoutBody('1', { roles: ['admin'] }),
      body: '',
    });
    expect(reconcile.status).toBe(200);
  });

  it('still answers 400 naming the missing body where the route needs one', async () => {
    const res = await fetch(`${app.baseUrl}/media/upload-url`, { method: 'POST', headers: jsonWithoutBody('7'), body: '' });
    const body = (await res.json()) as any;
    expect(res.status).toBe(400);
    expect(body).toMatchObject({ statusCode: 400, error: 'ValidationFailed' });
    expect(body.message).toMatch(/request body is missing.*filename/i);
    expect(body.details.fields[0]).toEqual({ field: 'body', problems: ['is required'] });
  });

  it('@hey-api/openapi-ts: the generated client compiles under tsc --strict and runs upload-url → PUT → complete → ready → download', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hey-api-client-'));
    try {
      execFileSync(
        process.execPath,
        [
          HEY_API_CLI,
          '-i',
          path.join(REPO_ROOT, 'openapi.json'),
          '-o',
          path.join(dir, 'client'),
          '-c',
          '@hey-api/client-fetch',
          '--no-log-file',
          '-s',
        ],
        { stdio: 'pipe', timeout: 120_000 },
      );
      writeFileSync(path.join(dir, 'main.ts'), FLOW_PROGRAM);
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            target: 'ES2022',
            module: 'commonjs',
            moduleResolution: 'node',
            lib: ['ES2022', 'DOM'],
            types: ['node'],
            typeRoots: [path.join(REPO_ROOT, 'node_modules/@types')],
            skipLibCheck: true,
            outDir: 'out',
          },
          include: ['main.ts', 'client/**/*.ts'],
        }),
      );
      try {
        execFileSync(process.execPath, [TSC, '-p', dir, '--strict'], { stdio: 'pipe', timeout: 180_000 });
      } catch (e) {
        throw new Error(`tsc --strict refused the generated client:\n${(e as { stdout?: Buffer }).stdout?.toString() ?? String(e)}`);
      }

      const bytes = await jpegWithExif(80, 60);
      const file = path.join(dir, 'photo.jpg');
      writeFileSync(file, bytes);
      const out = execFileSync(process.execPath, [path.join(dir, 'out/main.js')], {
        env: { PATH: process.env.PATH ?? '', BASE_URL: app.baseUrl, TOKEN: token('8'), FILE: file },
        timeout: 60_000,
        encoding: 'utf8',
      });
      const seen = JSON.parse(out);
      expect(seen).toEqual({
        assetId: expect.any(String),
        completeStatus: 202,
        status: 'ready',
        downloadedSha256: sha256(bytes),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
