import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { WebhookTarget, WebhookTargetPolicy } from './webhook-targets';

/** The one error recorded for every attempt that got no HTTP answer (refused, reset, DNS, timeout, refused target). */
export const NO_HTTP_RESPONSE = 'delivery failed: no HTTP response';

/** A lookup that answers the checked address whatever is asked: the connection goes where the check looked. */
function pinnedLookup(target: WebhookTarget): LookupFunction {
  return (_hostname, options, callback) => {
    const cb = callback as (...args: unknown[]) => void;
    if ((options as { all?: boolean }).all) cb(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
}

/**
 * POSTs a webhook: checks the URL (WebhookTargetPolicy, every attempt), then connects to the one checked address
 * with the URL's name kept for the Host header and TLS (SNI and certificate check). Redirects are not followed (a
 * 3xx is the answer). `timeoutMs` bounds the whole attempt, resolution included, up to the response head; the
 * response body is not read. Resolves with the HTTP status; rejects with the cause when no answer came (for the
 * operator's log: a WebhookTargetRefused, "no answer within N ms", or the socket error).
 */
export async function postWebhook(
  policy: WebhookTargetPolicy,
  rawUrl: string,
  req: { headers: Record<string, string>; body: string; timeoutMs: number },
): Promise<number> {
  const signal = AbortSignal.timeout(req.timeoutMs);
  const timedOut = (e: unknown): Error =>
    signal.aborted ? new Error(`no answer within ${req.timeoutMs} ms`) : e instanceof Error ? e : new Error(String(e));
  const target = await policy.resolve(rawUrl, signal).catch((e) => Promise.reject(timedOut(e)));
  const client = target.url.protocol === 'https:' ? https : http;
  return new Promise<number>((resolve, reject) => {
    const request = client.request(
      target.url,
      {
        method: 'POST',
        headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
        // A connection of its own: a pooled socket could lead to an address checked for another attempt.
        agent: false,
        lookup: pinnedLookup(target),
        signal,
      },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    request.on('error', (e) => reject(timedOut(e)));
    request.end(req.body);
  });
}
