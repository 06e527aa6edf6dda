/**
 * Completion by storage event, against the built service (child process), real PostgreSQL, Redis/Bull, the S3
 * emulator (@20minutes/s3rver) and a real SQS-protocol server (fauxqs, a child process).
 *
 * The S3 emulator cannot publish bucket notifications. What it can do is emit, in-process, an `event` for every
 * object it stores; the tests forward that event to the SQS queue (or the webhook) in S3's documented event
 * notification format (see s3NotificationFromEmulator) — the step S3's notification configuration does for real.
 * The reconciliation sweep is off (RECONCILE_INTERVAL_MS=0), so an upload that becomes ready did so by its event.
 */
import { Client } from 'pg';
import * as tus from 'tus-js-client';
import { api, Api, sha256, uploadBytes } from './support/api';
import { RunningApp, startApp, token } from './support/app-process';
import { S3EmulatorEvent, s3ServiceEnv, startS3Server, S3TestServer } from './support/s3-server';
import { s3NotificationFromEmulator, s3NotificationRecord, SQS_CREDENTIALS, SqsTestServer, startSqsServer } from './support/sqs-server';
import { waitFor, waitForOutboxDrained } from './support/waits';

jest.setTimeout(120_000);

const WEBHOOK_TOKEN = 'storage-events-token-0123456789';
const EU = 'media-events-eu';
const US = 'media-events-us';

async function statusOf(
  app: RunningApp,
  id: string,
): Promise<{ status: string; failure_reason: string | null; processing_started_at: Date | null }> {
  const [row] = await app.sql(`SELECT status, failure_reason, processing_started_at FROM media_assets WHERE asset_id = $1`, [id]);
  return row;
}

