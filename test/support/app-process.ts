import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import jwt from 'jsonwebtoken';
import { Client, Pool } from 'pg';
import { unwatchOrigin, watchOrigin } from './contract-origins';
import { waitFor } from './waits';

/** Repository root, whether this file runs from test/support (jest) or dist-bench/test/support (benchmarks). */
export const REPO_ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist-bench${path.sep}`) ? '../../..' : '../..');
/** BENCH_MAIN_JS: another build of the service (e.g. a baseline worktree's dist) for back-to-back comparisons. */
export const MAIN_JS = process.env.BENCH_MAIN_JS ?? path.join(REPO_ROOT, 'dist/apps/api/src/main.js');
export const JWT_SECRET = 'e2e-test-secret-0123456789-abcdefghijklmnop';
const PG_ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';

let counter = 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function token(sub: string | number, claims: Record<string, unknown> = {}, secret = JWT_SECRET): string {
  return jwt.sign({ sub: String(sub), ...claims }, secret, { algorithm: 'HS256', expiresIn: 3600 });
}

export interface RunningApp {
  baseUrl: string;
  port: number;
  databaseUrl: string;
  storageRoot: string;
  env: Record<string, string>;
  /** Everything the process printed so far. */
  output(): string;
  /** The service's process id (for RSS readings). */
  pid(): number;
  /** Run a query against the app's database. */
  sql<T = any>(text: string, params?: unknown[]): Promise<T[]>;
  /** SIGTERM and wait; SIGKILL after 10 s. Keeps the database (for restarts). */
  stopProcess(signal?: NodeJS.Signals): Promise<void>;
  /** Start the process again with the same database, Redis prefix and storage. */
  restart(extraEnv?: Record<string, string>): Promise<void>;
  /** Stop and drop everything the app owned (database, Redis keys, storage directory). */
  stop(): Promise<void>;
}

/**
 * Starts the built service (`dist/`) as a real child process on 127.0.0.1 with its own database
 * (created by the service itself), its own Redis key prefix and its own storage directory. `nodeArgs` go to node
 * before the script (e.g. `--cpu-prof`, which NODE_OPTIONS does not take).
 */
export async function startApp(env: Record<string, string> = {}, opts: { nodeArgs?: string[]; mainJs?: string } = {}): Promise<RunningApp> {
  const id = `${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const port = await freePort();
  const storageRoot = mkdtempSync(path.join(os.tmpdir(), 'media-e2e-'));
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/media_e2e_${id}`;
  const fullEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    REDIS_URL: 'redis://127.0.0.1:6379/0',
    REDIS_KEY_PREFIX: `e2e_${id}`,
    JWT_SECRET,
    STORAGE_DRIVER: 'local',
    LOCAL_STORAGE_ROOT: storageRoot,
    LOG_LEVEL: 'warn',
    PROCESSING_BACKOFF_MS: '200',
    OUTBOX_POLL_INTERVAL_MS: '200',
    // The suites written before uploads completed themselves exercise the client's complete call and the sweep on the
    // local driver; test/storage-events.e2e-spec.ts turns the service's default (true) back on.
    LOCAL_PUT_COMPLETES: 'false',
    ...env,
  };
  let child: ChildProcess | undefined;
  let out = '';

  async function launch(extra: Record<string, string> = {}) {
    out += `--- start ${new Date().toISOString()}\n`;
    child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.mainJs ?? MAIN_JS], {
      env: { ...fullEnv, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${out}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/health/live`);
        if (r.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    throw new Error(`service did not become live within 30 s:\n${out}`);
  }

  async function stopProcess(signal: NodeJS.Signals = 'SIGTERM') {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(t);
  }

  await launch();
  const pool = new Pool({ connectionString: databaseUrl, max: 2 });
  pool.on('error', () => undefined); // fault tests terminate backends; the pool reconnects

  // The e2e suite checks every answer from this origin against openapi.json (contract-setup.ts).
  watchOrigin(`http://127.0.0.1:${port}`);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    databaseUrl,
    storageRoot,
    env: fullEnv,
    output: () => out,
    pid: () => child?.pid ?? -1,
    sql: async (text, params) => (await pool.query(text, params as any[])).rows,
    stopProcess,
    restart: async (extra) => {
      await stopProcess();
      await launch(extra);
    },
    stop: async () => {
      unwatchOrigin(`http://127.0.0.1:${port}`);
      await stopProcess();
      await pool.end().catch(() => undefined);
      const admin = new Client({ connectionString: PG_ADMIN });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "media_e2e_${id}" WITH (FORCE)`).catch(() => undefined);
      await admin.end();
      const redis = new Redis(fullEnv.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      await redis.connect().catch(() => undefined);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${fullEnv.REDIS_KEY_PREFIX}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await redis.del(...keys);
        } while (cursor !== '0');
      } catch {
        /* redis gone: nothing to clean */
      }
      redis.disconnect();
      rmSync(storageRoot, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a truthy value or `ms` passes (waitFor without naming what it waits for). */
/**
 * A second replica of `of`: another process of the same service on the same database, Redis key prefix and storage
 * directory (what two pods behind one load balancer share). `env` adds settings, as startApp's.
 */
export function startReplica(of: RunningApp, env: Record<string, string> = {}, opts: { nodeArgs?: string[] } = {}): Promise<RunningApp> {
  return startApp(
    { ...env, DATABASE_URL: of.databaseUrl, REDIS_KEY_PREFIX: of.env.REDIS_KEY_PREFIX, LOCAL_STORAGE_ROOT: of.storageRoot },
    opts,
  );
}

export async function eventually<T>(check: () => Promise<T | undefined | null | false>, ms = 20000, every = 100): Promise<T> {
  return waitFor(check, { timeoutMs: ms, everyMs: every, what: 'a condition' });
}
