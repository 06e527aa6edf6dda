import { verify } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * CloudFront cannot run here, so e2e tests point CLOUDFRONT_ENDPOINT at this local server, which speaks the
 * one API call the service makes: CreateInvalidation (POST /2020-05-31/distribution/{Id}/invalidation, an
 * XML InvalidationBatch; answers 201 with an Invalidation). It records every request it received.
 */
export interface ReceivedInvalidation {
  distributionId: string;
  callerReference: string;
  paths: string[];
  /** The SigV4 Authorization header the SDK sent. */
  authorization: string;
  /** What this server answered. */
  status: number;
}

export interface FakeCloudFront {
  endpoint: string;
  received: ReceivedInvalidation[];
  /** Answer the next `n` CreateInvalidation calls with 503 (to exercise retries). */
  failNext(n: number): void;
  stop(): Promise<void>;
}

const tag = (xml: string, name: string) => [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1]);
const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

export async function startFakeCloudFront(): Promise<FakeCloudFront> {
  const received: ReceivedInvalidation[] = [];
  const byReference = new Map<string, string>();
  let failures = 0;
  let counter = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const m = /^\/2020-05-31\/distribution\/([^/]+)\/invalidation$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) {
        res.writeHead(404, { 'content-type': 'text/xml' }).end('<ErrorResponse><Error><Code>NotFound</Code></Error></ErrorResponse>');
        return;
      }
      const record: ReceivedInvalidation = {
        distributionId: decodeURIComponent(m[1]),
        callerReference: unescapeXml(tag(body, 'CallerReference')[0] ?? ''),
        paths: tag(body, 'Path').map(unescapeXml),
        authorization: String(req.headers.authorization ?? ''),
        status: 201,
      };
      received.push(record);
      if (failures > 0) {
        failures--;
        record.status = 503;
        res.writeHead(503, { 'content-type': 'text/xml' });
        res.end(
          '<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>try again</Message></Error></ErrorResponse>',
        );
        return;
      }
      const id = byReference.get(record.callerReference) ?? `I${(++counter).toString().padStart(13, '0')}`;
      byReference.set(record.callerReference, id);
      const items = record.paths.map((p) => `<Path>${p}</Path>`).join('');
      res.writeHead(201, {
        'content-type': 'text/xml',
        location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${m[1]}/invalidation/${id}`,
      });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>${id}</Id><Status>InProgress</Status>` +
          `<CreateTime>${new Date().toISOString()}</CreateTime><InvalidationBatch><Paths><Quantity>${record.paths.length}</Quantity><Items>${items}</Items></Paths>` +
          `<CallerReference>${record.callerReference}</CallerReference></InvalidationBatch></Invalidation>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received,
    failNext: (n) => (failures = n),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** CloudFront's URL-safe base64: + → -, = → _, / → ~. */
const fromCloudFrontBase64 = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64');

/** Verifies a canned-policy signed URL as CloudFront does, with the key pair's public key. */
export function verifyCloudFrontSignedUrl(signedUrl: string, publicKeyPem: string, hash: 'SHA1' | 'SHA256' = 'SHA1') {
  const url = new URL(signedUrl);
  const expires = Number(url.searchParams.get('Expires'));
  const signature = fromCloudFrontBase64(url.searchParams.get('Signature') ?? '');
  const keyPairId = url.searchParams.get('Key-Pair-Id');
  // The signer appends its parameters to the URL it signed; the signed resource is what comes before them.
  const resource = signedUrl.replace(/[?&](Expires|Hash-Algorithm)=.*$/, '');
  const policy = JSON.stringify({ Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': expires } } }] });
  return {
    valid: verify(hash === 'SHA1' ? 'RSA-SHA1' : 'RSA-SHA256', Buffer.from(policy), publicKeyPem, signature),
    expires,
    keyPairId,
    resource,
  };
}