/** The service's last storage-event log lines (the app logs at debug), for a failed wait's message. */
function storageEventLines(app: RunningApp): string {
  const lines = app
    .output()
    .split('\n')
    .filter((l) => /StorageEvents/.test(l))
    .map((l) => l.replace(/^\{"level":\d+,"time":"[^"]*T([^"]*)","service":"media-storage","context":"StorageEvents",/, '$1 {'));
  return `the service's last storage-event log lines:\n${lines.slice(-30).join('\n')}`;
}

function waitForStatus(app: RunningApp, id: string, status: string, timeoutMs = 20_000) {
  return waitFor(async () => ((await statusOf(app, id))?.status === status ? statusOf(app, id) : undefined), {
    what: `asset ${id} to be ${status}`,
    timeoutMs,
    explain: async () => `it is ${(await statusOf(app, id))?.status}; ${storageEventLines(app)}`,
  });
}

/** The value of one Prometheus series (0 when absent). */
async function metric(app: RunningApp, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').pop()) : 0;
}

function postEvent(app: RunningApp, body: unknown, auth: string | null = `Bearer ${WEBHOOK_TOKEN}`) {
  return fetch(`${app.baseUrl}/events/storage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('completion by storage event (s3 driver, two regions, SQS and webhook)', () => {
  let s3: S3TestServer;
  let sqs: SqsTestServer;
  let queueUrl: string;
  let app: RunningApp;
  let alice: Api;
  /** What the emulator's events are forwarded to ('sqs'), or nothing (the test sends its own events). */
  let forward: 'sqs' | 'none' = 'none';
  const seen: S3EmulatorEvent[] = [];

  beforeAll(async () => {
    [s3, sqs] = await Promise.all([startS3Server({ buckets: [EU, US] }), startSqsServer()]);
    queueUrl = await sqs.createQueue('media-storage-events');
    s3.onEvent((e) => {
      seen.push(e);
      if (forward === 'sqs') void sqs.send(queueUrl, s3NotificationFromEmulator(e));
    });
    app = await startApp({
      ...s3ServiceEnv(s3, EU),
      // Two regions in one emulator; uploads go to "us" (not the first, not STORAGE_BUCKET): the bucket names the region.
      STORAGE_REGIONS: JSON.stringify([
        { name: 'eu', bucket: EU },
        { name: 'us', bucket: US },
      ]),
      STORAGE_PRIMARY_REGION: 'us',
      REPLICATION_ENABLED: 'false',
      RECONCILE_INTERVAL_MS: '0',
      STORAGE_EVENTS_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      STORAGE_EVENTS_SQS_QUEUE_URL: queueUrl,
      STORAGE_EVENTS_SQS_ENDPOINT: sqs.endpoint,
      STORAGE_EVENTS_SQS_ACCESS_KEY_ID: SQS_CREDENTIALS.accessKeyId,
      STORAGE_EVENTS_SQS_SECRET_ACCESS_KEY: SQS_CREDENTIALS.secretAccessKey,
      STORAGE_EVENTS_SQS_VISIBILITY_TIMEOUT_SECONDS: '3',
      STORAGE_EVENTS_SQS_WAIT_SECONDS: '20',
      // Debug: a failed wait shows what the consumer did (see waitForStatus).
      LOG_LEVEL: 'debug',
    });
    alice = api(app.baseUrl, 71);
  });

  afterEach(() => {
    forward = 'none';
  });

  afterAll(async () => {
    await app?.stop();
    await Promise.all([s3?.stop(), sqs?.stop()]);
  });

  /** An upload whose bytes are in storage and whose client never calls complete (no event forwarded). */
  async function uploadedNoEvent(bytes = Buffer.from(`bytes ${Math.random()}`)) {
    const up = await uploadBytes(alice, bytes, { mimeType: 'application/octet-stream', checksum: true });
    if (up.putStatus !== 200) throw new Error(`the PUT answered ${up.putStatus}: ${up.putBody}`);
    const { status } = await statusOf(app, up.assetId);
    if (status !== 'pending') throw new Error(`asset ${up.assetId} is ${status} right after its PUT, with no event sent`);
    return { ...up, bytes, key: `uploads/71/${up.assetId}` };
  }

  const queueEmpty = () =>
    waitFor(
      async () => {
        const c = await sqs.counts(queueUrl);
        return c.visible === 0 && c.inFlight === 0;
      },
      { what: 'the SQS queue to be empty (every message deleted)', explain: async () => JSON.stringify(await sqs.counts(queueUrl)) },
    );

  it('a PUT without complete becomes ready within seconds through S3 → SQS, and the message is deleted', async () => {
    forward = 'sqs';
    const bytes = Buffer.from('completed by an S3 event notification on SQS');
    const started = Date.now();
    const up = await uploadBytes(alice, bytes, { mimeType: 'text/plain', checksum: true });
    expect(up.putStatus).toBe(200);
    await waitForStatus(app, up.assetId, 'ready', 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    const asset = await alice.get(`/media/${up.assetId}`);
    expect(asset.body).toMatchObject({ status: 'ready', checksumSha256: sha256(bytes) });
    await queueEmpty();
    expect(await metric(app, 'media_storage_events_total', { source: 'sqs', outcome: 'started' })).toBeGreaterThanOrEqual(1);
    // The emulator's event named the primary region's bucket, not STORAGE_BUCKET.
    expect(seen.some((e) => e.Records[0].s3.bucket.name === US && e.Records[0].s3.object.key.endsWith(up.assetId))).toBe(true);
  });

  it('commits the pending row before the upload URL is answered (an event sent at once finds it)', async () => {
    const reader = new Client({ connectionString: app.databaseUrl });
    await reader.connect();
    try {
      for (let i = 0; i < 10; i++) {
        const r = await alice.post('/media/upload-url', { filename: 'f.bin', mimeType: 'application/octet-stream', sizeBytes: 3 });
        expect(r.status).toBe(201);
        // Read from another connection the instant the answer arrives: the row is already visible (committed).
        const rows = await reader.query(`SELECT status FROM media_assets WHERE asset_id = $1`, [r.body.assetId]);
        expect(rows.rows).toEqual([{ status: 'pending' }]);
      }
      // And an event the instant the PUT is answered: processing starts from it (the row was there to find).
      const up = await uploadedNoEvent();
      const res = await postEvent(app, {
        Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: US, key: up.key, size: up.bytes.length })],
      });
      expect(res.status).toBe(204);
      await waitForStatus(app, up.assetId, 'ready');
    } finally {
      await reader.end();
    }
  });

  it('webhook: MinIO envelope → 204 and ready; 401 without or with a wrong token; 400 naming what is malformed', async () => {
    const up = await uploadedNoEvent();
    const minio = {
      EventName: 's3:ObjectCreated:Put',
      Key: `${US}/${up.key}`,
      Records: [{ ...s3NotificationRecord({ eventName: 's3:ObjectCreated:Put', bucket: US, key: up.key, size: up.bytes.length }) }],
    };
    expect((await postEvent(app, minio, null)).status).toBe(401);
    const wrong = await postEvent(app, minio, 'Bearer storage-events-token-0123456780');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ statusCode: 401, error: 'Unauthenticated' });
    // A user's JWT is not the webhook token.
    expect((await postEvent(app, minio, `Bearer ${token(71)}`)).status).toBe(401);
    // 401 comes before the body is read: a malformed body with a wrong token is still 401.
    expect((await postEvent(app, '{"Records": [', 'Bearer nope')).status).toBe(401);
    expect((await statusOf(app, up.assetId)).status).toBe('pending');

    const badJson = await postEvent(app, '{"Records": [');
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { message: string }).message).toMatch(/not valid JSON/);
    const notS3 = await postEvent(app, { records: [] });
    expect(notS3.status).toBe(400);
    expect(((await notS3.json()) as { message: string }).message).toMatch(/no "Records" array/);
    const badRecord = await postEvent(app, { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: US }, object: {} } }] });
    expect(badRecord.status).toBe(400);
    expect(((await badRecord.json()) as { message: string }).message).toMatch(/Records\[0\]\.s3\.object\.key/);

    const ok = await postEvent(app, minio);
    expect(ok.status).toBe(204);
    expect(await ok.text()).toBe('');
    await waitForStatus(app, up.assetId, 'ready');
  });

  it('webhook: records for keys that are no pending upload are ignored with 204 and counted', async () => {
    const before = {
      bucket: await metric(app, 'media_storage_events_ignored_total', { source: 'webhook', reason: 'unknown_bucket' }),
      notUpload: await metric(app, 'media_storage_events_ignored_total', { source: 'webhook', reason: 'not_an_upload' }),
      noPending: await metric(app, 'media_storage_events_ignored_total', { source: 'webhook', reason: 'no_pending_upload' }),
      other: await metric(app, 'media_storage_events_ignored_total', { source: 'webhook', reason: 'other_event' }),
    };
    const res = await postEvent(app, {
      Records: [
        s3NotificationRecord({
          eventName: 'ObjectCreated:Put',
          bucket: 'someone-elses-bucket',
          key: 'uploads/71/0b5c6d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e',
        }),
        s3NotificationRecord({ eventName: 'ObjectCreated:Copy', bucket: US, key: 'objects/ab/abcdef' }),
        s3NotificationRecord({
          eventName: 'ObjectCreated:Put',
          bucket: US,
          key: 'uploads/71/0b5c6d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e',
          size: 3,
        }),
        s3NotificationRecord({ eventName: 'ObjectRemoved:Delete', bucket: US, key: 'uploads/71/x' }),
      ],
    });
    expect(res.status).toBe(204);
    const testEvent = await postEvent(app, { Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: US });
    expect(testEvent.status).toBe(204);
    // A batch larger than JSON_BODY_LIMIT_BYTES (64 KiB) is accepted (the route takes up to 1 MiB).
    const batch = JSON.stringify({
      Records: Array.from({ length: 200 }, (_, i) =>
        s3NotificationRecord({ eventName: 'ObjectRemoved:Delete', bucket: US, key: `uploads/71/${String(i).padStart(36, '0')}` }),
      ),
    });
    expect(batch.length).toBeGreaterThan(64 * 1024);
    expect((await postEvent(app, batch)).status).toBe(204);
    await waitForOutboxDrained(app);
    expect(await metric(app, 'media_storage_events_ignored_total', { source: 'webhook', reason: 'unknown_bucket' })).toBe(
      before.bucket + 1,
    );
    expect(await metric(app, 'media_storage_events_ignored_total', { source: 'webhook', reason: 'not_an_upload' })).toBe(
      before.notUpload + 1,
    );
    expect(await metric(app, 'media_storage_events_ignored_total', { source: 'webhook', reason: 'no_pending_upload' })).toBe(
      before.noPending + 1,
    );
    expect(await metric(app, 'media_storage_events_ignored_total', { source: 'webhook', reason: 'other_event' })).toBe(before.other + 202);
  });

  it('accepts events from any configured region’s bucket', async () => {
    const up = await uploadedNoEvent();
    // The bytes went to the primary ("us"); an event naming the other configured region's bucket is accepted too.
    const res = await postEvent(app, { Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: EU, key: up.key })] });
    expect(res.status).toBe(204);
    await waitForStatus(app, up.assetId, 'ready');
  });

  it('duplicate and reordered events change nothing: two events, an event after complete, an event for a deleted asset', async () => {
    // Two events for the same key, through SQS: processing starts once.
    const twice = await uploadedNoEvent();
    const note = {
      Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: US, key: twice.key, size: twice.bytes.length })],
    };
    const startedBefore = await metric(app, 'media_storage_events_total', { source: 'sqs', outcome: 'started' });
    const dupBefore = await metric(app, 'media_storage_events_total', { source: 'sqs', outcome: 'duplicate' });
    await sqs.send(queueUrl, note);
    await sqs.send(queueUrl, note);
    const first = await waitForStatus(app, twice.assetId, 'ready');
    await queueEmpty();
    expect(await metric(app, 'media_storage_events_total', { source: 'sqs', outcome: 'started' })).toBe(startedBefore + 1);
    expect(await metric(app, 'media_storage_events_total', { source: 'sqs', outcome: 'duplicate' })).toBe(dupBefore + 1);
    // …and once more, long after: still nothing changes.
    await sqs.send(queueUrl, note);
    await queueEmpty();
    expect((await statusOf(app, twice.assetId)).processing_started_at).toEqual(first.processing_started_at);
    const [obj] = await app.sql(`SELECT ref_count FROM stored_objects WHERE checksum_sha256 = $1`, [sha256(twice.bytes)]);
    expect(obj.ref_count).toBe(1);

    // The client's complete first, the event after it.
    const completed = await uploadedNoEvent();
    expect((await alice.post(`/media/${completed.assetId}/complete`)).status).toBe(202);
    const afterComplete = await statusOf(app, completed.assetId);
    await sqs.send(queueUrl, { Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: US, key: completed.key })] });
    await queueEmpty();
    await waitForStatus(app, completed.assetId, 'ready');
    expect((await statusOf(app, completed.assetId)).processing_started_at).toEqual(afterComplete.processing_started_at);
    // And the client's complete after an event: answers the status reached, changes nothing.
    const again = await alice.post(`/media/${completed.assetId}/complete`);
    expect(again.status).toBe(202);
    expect(again.body.status).toBe('ready');

    // An event that arrives after its asset was deleted: ignored, the message still deleted.
    const deleted = await uploadedNoEvent();
    expect((await alice.del(`/media/${deleted.assetId}`)).status).toBe(204);
    await sqs.send(queueUrl, { Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: US, key: deleted.key })] });
    await queueEmpty();
    expect((await statusOf(app, deleted.assetId)).status).toBe('deleted');
  });

  it('a size in the event that differs from the declared one fails the asset with a reason', async () => {
    const up = await uploadedNoEvent(Buffer.from('twelve bytes'));
    await sqs.send(queueUrl, { Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: US, key: up.key, size: 13 })] });
    await queueEmpty();
    const row = await waitForStatus(app, up.assetId, 'failed');
    expect(row.failure_reason).toBe('size mismatch: declared 12 bytes, stored 13');
    expect((await alice.get(`/media/${up.assetId}`)).body).toMatchObject({
      status: 'failed',
      failureReason: 'size mismatch: declared 12 bytes, stored 13',
    });
    // A later correct event (or complete) does not revive it.
    await sqs.send(queueUrl, { Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: US, key: up.key, size: 12 })] });
    await queueEmpty();
    expect((await statusOf(app, up.assetId)).status).toBe('failed');
  });

  it('reads SNS envelopes (raw and not raw), EventBridge events, and ignores the S3 test event, via SQS', async () => {
    const raw = await uploadedNoEvent();
    const wrapped = await uploadedNoEvent();
    const bridge = await uploadedNoEvent();
    const direct = (u: typeof raw) => ({
      Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: US, key: u.key, size: u.bytes.length })],
    });
    // SNS with raw message delivery: the S3 notification itself is the message body.
    await sqs.send(queueUrl, direct(raw));
    // SNS without raw delivery: the SNS envelope, the notification as a JSON string in Message.
    await sqs.send(queueUrl, {
      Type: 'Notification',
      MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:media-uploads',
      Subject: 'Amazon S3 Notification',
      Message: JSON.stringify(direct(wrapped)),
      Timestamp: new Date().toISOString(),
      SignatureVersion: '1',
    });
    // EventBridge rule → SQS: the "Object Created" event.
    await sqs.send(queueUrl, {
      version: '0',
      id: '17793124-05d4-b198-2fde-7ededc63b103',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '123456789012',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${US}`],
      detail: {
        version: '0',
        bucket: { name: US },
        object: { key: bridge.key, size: bridge.bytes.length, etag: 'b1946ac92492d2347c6235b4d2611184' },
        reason: 'PutObject',
      },
    });
    // The test event S3 sends when the notification configuration is saved: deleted, nothing else.
    await sqs.send(queueUrl, { Service: 'Amazon S3', Event: 's3:TestEvent', Time: new Date().toISOString(), Bucket: US });
    await Promise.all([raw, wrapped, bridge].map((u) => waitForStatus(app, u.assetId, 'ready')));
    await queueEmpty();
  });

  it('a message that cannot be applied stays on the queue (for the redrive policy)', async () => {
    await sqs.send(queueUrl, 'this is not a storage event');
    await waitFor(async () => app.output().includes('is not a storage event'), { what: 'the poison message to be logged' });
    // Not deleted: it is in flight (received, invisible) or visible again after its visibility timeout.
    const c = await sqs.counts(queueUrl);
    expect(c.visible + c.inFlight).toBe(1);
    await sqs.purge(queueUrl);
  });

  it('deletes a message only after the completion is committed: killed mid-way, it is redelivered and applied once', async () => {
    const up = await uploadedNoEvent();
    // Hold the asset row locked from another connection: the worker receives the message and blocks in the
    // transaction that would move the asset to processing.
    const locker = new Client({ connectionString: app.databaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM media_assets WHERE asset_id = $1 FOR UPDATE`, [up.assetId]);
      await sqs.send(queueUrl, {
        Records: [s3NotificationRecord({ eventName: 'ObjectCreated:Put', bucket: US, key: up.key, size: up.bytes.length })],
      });
      await waitFor(
        async () => {
          const rows = await locker.query(
            `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`,
          );
          return rows.rows[0].n > 0;
        },
        { what: 'the worker to wait for the asset row lock', explain: async () => storageEventLines(app) },
      );
      expect((await sqs.counts(queueUrl)).inFlight).toBe(1);
      await app.stopProcess('SIGKILL');
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    // Nothing was committed, and the message was not deleted.
    expect((await statusOf(app, up.assetId)).status).toBe('pending');
    const c = await sqs.counts(queueUrl);
    expect(c.visible + c.inFlight).toBe(1);
    await app.restart();
    await waitForStatus(app, up.assetId, 'ready', 30_000);
    await queueEmpty();
    expect(await metric(app, 'media_storage_events_total', { source: 'sqs', outcome: 'started' })).toBe(1);
    const [obj] = await app.sql(`SELECT ref_count FROM stored_objects WHERE checksum_sha256 = $1`, [sha256(up.bytes)]);
    expect(obj.ref_count).toBe(1);
  });

  it('stops polling on SIGTERM without waiting out the long poll', async () => {
    await app.restart({ LOG_LEVEL: 'info' });
    await waitFor(async () => app.output().split('--- start').pop()!.includes('Consuming storage events from SQS queue'), {
      what: 'the SQS consumer to start',
    });
    // The poller is in a 20 s long poll; the graceful shutdown aborts it.
    const started = Date.now();
    await app.stopProcess('SIGTERM');
    expect(Date.now() - started).toBeLessThan(8000);
    expect(app.output().split('--- start').pop()).toContain('shutdown complete');
  });
});

describe('completion by storage event (local driver)', () => {
  let app: RunningApp;
  let alice: Api;

  beforeAll(async () => {
    app = await startApp({ LOCAL_PUT_COMPLETES: 'true', RECONCILE_INTERVAL_MS: '0' });
    alice = api(app.baseUrl, 72);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('a verified single PUT moves the asset to processing before the PUT is answered, and it becomes ready', async () => {
    const bytes = Buffer.from('a local PUT is its own storage event');
    const up = await uploadBytes(alice, bytes, { mimeType: 'text/plain', checksum: true });
    expect(up.putStatus).toBe(200);
    expect(['processing', 'ready']).toContain((await statusOf(app, up.assetId)).status);
    await waitForStatus(app, up.assetId, 'ready');
    // complete stays optional: it answers the status reached.
    const done = await alice.post(`/media/${up.assetId}/complete`);
    expect(done.status).toBe(202);
    expect(done.body.status).toBe('ready');
  });

  it('a form POST upload completes itself too', async () => {
    const bytes = Buffer.from('posted form upload');
    const r = await alice.post('/media/upload-url', { filename: 'p.txt', mimeType: 'text/plain', sizeBytes: bytes.length, mode: 'post' });
    expect(r.status).toBe(201);
    const form = new FormData();
    for (const [k, v] of Object.entries(r.body.fields as Record<string, string>)) form.append(k, v);
    form.append('file', new Blob([bytes], { type: 'text/plain' }), 'p.txt');
    const posted = await fetch(r.body.uploadUrl, { method: 'POST', body: form });
    expect(posted.status).toBe(204);
    await waitForStatus(app, r.body.assetId, 'ready');
  });

  it('a finished tus upload completes itself', async () => {
    const bytes = Buffer.alloc(300 * 1024, 7);
    const url = await new Promise<string>((resolve, reject) => {
      const upload: tus.Upload = new tus.Upload(bytes, {
        endpoint: `${app.baseUrl}/tus/`,
        chunkSize: 100 * 1024,
        headers: { Authorization: `Bearer ${token(72)}` },
        metadata: { filename: 't.bin', filetype: 'application/octet-stream' },
        retryDelays: [],
        onError: reject,
        onSuccess: () => resolve(upload.url as string),
      });
      upload.start();
    });
    const id = url.split('/').pop()!;
    await waitForStatus(app, id, 'ready');
  });

  it('a failed PUT (wrong checksum) completes nothing; multipart uploads still need complete', async () => {
    const bytes = Buffer.from('these bytes are not the declared ones');
    const r = await alice.post('/media/upload-url', {
      filename: 'x.txt',
      mimeType: 'text/plain',
      sizeBytes: bytes.length,
      checksumSha256: sha256('other'),
    });
    const put = await fetch(r.body.uploadUrl, { method: 'PUT', headers: r.body.headers, body: bytes });
    expect(put.status).toBeGreaterThanOrEqual(400);
    expect((await statusOf(app, r.body.assetId)).status).toBe('pending');

    const m = await alice.post('/media/upload-url', {
      filename: 'm.bin',
      mimeType: 'application/octet-stream',
      sizeBytes: 10,
      multipart: true,
    });
    expect(m.status).toBe(201);
    const part = m.body.parts[0];
    const partPut = await fetch(part.url, { method: 'PUT', headers: part.headers, body: Buffer.alloc(10, 1) });
    expect(partPut.status).toBe(200);
    await waitForOutboxDrained(app);
    expect((await statusOf(app, m.body.assetId)).status).toBe('pending');
    const done = await alice.post(`/media/${m.body.assetId}/complete`, { parts: [{ partNumber: 1, etag: partPut.headers.get('etag') }] });
    expect(done.status).toBe(202);
    await waitForStatus(app, m.body.assetId, 'ready');
  });

  it('without a webhook token the route does not exist (404, as for any unknown route)', async () => {
    const res = await postEvent(app, { Records: [] });
    const unknown = await fetch(`${app.baseUrl}/events/elsewhere`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(404);
    expect(unknown.status).toBe(404);
    const [a, b] = [(await res.json()) as Record<string, string>, (await unknown.json()) as Record<string, string>];
    expect(a).toEqual({ ...b, message: b.message.replace('/events/elsewhere', '/events/storage') });
    // Even with a malformed body.
    expect((await postEvent(app, '{nope')).status).toBe(404);
  });

  it('with LOCAL_PUT_COMPLETES=false a PUT leaves the asset pending until complete', async () => {
    await app.restart({ LOCAL_PUT_COMPLETES: 'false' });
    const up = await uploadBytes(alice, Buffer.from('waits for complete'), { mimeType: 'text/plain' });
    expect(up.putStatus).toBe(200);
    await waitForOutboxDrained(app);
    expect((await statusOf(app, up.assetId)).status).toBe('pending');
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    await waitForStatus(app, up.assetId, 'ready');
  });
});
