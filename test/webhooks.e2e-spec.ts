/**
 * Webhooks: operators register an endpoint; asset events (written to the outbox with the status change) are
 * delivered HMAC-signed with a timestamp, retried with backoff, recorded per attempt, and replayable.
 * The receiver is a real HTTP server on 127.0.0.1 that refuses the first attempt of every event.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { api, Api, uploadBytes } from './support/api';
import { eventually, RunningApp, startApp } from './support/app-process';
import { QUEUES, waitForQueuesIdle } from './support/waits';

// The e2e project's testTimeout is not applied per project by jest; bound every test and hook here.
jest.setTimeout(60000);

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  answered: number;
}

/** Records every POST; answers 500 to the first attempt of each event id, 200 afterwards. */
async function startReceiver() {
  const received: Received[] = [];
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const id = String(req.headers['x-webhook-id']);
      const answered = seen.has(id) ? 200 : 500;
      seen.add(id);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      received.push({ headers: req.headers, body, json, answered });
      res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'ok' : 'try again');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hooks/media`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('webhooks', () => {
  let app: RunningApp;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let admin: Api;
  let alice: Api;
  let webhook: { id: string; secret: string };

  beforeAll(async () => {
    receiver = await startReceiver();
    app = await startApp({ WEBHOOK_BACKOFF_MS: '200', WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' }); // the receiver is private
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
    alice = api(app.baseUrl, 42);
  });
  afterAll(async () => {
    await app?.stop();
    await receiver?.close();
  });

  const accepted = (type: string, assetId: string) =>
    receiver.received.filter((r) => r.answered === 200 && r.json?.type === type && r.json?.data?.asset?.assetId === assetId);
  const all = (type: string, assetId: string) =>
    receiver.received.filter((r) => r.json?.type === type && r.json?.data?.asset?.assetId === assetId);

  it('registers an endpoint (admin only), returning its secret once', async () => {
    const body = { url: receiver.url, events: ['asset.ready', 'asset.failed', 'asset.deleted'], description: 'e2e receiver' };
    expect((await alice.post('/admin/webhooks', body)).status).toBe(403);
    for (const bad of [
      { ...body, url: 'ftp://example.test/x' },
      { ...body, events: ['asset.exploded'] },
      { ...body, events: [] },
      { url: receiver.url },
    ]) {
      const r = await admin.post('/admin/webhooks', bad);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('ValidationFailed');
    }
    const r = await admin.post('/admin/webhooks', body);
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      url: receiver.url,
      events: body.events,
      description: 'e2e receiver',
      active: true,
      createdAt: expect.any(String),
      secret: expect.stringMatching(/^whsec_/),
    });
    webhook = { id: r.body.id, secret: r.body.secret };
    const list = await admin.get('/admin/webhooks');
    expect(list.body.items).toEqual([expect.objectContaining({ id: webhook.id, url: receiver.url })]);
    expect(JSON.stringify(list.body)).not.toContain(webhook.secret);
    expect((await admin.get(`/admin/webhooks/${webhook.id}`)).body.secret).toBeUndefined();
  });

  it('delivers a correctly signed asset.ready exactly once per asset, although every first attempt fails', async () => {
    const ups = await Promise.all(
      [1, 2, 3].map((i) => uploadBytes(alice, Buffer.from(`webhook asset ${i}`), { filename: `w${i}.txt`, mimeType: 'text/plain' })),
    );
    for (const u of ups) expect((await alice.post(`/media/${u.assetId}/complete`)).status).toBe(202);
    for (const u of ups) expect((await alice.get(`/media/${u.assetId}?waitFor=ready&timeout=20`)).body.status).toBe('ready');

    await eventually(async () => ups.every((u) => accepted('asset.ready', u.assetId).length === 1), 20000);
    // Every event relayed, every delivery job done (retries included): nothing more can arrive.
    await waitForQueuesIdle(app, [QUEUES.webhooks]);
    for (const u of ups) {
      const attempts = all('asset.ready', u.assetId);
      expect(attempts.map((a) => a.answered)).toEqual([500, 200]);
      expect(accepted('asset.ready', u.assetId)).toHaveLength(1);
      const [first, second] = attempts;
      expect(second.headers['x-webhook-id']).toBe(first.headers['x-webhook-id']); // one event, two attempts
      for (const a of attempts) {
        // The receiver's check: HMAC-SHA256(secret, "<timestamp>.<raw body>"), and a fresh timestamp.
        const ts = String(a.headers['x-webhook-timestamp']);
        const expected = `v1=${createHmac('sha256', webhook.secret).update(`${ts}.${a.body}`).digest('hex')}`;
        expect(a.headers['x-webhook-signature']).toBe(expected);
        expect(Math.abs(Date.now() / 1000 - Number(ts))).toBeLessThan(60);
        expect(a.headers['x-webhook-event']).toBe('asset.ready');
        expect(a.headers['content-type']).toBe('application/json');
      }
      expect(second.json).toEqual({
        id: second.headers['x-webhook-id'],
        type: 'asset.ready',
        createdAt: expect.any(String),
        data: {
          asset: expect.objectContaining({
            assetId: u.assetId,
            ownerId: '42',
            status: 'ready',
            checksumSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
          }),
        },
      });
    }

    // Every delivery and attempt is recorded.
    const d = await admin.get(`/admin/webhooks/${webhook.id}/deliveries`);
    expect(d.status).toBe(200);
    const readyDeliveries = d.body.items.filter((i: any) => i.eventType === 'asset.ready');
    expect(readyDeliveries).toHaveLength(3);
    for (const del of readyDeliveries) {
      expect(del).toMatchObject({
        status: 'delivered',
        attempts: 2,
        lastResponseStatus: 200,
        deliveredAt: expect.any(String),
        replayOf: null,
      });
      expect(del.attemptLog).toEqual([
        expect.objectContaining({ attempt: 1, responseStatus: 500, error: 'endpoint answered HTTP 500' }),
        expect.objectContaining({ attempt: 2, responseStatus: 200, error: null }),
      ]);
    }

    // Replay: the same event again, as a new delivery.
    const original = readyDeliveries[0];
    const replay = await admin.post(`/admin/webhooks/${webhook.id}/deliveries/${original.id}/replay`);
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ eventId: original.eventId, replayOf: original.id, status: 'pending' });
    await eventually(async () => receiver.received.some((r) => r.headers['x-webhook-delivery'] === replay.body.id && r.answered === 200));
    expect(receiver.received.filter((r) => r.headers['x-webhook-delivery'] === replay.body.id)[0].headers['x-webhook-id']).toBe(
      original.eventId,
    );
    expect((await admin.post(`/admin/webhooks/${webhook.id}/deliveries/00000000-0000-4000-8000-000000000000/replay`)).status).toBe(404);
  });

  it('sends asset.failed and asset.deleted too, and nothing after the endpoint is removed', async () => {
    const bad = await uploadBytes(alice, Buffer.from('not a png at all'), { filename: 'x.png', mimeType: 'image/png' });
    await alice.post(`/media/${bad.assetId}/complete`);
    expect((await alice.get(`/media/${bad.assetId}?waitFor=ready&timeout=20`)).body.status).toBe('failed');
    await eventually(async () => accepted('asset.failed', bad.assetId).length === 1, 20000);
    expect(accepted('asset.failed', bad.assetId)[0].json.data.asset.failureReason).toMatch(/not a recognisable image/);

    expect((await alice.del(`/media/${bad.assetId}`)).status).toBe(204);
    await eventually(async () => accepted('asset.deleted', bad.assetId).length === 1, 20000);

    expect((await admin.del(`/admin/webhooks/${webhook.id}`)).status).toBe(204);
    expect((await admin.get(`/admin/webhooks/${webhook.id}`)).status).toBe(404);
    const before = receiver.received.length;
    const up = await uploadBytes(alice, Buffer.from('after removal'), { filename: 'after.txt', mimeType: 'text/plain' });
    await alice.post(`/media/${up.assetId}/complete`);
    expect((await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=20`)).body.status).toBe('ready');
    // Its asset.ready event relayed and any delivery job done: nothing was sent.
    await waitForQueuesIdle(app, [QUEUES.webhooks]);
    expect(receiver.received.length).toBe(before);
  });
});
