/**
 * The S3 emulator (test/support/s3-server.ts) in a process of its own, for benchmarks: run in the benchmark's own
 * process, its CPU-bound work (MD5 of every part as it arrives, of the whole object at CompleteMultipartUpload)
 * holds the benchmark's event loop, so whatever the benchmark times meanwhile (e.g. a 202 arriving) waits for it.
 * Started with fork() (see startS3EmulatorProcess): argv[2] is the options as JSON; it answers its address over IPC
 * and stops (removing its directory unless kept) when told to.
 */
import { startS3Server, S3TestServerOptions } from '../test/support/s3-server';

async function main() {
  const opts = JSON.parse(process.argv[2] ?? '{}') as S3TestServerOptions;
  const s3 = await startS3Server(opts);
  process.on('message', (m: { stop?: { keepData?: boolean } }) => {
    if (!m.stop) return;
    void s3.stop(m.stop).then(() => process.exit(0));
  });
  process.send!({ endpoint: s3.endpoint, port: s3.port, directory: s3.directory });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
