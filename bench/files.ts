import { randomBytes } from 'node:crypto';
import { createReadStream, openSync, writeSync, closeSync, statSync } from 'node:fs';
import http from 'node:http';
import { execFileSync } from 'node:child_process';

/** Writes a file of `mib` MiB made of one random MiB repeated (fast to make, not compressible within a MiB). */
export function makeFile(path: string, mib: number): void {
  const block = randomBytes(1024 * 1024);
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mib; i++) {
      block[0] = i & 0xff; // every MiB differs a little
      block[1] = (i >> 8) & 0xff;
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
}

/** Raw sequential write speed of the disk holding `dir`, as dd with conv=fdatasync measures it (MB/s). */
export function ddWriteMBps(file: string, mib: number): number {
  const t = Date.now();
  execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fdatasync'], { stdio: 'ignore' });
  return (mib * 1.048576) / ((Date.now() - t) / 1000);
}

/** PUTs a file to a URL with the given headers, streaming it; resolves with status and MB/s. */
export function putFile(
  url: string,
  headers: Record<string, string>,
  path: string,
): Promise<{ status: number; mbps: number; body: string }> {
  const size = statSync(path).size;
  return new Promise((resolve, reject) => {
    const t = Date.now();
    const req = http.request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(size) } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, mbps: size / 1e6 / ((Date.now() - t) / 1000), body }));
    });
    req.on('error', reject);
    createReadStream(path, { highWaterMark: 1024 * 1024 }).pipe(req);
  });
}

export function sha256sumSeconds(path: string): { seconds: number; hex: string } {
  const t = Date.now();
  const out = execFileSync('sha256sum', [path], { encoding: 'utf8' });
  return { seconds: (Date.now() - t) / 1000, hex: out.split(' ')[0] };
}

/** `openssl dgst -sha256` of the file (OpenSSL uses the CPU's SHA extensions, as Node's crypto does; coreutils' sha256sum does not). */
export function opensslSha256Seconds(path: string): number {
  const t = Date.now();
  execFileSync('openssl', ['dgst', '-sha256', path], { encoding: 'utf8' });
  return (Date.now() - t) / 1000;
}
