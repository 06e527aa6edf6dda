import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the gate does with a CompleteMultipartUpload request (POST …?uploadId=…). */
export type CompletePolicy = 'pass' | 'hold' | 'fail';

export interface S3Gate {
  /** http://127.0.0.1:<port>: give this to the service as S3_ENDPOINT (the emulator's own credentials apply). */
  endpoint: string;
  accessKeyId: 'S3RVER';
  secretAccessKey: 'S3RVER';
  /** From now on: forward CompleteMultipartUpload (`pass`), keep it waiting (`hold`), or answer 500 InternalError (`fail`). */
  setComplete(policy: CompletePolicy): void;
  /** CompleteMultipartUpload requests held now. */
  held(): number;
  /** Forwards every held request to the store. */
  release(): void;
  /** Drops every held request (its connection is closed unanswered: the store never sees it). */
  drop(): void;
  /** CompleteMultipartUpload requests seen so far (answered, failed or held). */
  completes(): number;
  close(): Promise<void>;
}

/**
 * A real HTTP hop in front of the S3 emulator that can hold or fail the store's CompleteMultipartUpload (the call
 * that takes minutes on S3), so that a test sees assembly in progress by state, kills the service during it, or
 * makes the store fail transiently. Every other request is forwarded untouched (headers included, so SigV4 still
 * verifies: the signature covers the Host the client sent, which the emulator reads back).
 */
export async function startS3Gate(target: { port: number }): Promise<S3Gate> {
  let policy: CompletePolicy = 'pass';
  let seen = 0;
  const waiting: Array<{ forward: () => void; drop: () => void }> = [];
  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const up = http.request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server = http.createServer((req, res) => {
    const isComplete = req.method === 'POST' && /[?&]uploadId=/.test(req.url ?? '');
    if (!isComplete) return forward(req, res);
    seen++;
    if (policy === 'fail') {
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by the test gate</Message></Error>',
      );
      return;
    }
    if (policy === 'hold') {
      waiting.push({ forward: () => forward(req, res), drop: () => res.destroy() });
      return;
    }
    forward(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    setComplete: (p) => (policy = p),
    held: () => waiting.length,
    release: () => waiting.splice(0).forEach((w) => w.forward()),
    drop: () => waiting.splice(0).forEach((w) => w.drop()),
    completes: () => seen,
    close: async () => {
      waiting.splice(0).forEach((w) => w.drop());
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
