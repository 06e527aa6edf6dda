import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Answers a request to the local storage routes with the service's problem body and closes the connection. Never
 * cached (a CDN or browser must not keep an error in place of the object). With `req`, an unread request body is
 * drained first; after the headers went out the only honest answer left is to cut the connection.
 */
export function sendLocalProblem(res: ServerResponse, status: number, code: string, message: string, req?: IncomingMessage): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (req?.readable && !req.readableEnded) req.resume();
  const body = JSON.stringify({ statusCode: status, error: code, message });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    connection: 'close',
  });
  res.end(body);
}
