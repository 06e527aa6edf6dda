/**
 * The floor for `bench:render`'s cold renders: a bare HTTP server (node:http, no framework) that does only what no
 * render service can skip — parse the request, render with sharp exactly as the service does (same options, libvips
 * writing to a file, at most `concurrency` at once), rename the file into place and answer a small JSON body. No
 * authentication, database, cache, rate limit, hashing, fsync or signed URL. Started by render.bench.ts on 127.0.0.1
 * with the service's malloc settings and measured in the same rounds as the service and the same client: the most an
 * HTTP service with those settings can reach on this machine, next to what sharp reaches when called in-process.
 *
 * argv[2]: JSON { files: string[], dir: string, concurrency: number }. Sends its port to the parent when listening.
 */
import { mkdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import sharp, { type OutputInfo } from 'sharp';

const { files, dir, concurrency } = JSON.parse(process.argv[2]) as { files: string[]; dir: string; concurrency: number };
sharp.cache(false);
mkdirSync(dir, { recursive: true });

let active = 0;
const waiting: (() => void)[] = [];
const take = () => (active < concurrency ? (active++, Promise.resolve()) : new Promise<void>((r) => waiting.push(r)));
const give = () => {
  const next = waiting.shift();
  if (next) next();
  else active--;
};
let n = 0;

const server = http.createServer((req, res) => {
  void (async () => {
    const url = new URL(req.url ?? '/', 'http://floor');
    const file = files[Number(url.searchParams.get('i'))];
    const width = Number(url.searchParams.get('width'));
    const out = path.join(dir, `r-${process.pid}-${n++}`);
    await take();
    let info: OutputInfo;
    try {
      info = await sharp(file, { limitInputPixels: 100_000_000, sequentialRead: true, failOn: 'none' })
        .timeout({ seconds: 30 })
        .rotate()
        .resize({ width, height: 400, fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toFile(out);
    } finally {
      give();
    }
    await rename(out, `${out}.webp`);
    const body = JSON.stringify({
      url: `http://127.0.0.1/${path.basename(out)}.webp`,
      expiresAt: new Date().toISOString(),
      size: info.size,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  })().catch((e: unknown) => {
    res.writeHead(500);
    res.end(String(e));
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.(typeof address === 'object' && address ? address.port : 0);
});
process.on('disconnect', () => process.exit(0));
