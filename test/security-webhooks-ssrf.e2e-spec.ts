/**
 * SSRF through webhooks: an admin must not be able to make the service call loopback, private, link-local or cloud
 * metadata addresses (by IP literal, by a name that resolves there, or by a name that changes its answer after the
 * registration), and the delivery records must not tell one network failure from another (no port scanner).
 * Names are answered by test/support/fake-dns.cjs, preloaded into the service: no DNS server or network needed.
 * Nothing is ever contacted but 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { api, Api, uploadBytes } from './support/api';
import { eventually, freePort, RunningApp, startApp } from './support/app-process';

jest.setTimeout(90000);

const NO_HTTP_RESPONSE = 'delivery failed: no HTTP response';
/** A public address used only as a DNS answer at registration; the answer changes before any delivery. */
const PUBLIC_ADDRESS = '93.184.216.34';

const dnsDir = mkdtempSync(path.join(os.tmpdir(), 'fake-dns-'));
const dnsFile = path.join(dnsDir, 'hosts.json');
const setDns = (table: Record<string, string[]>) => writeFileSync(dnsFile, JSON.stringify(table));
const withFakeDns = { NODE_OPTIONS: `--require ${path.join(__dirname, 'support', 'fake-dns.cjs')}`, FAKE_DNS_FILE: dnsFile };

afterAll(() => rmSync(dnsDir, { recursive: true, force: true }));

/** Accepts TCP connections and does something unhelpful with them (reset, or silence until closed). */
async function tcpServer(onSocket: (s: net.Socket) => void) {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onSocket(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), srv.close(() => r()))),
  };
}

