import http from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { LookupAll, WebhookTargetPolicy, WebhookTargetRefused } from './webhook-targets';
import { postWebhook } from './webhook-transport';

interface Seen {
  host: string | undefined;
  path: string | undefined;
  body: string;
}

/** An HTTP server on `address` (port 0 = any) answering with `answer`, recording what it got. */
async function server(address: string, port = 0, answer: (res: http.ServerResponse) => void = (res) => res.writeHead(200).end('ok')) {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ host: req.headers.host, path: req.url, body });
      answer(res);
    });
  });
  await new Promise<void>((r) => srv.listen(port, address, () => r()));
  return { seen, port: (srv.address() as AddressInfo).port, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

const send = (policy: WebhookTargetPolicy, url: string, timeoutMs = 2000) =>
  postWebhook(policy, url, { headers: { 'content-type': 'application/json' }, body: '{"hello":1}', timeoutMs });

describe('postWebhook', () => {
  it('connects to the address that was checked, even when the name answers differently afterwards (DNS rebinding)', async () => {
    const good = await server('127.0.0.1');
    const decoy = await server('127.0.0.2', good.port); // where a second resolution would lead
    try {
      const calls: string[] = [];
      const rebinding: LookupAll = async (host) => {
        calls.push(host);
        return [{ address: calls.length === 1 ? '127.0.0.1' : '127.0.0.2', family: 4 }];
      };
      const policy = new WebhookTargetPolicy({ WEBHOOK_ALLOWED_HOSTS: 'pinned.test', WEBHOOK_ALLOW_PRIVATE_TARGETS: false }, rebinding);
      expect(await send(policy, `http://pinned.test:${good.port}/hook?x=1`)).toBe(200);
      expect(calls).toEqual(['pinned.test']); // resolved once, by the check
      expect(good.seen).toEqual([{ host: `pinned.test:${good.port}`, path: '/hook?x=1', body: '{"hello":1}' }]);
      expect(decoy.seen).toEqual([]);
    } finally {
      await good.close();
      await decoy.close();
    }
  });

  it('keeps the name for TLS: the SNI is the URL host while the socket goes to the pinned address', async () => {
    const names: string[] = [];
    const tlsServer = tls.createServer({ SNICallback: (name, cb) => (names.push(name), cb(new Error('no certificate here'), undefined)) });
    tlsServer.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', () => r()));
    const port = (tlsServer.address() as AddressInfo).port;
    try {
      const policy = new WebhookTargetPolicy({ WEBHOOK_ALLOWED_HOSTS: 'secure.test', WEBHOOK_ALLOW_PRIVATE_TARGETS: false }, async () => [
        { address: '127.0.0.1', family: 4 },
      ]);
      await expect(send(policy, `https://secure.test:${port}/`)).rejects.toThrow(); // no certificate: the handshake ends
      expect(names).toEqual(['secure.test']);
    } finally {
      await new Promise<void>((r) => tlsServer.close(() => r()));
    }
  });

  it('checks before connecting: a name now resolving to loopback is refused and nothing is sent', async () => {
    const target = await server('127.0.0.1');
    try {
      const policy = new WebhookTargetPolicy({ WEBHOOK_ALLOWED_HOSTS: '', WEBHOOK_ALLOW_PRIVATE_TARGETS: false }, async () => [
        { address: '127.0.0.1', family: 4 },
      ]);
      await expect(send(policy, `http://rebound.test:${target.port}/`)).rejects.toBeInstanceOf(WebhookTargetRefused);
      await expect(send(policy, `http://127.0.0.1:${target.port}/`)).rejects.toThrow('127.0.0.1 is a loopback address');
      expect(target.seen).toEqual([]);
    } finally {
      await target.close();
    }
  });

  it('does not follow a redirect: the 3xx is the answer', async () => {
    const elsewhere = await server('127.0.0.1');
    const redirecting = await server('127.0.0.1', 0, (res) =>
      res.writeHead(307, { location: `http://127.0.0.1:${elsewhere.port}/` }).end(),
    );
    try {
      const policy = new WebhookTargetPolicy({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_ALLOW_PRIVATE_TARGETS: false });
      expect(await send(policy, `http://127.0.0.1:${redirecting.port}/`)).toBe(307);
      expect(redirecting.seen).toHaveLength(1);
      expect(elsewhere.seen).toEqual([]);
    } finally {
      await elsewhere.close();
      await redirecting.close();
    }
  });

  it('gives up when no answer comes within the timeout', async () => {
    const silent = await server('127.0.0.1', 0, () => undefined);
    try {
      const policy = new WebhookTargetPolicy({ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_ALLOW_PRIVATE_TARGETS: false });
      const started = Date.now();
      await expect(send(policy, `http://127.0.0.1:${silent.port}/`, 300)).rejects.toThrow('no answer within 300 ms');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await silent.close();
    }
  });
});
