/**
 * The `media` command line: the built binary (dist/apps/cli/src/main.js, package.json "bin") run as a child
 * process against the real built service. Upload with --wait, ls, get, download (bytes compared), share, rm;
 * exit codes 0 / 1 (one line on stderr) / 2 (usage) / 130 (Ctrl-C).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sha256 } from './support/api';
import jwt from 'jsonwebtoken';
import { JWT_SECRET, REPO_ROOT, RunningApp, startApp, token } from './support/app-process';
import { png } from './support/media-fixtures';

const BIN = path.join(REPO_ROOT, 'dist/apps/cli/src/main.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function media(
  args: string[],
  env: Record<string, string> = {},
  opts: { cwd?: string; onStart?: (kill: (s: NodeJS.Signals) => void) => void; command?: string[] } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = opts.command ?? [process.execPath, BIN];
    const child = spawn(cmd, [...pre, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), ...env },
      cwd: opts.cwd ?? REPO_ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    opts.onStart?.((s) => child.kill(s));
  });
}

describe('media CLI', () => {
  let app: RunningApp;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    app = await startApp();
    dir = mkdtempSync(path.join(os.tmpdir(), 'cli-e2e-'));
    env = { MEDIA_URL: app.baseUrl, MEDIA_TOKEN: token(42), MEDIA_STATE_DIR: path.join(dir, 'state') };
  });

  afterAll(async () => {
    await app?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads two files with --wait, lists, gets, downloads (same bytes), shares and removes them', async () => {
    const image = await png(120, 80);
    const blob = randomBytes(700 * 1024);
    const imagePath = path.join(dir, 'photo.png');
    const blobPath = path.join(dir, 'data.bin');
    writeFileSync(imagePath, image);
    writeFileSync(blobPath, blob);

    const up = await media(['upload', '--wait', '--concurrency', '2', '--meta', 'batch=cli', imagePath, blobPath], env);
    expect([up.code, up.stderr]).toEqual([0, expect.any(String)]);
    const lines = up.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const ids = new Map(lines.map((l) => l.split('\t')).map(([id, file]) => [file, id]));
    expect([...ids.keys()].sort()).toEqual([blobPath, imagePath].sort());
    for (const id of ids.values()) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // Not a terminal: plain progress lines on stderr, ending with the status reached.
    expect(up.stderr).toMatch(/photo\.png: ready \(/);
    expect(up.stderr).toMatch(/data\.bin: ready \(/);
    const imageId = ids.get(imagePath)!;
    const blobId = ids.get(blobPath)!;

    const ls = await media(['ls', '--tag', 'batch:cli', '--json'], env);
    expect(ls.code).toBe(0);
    const page = JSON.parse(ls.stdout);
    expect(page.items.map((a: any) => a.assetId).sort()).toEqual([imageId, blobId].sort());
    expect(page.items.every((a: any) => a.status === 'ready')).toBe(true);
    const images = await media(['ls', '--status', 'ready', '--mime', 'image/', '--tag', 'batch:cli'], env);
    expect(images.stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${imageId}\\s+ready\\s+.*photo\\.png$`))]);
    const limited = await media(['ls', '--tag', 'batch:cli', '--limit', '1'], env);
    expect(limited.stdout.trim().split('\n')).toHaveLength(1);
    expect(limited.stderr).toMatch(/^more: media ls --cursor \S+/);

    const get = await media(['get', blobId], env);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual(
      expect.objectContaining({ assetId: blobId, status: 'ready', sizeBytes: blob.length, checksumSha256: sha256(blob) }),
    );

    const out = path.join(dir, 'copy.bin');
    const dl = await media(['download', blobId, '-o', out], env);
    expect([dl.code, dl.stdout.trim()]).toEqual([0, out]);
    expect(readFileSync(out).equals(blob)).toBe(true);
    // Default name: the asset's file name, in the working directory.
    const dl2 = await media(['download', imageId], env, { cwd: dir });
    expect(dl2.code).toBe(0);
    expect(readFileSync(path.join(dir, 'photo.png')).equals(image)).toBe(true);

    const bobEnv = { ...env, MEDIA_TOKEN: token(43) };
    expect((await media(['get', imageId], bobEnv)).code).toBe(1);
    const share = await media(['share', imageId, 'user:43', 'read'], env);
    expect([share.code, share.stdout]).toEqual([0, 'user:43\tread\n']);
    expect((await media(['get', imageId], bobEnv)).code).toBe(0);

    const rm = await media(['rm', imageId, blobId], env);
    expect([rm.code, rm.stdout]).toEqual([0, `deleted ${imageId}\ndeleted ${blobId}\n`]);
    const gone = await media(['get', imageId], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(`media: Asset ${imageId} was not found\n`);
  });

  it('abort abandons a multipart upload (the pending asset goes); a second abort fails with one line', async () => {
    const grant = await fetch(`${app.baseUrl}/media/upload-url`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token(42)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'big.bin', mimeType: 'application/octet-stream', sizeBytes: 1000, multipart: true }),
    }).then((r) => r.json() as Promise<{ assetId: string; method: string; partCount: number }>);
    expect(grant).toEqual(expect.objectContaining({ method: 'MULTIPART', partCount: 1 }));
    const r = await media(['abort', grant.assetId], env);
    expect([r.code, r.stdout]).toEqual([0, `aborted ${grant.assetId}\n`]);
    expect((await media(['get', grant.assetId], env)).code).toBe(1);
    const again = await media(['abort', grant.assetId], env);
    expect([again.code, again.stderr]).toEqual([1, expect.stringMatching(new RegExp(`^media: ${grant.assetId}: .*not found\\n$`))]);
  });

  it('exits 2 on usage errors, with one line naming the problem', async () => {
    for (const args of [
      ['upload'],
      ['upload', '--limit-rate', 'fast', 'x'],
      ['upload', '--part-concurrency', '0', 'x'],
      ['abort'],
      ['share', '00000000-0000-4000-8000-000000000000', 'user:1', 'fly'],
      ['ls', '--limit', 'abc'],
      ['frobnicate'],
    ]) {
      const r = await media(args, env);
      expect([args, r.code]).toEqual([args, 2]);
      expect([args, r.stderr.trim().split('\n')]).toEqual([args, [expect.stringMatching(/\S/)]]);
    }
    const noToken = await media(['ls'], { MEDIA_URL: app.baseUrl });
    expect([noToken.code, noToken.stderr]).toEqual([
      2,
      'media: No credentials: pass --token <jwt> or --api-key <key>, or set MEDIA_TOKEN or MEDIA_API_KEY\n',
    ]);
    expect((await media(['--help'], env)).code).toBe(0);
  });

  it('a bad token prints the service message on one line and exits 1', async () => {
    const r = await media(['--token', 'not-a-jwt', 'ls'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toEqual([expect.stringMatching(/^media: \S.*token/i), '']);
    const expired = await media(
      [
        'ls',
        '--url',
        app.baseUrl,
        '--token',
        jwt.sign({ sub: '42', exp: Math.floor(Date.now() / 1000) - 60 }, JWT_SECRET, { algorithm: 'HS256' }),
      ],
      {},
    );
    expect([expired.code, expired.stderr.split('\n').length]).toEqual([1, 2]);
  });

  it('Ctrl-C exits 130 promptly', async () => {
    // A server that accepts connections and never answers: the CLI waits until interrupted.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const t0 = Date.now();
      let sent = 0;
      const r = await media(
        ['ls'],
        { MEDIA_URL: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, MEDIA_TOKEN: token(42) },
        {
          onStart: (kill) => {
            const waitForConnection = setInterval(() => {
              if (sockets.length) {
                clearInterval(waitForConnection);
                sent = Date.now();
                kill('SIGINT');
              }
            }, 20);
          },
        },
      );
      expect([r.code, r.stderr]).toEqual([130, 'media: interrupted\n']);
      expect(Date.now() - sent).toBeLessThan(5000);
      expect(Date.now() - t0).toBeLessThan(20000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('is the package bin: `npx media` runs it after the build', async () => {
    // `npm run build` is `nest build` then `postbuild` (which makes the bin executable); this test may follow a bare `nest build`.
    expect((await media(['run', '-s', 'postbuild'], {}, { command: ['npm'] })).code).toBe(0);
    const r = await media(['--version'], {}, { command: ['npx', 'media'] });
    expect([r.code, r.stdout.trim()]).toEqual([0, JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version]);
  });
});
