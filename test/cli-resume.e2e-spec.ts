/**
 * `media upload` of a large file as a multipart upload, interrupted with Ctrl-C and resumed by a rerun: the built
 * binary against the real built service, on the local driver and on the S3 emulator (SigV4-checked part URLs,
 * ListParts for the resume). The file (200 MiB of random bytes) is generated in a tmp
 * dir; parts are 8 MiB (25 parts). The first run is held to 50 MiB/s (--limit-rate) so that the interruption lands
 * mid-upload on any machine; SIGINT is sent once storage holds some parts (polled through GET /media/{id}/parts).
 * The rerun must say it resumes, send only the missing parts (the server's listing after the interruption gives
 * how many were stored; the CLI's JSON says how many it sent), end `ready` with the file's SHA-256, and
 * `media download` must give the same bytes back.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, Api } from './support/api';
import { REPO_ROOT, RunningApp, startApp, token } from './support/app-process';
import { s3ServiceEnv, startS3Server } from './support/s3-server';

jest.setTimeout(240_000);

const BIN = path.join(REPO_ROOT, 'dist/apps/cli/src/main.js');
const MiB = 1024 * 1024;
const SIZE = 200 * MiB;
const PART = 8 * MiB;
const PARTS = SIZE / PART;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function media(args: string[], env: Record<string, string>, onStart?: (child: ChildProcess) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env },
      cwd: REPO_ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
    onStart?.(child);
  });
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each<'local' | 's3'>(['local', 's3'])(
  'media upload: a 200 MiB multipart upload interrupted by Ctrl-C and resumed (%s driver)',
  (driver) => {
    let app: RunningApp;
    let stopS3: (() => Promise<void>) | undefined;
    let dir: string;
    let stateDir: string;
    let env: Record<string, string>;
    let alice: Api;
    let file: string;
    let fileSha: string;

    beforeAll(async () => {
      const extra: Record<string, string> = {};
      if (driver === 's3') {
        const s3 = await startS3Server({ buckets: ['media-cli-mp'] });
        stopS3 = () => s3.stop();
        Object.assign(extra, {
          ...s3ServiceEnv(s3, 'media-cli-mp'),
        });
      }
      app = await startApp({
        MULTIPART_THRESHOLD_BYTES: String(PART),
        MULTIPART_PART_SIZE_BYTES: String(PART),
        MULTIPART_MIN_PART_SIZE_BYTES: String(PART),
        ...extra,
      });
      dir = mkdtempSync(path.join(os.tmpdir(), 'cli-resume-'));
      stateDir = path.join(dir, 'state');
      env = { MEDIA_URL: app.baseUrl, MEDIA_TOKEN: token(77), MEDIA_STATE_DIR: stateDir };
      alice = api(app.baseUrl, 77);
      // Random bytes, written 1 MiB at a time (never held whole), hashed on the way.
      file = path.join(dir, 'big.bin');
      const h = createHash('sha256');
      const fd = openSync(file, 'w');
      for (let i = 0; i < SIZE / MiB; i++) {
        const chunk = randomBytes(MiB);
        h.update(chunk);
        writeSync(fd, chunk);
      }
      closeSync(fd);
      fileSha = h.digest('hex');
    });

    afterAll(async () => {
      await app?.stop();
      await stopS3?.();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** The parts storage holds, once the listing stops changing. */
    async function settledParts(id: string): Promise<Array<{ partNumber: number; etag: string; size: number }>> {
      let last = -1;
      for (let i = 0; i < 20; i++) {
        const r = await alice.get(`/media/${id}/parts`);
        expect(r.status).toBe(200);
        if (r.body.parts.length === last) return r.body.parts;
        last = r.body.parts.length;
        await sleep(300);
      }
      throw new Error('the part listing kept changing');
    }

    it('Ctrl-C mid-upload exits 130 keeping the resume record; the rerun sends only the missing parts; ready, same bytes on download', async () => {
      // First run: interrupted once storage holds at least 3 parts.
      let assetId: string | undefined;
      let storedAtSignal = 0;
      let signalled = 0;
      const first = await media(['upload', '--wait', '--json', '--part-concurrency', '4', '--limit-rate', '50M', file], env, (child) => {
        // Each tick is fire-and-forget: it catches its own errors, and a slow one is skipped over by `signalled`.
        const poll = setInterval(
          () =>
            void (async () => {
              if (signalled || child.exitCode !== null) return clearInterval(poll);
              try {
                if (!assetId) {
                  const page = await alice.get('/media?status=pending&limit=5');
                  assetId = page.body?.items?.[0]?.assetId;
                  if (!assetId) return;
                }
                const parts = await alice.get(`/media/${assetId}/parts`);
                if (!signalled && parts.status === 200 && parts.body.parts.length >= 3) {
                  storedAtSignal = parts.body.parts.length;
                  signalled = Date.now();
                  clearInterval(poll);
                  child.kill('SIGINT');
                }
              } catch {
                /* next tick */
              }
            })(),
          50,
        );
      });
      expect(signalled).toBeGreaterThan(0);
      expect([first.code, first.stderr.trim().split('\n').at(-1)]).toEqual([130, 'media: interrupted']);
      // Promptly: well within the CLI's own 3 s fallback plus a loaded machine's margin.
      expect(Date.now() - signalled).toBeLessThan(5000);
      expect(first.stdout).toBe('');
      // The resume record stays for the rerun.
      expect(readdirSync(stateDir).filter((f) => f.endsWith('.json'))).toHaveLength(1);

      const id = assetId!;
      expect((await alice.get(`/media/${id}`)).body.status).toBe('pending');
      const stored = await settledParts(id);
      expect(stored.length).toBeGreaterThanOrEqual(storedAtSignal);
      expect(stored.length).toBeLessThan(PARTS);
      for (const p of stored) expect(p.size).toBe(PART);

      // Rerun (no rate limit): resumes the same asset, sends only the missing parts.
      const second = await media(['upload', '--wait', '--json', file], env);
      expect([second.code, second.stderr]).toEqual([
        0,
        expect.stringContaining(`resuming ${file}: ${stored.length} of ${PARTS} parts already stored`),
      ]);
      const [result] = JSON.parse(second.stdout);
      expect(result).toEqual({
        file,
        assetId: id,
        status: 'ready',
        sha256: fileSha,
        strategy: 'multipart',
        parts: { total: PARTS, sent: PARTS - stored.length, resumed: stored.length },
      });
      expect(result.parts.sent).toBeLessThan(PARTS);
      // Record removed after complete.
      expect(readdirSync(stateDir).filter((f) => f.endsWith('.json'))).toEqual([]);

      const asset = (await alice.get(`/media/${id}`)).body;
      expect(asset).toEqual(expect.objectContaining({ status: 'ready', sizeBytes: SIZE, checksumSha256: fileSha }));
      // The session is completed: no part listing any more.
      expect((await alice.get(`/media/${id}/parts`)).status).toBe(409);

      const out = path.join(dir, 'copy.bin');
      const dl = await media(['download', id, '-o', out], env);
      expect([dl.code, dl.stdout.trim()]).toEqual([0, out]);
      expect(existsSync(out)).toBe(true);
      expect(await sha256File(out)).toBe(fileSha);
      rmSync(out);

      // A third run of the same file is a new upload (nothing to resume), forced multipart with --no-resume: no record.
      const third = await media(['upload', '--json', '--no-resume', '--multipart', '--part-concurrency', '8', file], env);
      expect(third.code).toBe(0);
      const [again] = JSON.parse(third.stdout);
      expect(again).toEqual(
        expect.objectContaining({
          // Complete answers at once; the CLI waits for the assembly, by when processing may have ended too.
          status: expect.stringMatching(/^(processing|ready)$/),
          sha256: fileSha,
          strategy: 'multipart',
          parts: { total: PARTS, sent: PARTS, resumed: 0 },
        }),
      );
      expect(again.assetId).not.toBe(id);
      expect(third.stderr).not.toContain('resuming');
      expect(readdirSync(stateDir).filter((f) => f.endsWith('.json'))).toEqual([]);
    });
  },
);