describe('security: webhook registration refuses internal targets', () => {
  let app: RunningApp;
  let admin: Api;

  beforeAll(async () => {
    setDns({ 'loopback.test': ['127.0.0.1'], 'mixed.test': [PUBLIC_ADDRESS, '10.0.0.7'], 'imds.test': ['169.254.169.254'] });
    app = await startApp({ ...withFakeDns });
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it.each([
    ['http://127.0.0.1:8080/hook', '127.0.0.1 is a loopback address'],
    ['http://[::1]:8080/hook', '::1 is a loopback address'],
    ['http://0.0.0.0:8080/hook', '0.0.0.0 is an unspecified address'],
    ['http://[::ffff:127.0.0.1]:8080/hook', 'a loopback address (IPv4 127.0.0.1 embedded in IPv6)'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a cloud metadata address'],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'fd00:ec2::254 is a cloud metadata address'],
    ['http://100.100.100.200/latest/meta-data/', '100.100.100.200 is a cloud metadata address'],
    ['http://10.0.0.1/hook', '10.0.0.1 is a private address (RFC 1918)'],
    ['http://192.168.1.1/hook', '192.168.1.1 is a private address (RFC 1918)'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal is a cloud metadata service name'],
    ['http://localhost:8080/hook', 'localhost resolves to 127.0.0.1, which is a loopback address'],
    ['http://loopback.test:8080/hook', 'loopback.test resolves to 127.0.0.1, which is a loopback address'],
    ['http://mixed.test/hook', 'mixed.test resolves to 10.0.0.7, which is a private address (RFC 1918)'],
    ['http://imds.test/latest/meta-data/', 'imds.test resolves to 169.254.169.254, which is a cloud metadata address'],
    ['http://127.0.0.1:6379/', '127.0.0.1 is a loopback address'], // Redis
    ['http://127.0.0.1:5432/', '127.0.0.1 is a loopback address'], // PostgreSQL
    ['http://0x7f000001:6379/', '127.0.0.1 is a loopback address'],
    ['http://user:secret@loopback.test/hook', 'it carries credentials'],
  ])('%s → 400 naming the URL and why', async (url, reason) => {
    const r = await admin.post('/admin/webhooks', { url, events: ['asset.ready'] });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      error: 'ValidationFailed',
      details: { fields: [{ field: 'url', problems: [expect.stringContaining(reason)] }] },
    });
    expect(r.body.message).toContain(url);
    expect(r.body.message).toContain(reason);
  });

  it('refuses the short and numeric loopback spellings too (127.1, 2130706433, file:)', async () => {
    for (const url of ['http://127.1:8080/hook', 'http://2130706433:8080/hook', 'file:///etc/passwd', 'gopher://127.0.0.1:6379/_INFO']) {
      const r = await admin.post('/admin/webhooks', { url, events: ['asset.ready'] });
      expect([url, r.status, r.body.error]).toEqual([url, 400, 'ValidationFailed']);
    }
  });

  it('registered none of them', async () => {
    expect((await admin.get('/admin/webhooks')).body.items).toEqual([]);
  });
});

describe('security: webhook delivery re-checks the target and records one error for every network failure', () => {
  let app: RunningApp;
  let admin: Api;
  let alice: Api;
  const received: string[] = [];
  let receiver: http.Server;
  let receiverPort: number;
  let reset: Awaited<ReturnType<typeof tcpServer>>;
  let silent: Awaited<ReturnType<typeof tcpServer>>;
  let closedPort: number;
  const hooks: Record<string, string> = {};

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      received.push(req.url ?? '');
      req.resume().on('end', () => res.writeHead(200).end('ok'));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    receiverPort = (receiver.address() as net.AddressInfo).port;
    reset = await tcpServer((s) => s.resetAndDestroy());
    silent = await tcpServer(() => undefined);
    closedPort = await freePort();
    setDns({ 'rebind.test': [PUBLIC_ADDRESS] });
    app = await startApp({
      ...withFakeDns,
      // The operator's explicit opt-in: these host:port pairs only.
      WEBHOOK_ALLOWED_HOSTS: [receiverPort, closedPort, reset.port, silent.port].map((p) => `127.0.0.1:${p}`).join(','),
      WEBHOOK_ATTEMPTS: '1',
      WEBHOOK_TIMEOUT_MS: '1000',
    });
    admin = api(app.baseUrl, 1, { roles: ['admin'] });
    alice = api(app.baseUrl, 42);
  });
  afterAll(async () => {
    await app?.stop();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
    await reset?.close();
    await silent?.close();
  });

  const deliveriesOf = async (name: string) => (await admin.get(`/admin/webhooks/${hooks[name]}/deliveries`)).body.items as any[];

  it('registers allowed host:port pairs and a name that resolves to a public address; other ports stay refused', async () => {
    const urls: Record<string, string> = {
      ok: `http://127.0.0.1:${receiverPort}/ok`,
      closed: `http://127.0.0.1:${closedPort}/closed`,
      reset: `http://127.0.0.1:${reset.port}/reset`,
      silent: `http://127.0.0.1:${silent.port}/silent`,
      rebind: `http://rebind.test:${receiverPort}/rebind`,
    };
    for (const [name, url] of Object.entries(urls)) {
      const r = await admin.post('/admin/webhooks', { url, events: ['asset.ready'] });
      expect([name, r.status]).toEqual([name, 201]);
      hooks[name] = r.body.id;
    }
    expect((await admin.post('/admin/webhooks', { url: 'http://127.0.0.1:6379/', events: ['asset.ready'] })).status).toBe(400);
  });

  it('refuses at delivery a name that now resolves to loopback, and records refused, reset, timeout and refusal alike', async () => {
    setDns({ 'rebind.test': ['127.0.0.1'] }); // the name changes its answer after the registration
    const up = await uploadBytes(alice, Buffer.from('ssrf probe'), { filename: 'probe.txt', mimeType: 'text/plain' });
    expect((await alice.post(`/media/${up.assetId}/complete`)).status).toBe(202);
    expect((await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=20`)).body.status).toBe('ready');

    await eventually(async () => {
      for (const name of Object.keys(hooks)) {
        const ds = await deliveriesOf(name);
        if (!ds.length || ds.some((d) => d.status === 'pending')) return false;
      }
      return true;
    }, 20000);

    const [ok] = await deliveriesOf('ok');
    expect(ok).toMatchObject({ status: 'delivered', lastResponseStatus: 200, lastError: null });
    for (const name of ['closed', 'reset', 'silent', 'rebind']) {
      const [d] = await deliveriesOf(name);
      expect([name, d]).toEqual([
        name,
        expect.objectContaining({ status: 'failed', lastResponseStatus: null, lastError: NO_HTTP_RESPONSE }),
      ]);
      expect(d.attemptLog).toEqual([expect.objectContaining({ attempt: 1, responseStatus: null, error: NO_HTTP_RESPONSE })]);
    }
    expect(received).toEqual(['/ok']); // the re-bound name was never called

    // The operator's log has the real causes (host:port only).
    const log = app.output();
    expect(log).toContain('target refused: rebind.test resolves to 127.0.0.1, which is a loopback address');
    expect(log).toContain('ECONNREFUSED');
    expect(log).toContain('no answer within 1000 ms');
  });

  it('refuses at delivery a target registered while allowed once the opt-in is withdrawn', async () => {
    await app.restart({ WEBHOOK_ALLOWED_HOSTS: '' });
    const [original] = await deliveriesOf('ok');
    const replay = await admin.post(`/admin/webhooks/${hooks.ok}/deliveries/${original.id}/replay`);
    expect(replay.status).toBe(202);
    const failed = await eventually(
      async () => (await deliveriesOf('ok')).find((d) => d.id === replay.body.id && d.status !== 'pending'),
      20000,
    );
    expect(failed).toMatchObject({ status: 'failed', lastResponseStatus: null, lastError: NO_HTTP_RESPONSE });
    expect(received).toEqual(['/ok']);
    expect(app.output()).toContain(`target refused: 127.0.0.1 is a loopback address`);
  });
});
