/**
 * Completion by storage event: latency from the event to the start of processing, over BENCH_EVENT_UPLOADS uploads
 * per path (default 100), against the reconciliation sweep, the path an upload whose client never calls complete
 * had before (it waits up to RECONCILE_INTERVAL_MS + RECONCILE_PENDING_AFTER_MS).
 *
 *   webhook: POST /events/storage (S3 notification JSON, as MinIO's webhook sends it) → processing_started_at
 *   sqs:     SendMessage of the S3 notification to the queue the service long-polls → processing_started_at
 *
 * The service runs in production mode with the s3 driver against the S3 emulator, and the SQS queue is fauxqs (both
 * on 127.0.0.1). The uploads are PUT first (the emulator publishes no notifications, so nothing completes them);
 * then the events are sent open-loop at BENCH_EVENT_RATE per second (default 5: this measures latency, not
 * throughput), each timestamped when sent; the processing start is the asset's processing_started_at (same host,
 * same clock). Processing runs meanwhile, as it would in production. The webhook's own answer time is printed too
 * (it answers once the record is committed).
 */
import { api, Api, uploadBytes } from '../test/support/api';
import { RunningApp } from '../test/support/app-process';
import { s3ServiceEnv, startS3Server } from '../test/support/s3-server';
import { s3NotificationRecord, SQS_CREDENTIALS, startSqsServer, SqsTestServer } from '../test/support/sqs-server';
import { waitFor } from '../test/support/waits';
import { report, startProductionService } from './support';

const UPLOADS = Number(process.env.BENCH_EVENT_UPLOADS ?? 100);
const RATE = Number(process.env.BENCH_EVENT_RATE ?? 5);
const BUCKET = 'media-bench-events';
const TOKEN = 'bench-storage-events-token-0123456789';
const OWNER = 91;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function uploadMany(client: Api, n: number): Promise<{ assetId: string; key: string; size: number }[]> {
  const out: { assetId: string; key: string; size: number }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n) {
        const i = next++;
        const bytes = Buffer.from(`storage event benchmark upload ${i} ${Math.random()}`);
        const up = await uploadBytes(client, bytes, { mimeType: 'text/plain' });
        if (up.putStatus !== 200) throw new Error(`PUT answered ${up.putStatus}`);
        out.push({ assetId: up.assetId, key: `uploads/${OWNER}/${up.assetId}`, size: bytes.length });
      }
    }),
  );
  return out;
}

/** Sends one event per upload at RATE per second; returns when each was sent (ms since the epoch) by asset id. */
async function sendOpenLoop(
  uploads: { assetId: string; key: string; size: number }[],
  send: (u: { key: string; size: number }) => Promise<void>,
): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>();
  const start = Date.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < uploads.length; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const u = uploads[i];
    sentAt.set(u.assetId, Date.now());
    inFlight.push(send(u));
  }
  await Promise.all(inFlight);
  return sentAt;
}

async function latencies(app: RunningApp, sentAt: Map<string, number>): Promise<number[]> {
  const ids = [...sentAt.keys()];
  await waitFor(
    async () => {
      const [r] = await app.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM media_assets WHERE asset_id = ANY($1) AND processing_started_at IS NOT NULL`,
        [ids],
      );
      return r.n === ids.length;
    },
    { what: `processing to start for ${ids.length} uploads`, timeoutMs: 120_000, everyMs: 250 },
  );
  const rows = await app.sql<{ asset_id: string; started: number }>(
    `SELECT asset_id, (EXTRACT(EPOCH FROM processing_started_at) * 1000)::float8 AS started FROM media_assets WHERE asset_id = ANY($1)`,
    [ids],
  );
  return rows.map((r) => r.started - sentAt.get(r.asset_id)!).sort((a, b) => a - b);
}

function summarise(path: string, ms: number[], sweepMs: number): void {
  const p50 = Math.round(percentile(ms, 50));
  const p99 = Math.round(percentile(ms, 99));
  console.log(`  ${path.padEnd(8)} n=${ms.length}  p50 ${p50} ms  p99 ${p99} ms  max ${Math.round(ms[ms.length - 1])} ms`);
  report(`${path}: event → processing start p50`, p50, 'ms', { max: 1000 }, `(sweep: up to ${sweepMs} ms)`);
  report(`${path}: event → processing start p99`, p99, 'ms', { max: 5000 });
}

async function main() {
  console.log(`# storage events — ${UPLOADS} uploads per path, events sent at ${RATE}/s`);
  const [s3, sqs]: [Awaited<ReturnType<typeof startS3Server>>, SqsTestServer] = await Promise.all([
    startS3Server({ buckets: [BUCKET] }),
    startSqsServer(),
  ]);
  const queueUrl = await sqs.createQueue('bench-storage-events');
  const app = await startProductionService({
    ...s3ServiceEnv(s3, BUCKET),
    RATE_LIMIT_UPLOAD_URLS_PER_MINUTE: '10000000',
    STORAGE_EVENTS_WEBHOOK_TOKEN: TOKEN,
    STORAGE_EVENTS_SQS_QUEUE_URL: queueUrl,
    STORAGE_EVENTS_SQS_ENDPOINT: sqs.endpoint,
    STORAGE_EVENTS_SQS_ACCESS_KEY_ID: SQS_CREDENTIALS.accessKeyId,
    STORAGE_EVENTS_SQS_SECRET_ACCESS_KEY: SQS_CREDENTIALS.secretAccessKey,
    // The sweep must not be what starts them: its pending age is set beyond the run.
    RECONCILE_PENDING_AFTER_MS: String(60 * 60_000),
  });
  try {
    const interval = Number(app.env.RECONCILE_INTERVAL_MS ?? 60_000);
    const pendingAfter = 60_000; // the default RECONCILE_PENDING_AFTER_MS a deployment runs with
    const sweepMs = interval + pendingAfter;
    console.log(
      `reconciliation sweep (the fallback): every ${interval / 1000} s for uploads pending ≥ ${pendingAfter / 1000} s — up to ${sweepMs / 1000} s`,
    );
    const client = api(app.baseUrl, OWNER);

    const forWebhook = await uploadMany(client, UPLOADS);
    const answerMs: number[] = [];
    const webhookSent = await sendOpenLoop(forWebhook, async (u) => {
      const t = performance.now();
      const r = await fetch(`${app.baseUrl}/events/storage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({
          EventName: 's3:ObjectCreated:Put',
          Key: `${BUCKET}/${u.key}`,
          Records: [s3NotificationRecord({ eventName: 's3:ObjectCreated:Put', bucket: BUCKET, key: u.key, size: u.size })],
        }),
      });
      if (r.status !== 204) throw new Error(`webhook answered ${r.status}: ${await r.text()}`);
      answerMs.push(performance.now() - t);
    });
    summarise('webhook', await latencies(app, webhookSent), sweepMs);
    answerMs.sort((a, b) => a - b);
    console.log(
      `  webhook answer (204, the record committed): p50 ${Math.round(percentile(answerMs, 50))} ms  p99 ${Math.round(percentile(answerMs, 99))} ms`,
    );

    const forSqs = await uploadMany(client, UPLOADS);
    const sqsSent = await sendOpenLoop(forSqs, (u) =>
      sqs.send(queueUrl, { Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: BUCKET, key: u.key, size: u.size })] }),
    );
    summarise('sqs', await latencies(app, sqsSent), sweepMs);
  } finally {
    await app.stop();
    await Promise.all([s3.stop(), sqs.stop()]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
