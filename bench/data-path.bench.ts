/**
 * Upload data path, each figure against a baseline measured in the same run:
 *   local driver: a single PUT through the service (hash + write + fsync) vs `dd conv=fdatasync` on the same disk
 *   s3 driver:    a PUT to our pre-signed URL vs a raw SDK PutObject to the same S3-protocol server
 * Target: >= 80 % of raw. Sizes: BENCH_SINGLE_MIB (default 1024).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createReadStream, statSync } from 'node:fs';
import { api } from '../test/support/api';
import { s3DriverFor, s3ServiceEnv, startS3Server } from '../test/support/s3-server';
import { ddWriteMBps, makeFile, putFile } from './files';
import { report, startProductionService } from './support';

const SINGLE_MIB = Number(process.env.BENCH_SINGLE_MIB ?? 1024);

async function signedPut(baseUrl: string, sizeBytes: number) {
  const r = await api(baseUrl, 77).post('/media/upload-url', {
    filename: 'big.bin',
    mimeType: 'application/octet-stream',
    sizeBytes,
    multipart: false,
  }); // the single-PUT data path (multipart has its own bench)
  if (r.status !== 201) throw new Error(`upload-url: ${r.status} ${r.text}`);
  return r.body as { uploadUrl: string; headers: Record<string, string> };
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-data-'));
  console.log(`# upload data path — ${SINGLE_MIB} MiB single PUT, files in ${dir}`);
  try {
    const file = path.join(dir, 'payload.bin');
    makeFile(file, SINGLE_MIB);
    const size = statSync(file).size;

    // local driver vs dd on the same disk
    const raw = ddWriteMBps(path.join(dir, 'dd.bin'), SINGLE_MIB);
    rmSync(path.join(dir, 'dd.bin'));
    const app = await startProductionService({ LOCAL_STORAGE_ROOT: path.join(dir, 'store') });
    try {
      const grant = await signedPut(app.baseUrl, size);
      const put = await putFile(grant.uploadUrl, grant.headers, file);
      if (put.status !== 200) throw new Error(`local PUT answered ${put.status}: ${put.body}`);
      console.log(`local: dd conv=fdatasync ${raw.toFixed(0)} MB/s; PUT through the service ${put.mbps.toFixed(0)} MB/s`);
      report('local single PUT vs raw disk', Math.round((100 * put.mbps) / raw), '%', { min: 80 });
    } finally {
      await app.stop();
    }

    // s3 driver: pre-signed PUT vs raw SDK PutObject to the same emulator
    const s3 = await startS3Server({ buckets: ['bench'] });
    const s3app = await startProductionService({
      ...s3ServiceEnv(s3, 'bench'),
    });
    try {
      const driver = s3DriverFor(s3, 'bench', { requestTimeoutMs: 600_000 });
      const t = Date.now();
      await driver.write({
        key: 'raw/put.bin',
        body: createReadStream(file),
        contentType: 'application/octet-stream',
        contentLength: size,
      });
      const rawS3 = size / 1e6 / ((Date.now() - t) / 1000);
      const grant = await signedPut(s3app.baseUrl, size);
      const put = await putFile(grant.uploadUrl, grant.headers, file);
      if (put.status !== 200) throw new Error(`s3 PUT answered ${put.status}: ${put.body}`);
      console.log(
        `s3 (emulator): raw SDK PutObject ${rawS3.toFixed(0)} MB/s; pre-signed PUT ${put.mbps.toFixed(0)} MB/s (bytes never pass through the service)`,
      );
      report('s3 pre-signed PUT vs raw PutObject', Math.round((100 * put.mbps) / rawS3), '%', { min: 80 });
    } finally {
      await s3app.stop();
      await s3.stop();
    }
    console.log('5 GiB multipart: see npm run bench:multipart');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
