import { MediaApiError } from './media-api-error';

export interface RetryOptions {
  /** Further attempts after the first (default 4). */
  retries?: number;
  /** First delay in ms (default 250); doubles each time, with jitter. */
  minDelayMs?: number;
  /** Longest delay in ms (default 8000), also the cap on a Retry-After the service sends. */
  maxDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { retries: 4, minDelayMs: 250, maxDelayMs: 8000 };

/** Statuses worth another try: the service or a proxy was briefly unable to answer. */
export const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);

export function backoffDelay(attempt: number, opts: Required<RetryOptions>, retryAfterSeconds?: number): number {
  if (retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds))
    return Math.min(opts.maxDelayMs, Math.max(0, retryAfterSeconds * 1000));
  const exp = Math.min(opts.maxDelayMs, opts.minDelayMs * 2 ** attempt);
  return Math.round(exp / 2 + (Math.random() * exp) / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortError(signal: AbortSignal): MediaApiError {
  return MediaApiError.sdk('Aborted', 'The operation was aborted', { cause: signal.reason });
}

/** Whether `e` is a failure to get any answer (refused, reset, DNS, timeout) rather than an answer. */
export function isNetworkError(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const err = e as { name?: string; code?: string; cause?: { code?: string } };
  if (err.name === 'AbortError') return false;
  if (err.name === 'TimeoutError') return true;
  const code = err.code ?? err.cause?.code;
  return (
    (err.name === 'TypeError' && /fetch failed/i.test(String((e as Error).message))) ||
    (typeof code === 'string' &&
      /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|UND_ERR_\w+)$/.test(code))
  );
}

/**
 * A fetch that retries with exponential backoff on network errors and 500/502/503/504, for requests that are safe
 * to repeat (`isRepeatable`); a 503 or a refused connection is retried for every request (nothing was done).
 * Each attempt is bounded by `timeoutMs` (plus `extraTimeoutMs(request)` for long-polls).
 */
export function retryingFetch(opts: {
  retry: Required<RetryOptions>;
  timeoutMs: number;
  extraTimeoutMs?: (req: Request) => number;
  isRepeatable: (req: Request) => boolean;
  fetch?: typeof fetch;
  /** Aborts every request (client-wide). */
  signal?: AbortSignal;
}): (req: Request) => Promise<Response> {
  const doFetch = opts.fetch ?? fetch;
  return async (original: Request) => {
    const req = opts.signal ? new Request(original, { signal: AbortSignal.any([original.signal, opts.signal]) }) : original;
    const repeatable = opts.isRepeatable(req);
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(opts.timeoutMs + (opts.extraTimeoutMs?.(req) ?? 0));
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
      const last = attempt >= opts.retry.retries;
      try {
        const res = await doFetch(new Request(req.clone(), { signal }));
        const retry = !last && (res.status === 503 || (repeatable && RETRYABLE_STATUS.has(res.status)));
        if (!retry) return res;
        const ra = res.headers.get('retry-after');
        await res.body?.cancel().catch(() => undefined);
        await sleep(backoffDelay(attempt, opts.retry, ra && /^\d+$/.test(ra) ? Number(ra) : undefined), req.signal);
      } catch (e) {
        if (req.signal?.aborted) throw abortError(req.signal);
        const refused = (e as { cause?: { code?: string } })?.cause?.code === 'ECONNREFUSED';
        if (last || !isNetworkError(e) || !(repeatable || refused)) {
          if (timeout.aborted)
            throw MediaApiError.sdk('Timeout', `${req.method} ${new URL(req.url).pathname} did not answer within ${opts.timeoutMs} ms`, {
              cause: e,
            });
          if (isNetworkError(e))
            throw MediaApiError.sdk('NetworkError', `Cannot reach ${new URL(req.url).origin}: ${networkReason(e)}`, { cause: e });
          throw e;
        }
        await sleep(backoffDelay(attempt, opts.retry), req.signal);
      }
    }
  };
}

export function networkReason(e: unknown): string {
  const err = e as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  return err?.cause?.code ?? err?.code ?? err?.cause?.message ?? err?.message ?? String(e);
}
