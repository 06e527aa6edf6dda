/**
 * Buckets and paths from the clients (issue 17): the SDK's media.bucket(name) handle and the CLI's
 * `media upload --to`, `ls <bucket>/<prefix>`, `cp`, `mv` and `rm --bucket --prefix`, against the built service.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { MediaClient } from '@app/sdk';
import { REPO_ROOT, RunningApp, startApp, token } from './support/app-process';

const BIN = path.join(REPO_ROOT, 'dist/apps/cli/src/main.js');

function media(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('buckets from the SDK and the CLI', () => {
  let app: RunningApp;
  let dir: string;
  let env: Record<string, string>;
  let client: MediaClient;

  beforeAll(async () => {
    app = await startApp();
    dir = mkdtempSync(path.join(os.tmpdir(), 'bk-clients-'));
    env = { MEDIA_URL: app.baseUrl, MEDIA_TOKEN: token(91), MEDIA_STATE_DIR: path.join(dir, 'state') };
    client = new MediaClient({ baseUrl: app.baseUrl, token: token(91) });
  });
  afterAll(async () => {
    await app?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('SDK: bucket(name).upload(path, file), list({ prefix }), move, copy, remove', async () => {
    await client.createBucket({ name: 'sdk-photos' });
    const photos = client.bucket('sdk-photos');
    const file = path.join(dir, 'a.txt');
    writeFileSync(file, 'hello bucket');
    const up = await photos.upload('2026/a.txt', file);
    await client.waitForReady(up.assetId, { timeout: 20 });
    await photos.upload('2026/b.txt', Readable.from([Buffer.from('bee')]), { size: 3, filename: 'b.txt' });
    await photos.upload('top.txt', Readable.from([Buffer.from('t')]), { size: 1, filename: 'top.txt' });

    const folders = await photos.list({ delimiter: '/' });
    expect([folders.prefixes, folders.items.map((i) => i.path)]).toEqual([['2026/'], ['top.txt']]);
    expect((await photos.list({ prefix: '2026/' })).items.map((i) => i.path)).toEqual(['2026/a.txt', '2026/b.txt']);

    expect((await photos.move(up.assetId, 'archive/a.txt')).path).toBe('archive/a.txt');
    const copy = await photos.copy(up.assetId, 'copies/a.txt');
    expect(copy).toMatchObject({ bucket: 'sdk-photos', path: 'copies/a.txt', status: 'ready' });
    const all: string[] = [];
    for await (const item of photos.listAll({ limit: 2 })) all.push(item.path);
    expect(all).toEqual(['2026/b.txt', 'archive/a.txt', 'copies/a.txt', 'top.txt']);

    const taken = await photos.upload('top.txt', Readable.from([Buffer.from('t')]), { size: 1 }).catch((e: unknown) => e);
    expect(taken).toMatchObject({ status: 409, code: 'PathTaken' });

    expect(await photos.remove(['top.txt', 'nothing.txt'])).toEqual([
      { path: 'top.txt', status: 204 },
      { path: 'nothing.txt', status: 404 },
    ]);
  });

  it('CLI: upload --to, ls <bucket>/<prefix>, cp, mv, rm --bucket --prefix', async () => {
    await client.createBucket({ name: 'cli-docs' });
    for (const n of ['x.txt', 'y.txt']) writeFileSync(path.join(dir, n), `content of ${n}`);
    const up = await media(['upload', '-q', '--wait', '--to', 'cli-docs/in/', path.join(dir, 'x.txt'), path.join(dir, 'y.txt')], env);
    expect([up.code, up.stderr]).toEqual([0, '']);

    const top = await media(['ls', 'cli-docs'], env);
    expect(top.code).toBe(0);
    expect(top.stdout.trimEnd().split('\n')).toEqual([`${'PRE'.padStart(36)}  in/`]);
    const inside = await media(['ls', 'cli-docs/in/'], env);
    expect(
      inside.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('  ').pop()),
    ).toEqual(['in/x.txt', 'in/y.txt']);

    const cp = await media(['cp', 'cli-docs/in/x.txt', 'cli-docs/out/x-copy.txt'], env);
    expect([cp.code, cp.stdout.trim().split('\t')[1]]).toEqual([0, 'cli-docs/out/x-copy.txt']);
    const mv = await media(['mv', 'cli-docs/in/y.txt', 'cli-docs/out/y.txt'], env);
    expect([mv.code, mv.stdout.trim().split('\t')[1]]).toEqual([0, 'cli-docs/out/y.txt']);
    const missing = await media(['mv', 'cli-docs/in/nope.txt', 'cli-docs/out/z.txt'], env);
    expect(missing.code).toBe(1);

    const rm = await media(['rm', '--bucket', 'cli-docs', '--prefix', 'out/'], env);
    expect(rm.code).toBe(0);
    expect(rm.stdout.trim().split('\n').sort()).toEqual(['deleted cli-docs/out/x-copy.txt', 'deleted cli-docs/out/y.txt']);
    expect((await client.bucket('cli-docs').list()).items.map((i) => i.path)).toEqual(['in/x.txt']);
    expect((await media(['rm', '--bucket', 'cli-docs'], env)).code).toBe(2);
  });
});
