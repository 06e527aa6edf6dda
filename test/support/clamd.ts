import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, REPO_ROOT } from './app-process';

/** From test/support (jest) or dist-bench/test/support (benchmarks) alike. */
const SCRIPT = path.join(REPO_ROOT, 'scripts/clamd.sh');

/** The EICAR anti-virus test file (harmless; every scanner reports it). The signature DB written by scripts/clamd.sh finds it. */
export const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');

export interface RunningClamd {
  host: string;
  port: number;
  /** Env for the service: SCANNER=clamd on this instance. */
  env: Record<string, string>;
  /** The clamd process's id (0 while stopped), e.g. to read its CPU time. */
  pid(): number;
  /** Stops clamd (the port is then refused) … */
  stop(): Promise<void>;
  /** … and starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  destroy(): Promise<void>;
  output(): string;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('zPING\0'));
    s.on('data', (d) => {
      data += String(d);
      if (data.includes('PONG')) done(true);
    });
  });
}

/**
 * A real clamd of our own on 127.0.0.1 and a free port, in the foreground under this test (scripts/clamd.sh run:
 * installs Debian's clamav-daemon when missing, writes a config and a one-signature database for EICAR; no freshclam).
 */
export async function startClamd(): Promise<RunningClamd> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clamd-e2e-'));
  let proc: ChildProcess | undefined;
  let out = '';

  async function start() {
    if (proc && proc.exitCode === null && proc.signalCode === null) return; // already running
    proc = spawn('bash', [SCRIPT, 'run', dir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const deadline = Date.now() + 120000; // the first run may install the package
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`clamd exited with ${proc.exitCode}:\n${out}`);
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`clamd did not answer on 127.0.0.1:${port}:\n${out}`);
  }

  async function stop() {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  await start();
  return {
    host: '127.0.0.1',
    port,
    env: {
      SCANNER: 'clamd',
      CLAMD_HOST: '127.0.0.1',
      CLAMD_PORT: String(port),
      CLAMD_CONNECT_TIMEOUT_MS: '1000',
      CLAMD_TIMEOUT_MS: '20000',
    },
    pid: () => (proc && proc.exitCode === null && proc.signalCode === null ? (proc.pid ?? 0) : 0),
    stop,
    start,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => out,
  };
}
