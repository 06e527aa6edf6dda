import { createHash, Hash } from 'node:crypto';
import http, { IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { MediaApiError } from './media-api-error';
import { abortError } from './retry';

/** Progress of one transfer: bytes so far of `total` (null when unknown). */
export interface TransferProgress {
  phase: 'hash' | 'upload' | 'download';
  loaded: number;
  total: number | null;
}

/** A bound on bytes per second shared by several streams (the parts of one upload): each chunk waits its turn. */
export class RateLimiter {
  private next = 0;

  constructor(private readonly bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`bytesPerSecond must be positive, got ${bytesPerSecond}`);
  }

  /** How long (ms) to hold `n` bytes before sending them. */
  delayFor(n: number): number {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + (n / this.bytesPerSecond) * 1000;
    return at - now;
  }
}

/** Counts and hashes the bytes flowing through, reporting progress (optionally held to a RateLimiter). */
export class MeteredStream extends Transform {
  loaded = 0;
  private readonly hash: Hash = createHash('sha256');

  /** `expected`: the exact number of bytes that must flow through (an upload's declared size), else it fails. */
  constructor(
    private readonly report?: (loaded: number) => void,
    private readonly expected?: number,
    private readonly limiter?: RateLimiter,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.loaded += chunk.length;
    if (this.expected !== undefined && this.loaded > this.expected) return done(this.sizeMismatch('more'));
    this.hash.update(chunk);
    if (!this.limiter) {
      this.report?.(this.loaded);
      return done(null, chunk);
    }
    // Rate-limited: in slices of 64 KiB, each let through at its turn (so that a slow rate never looks idle).
    const limiter = this.limiter;
    let at = this.loaded - chunk.length;
    const slices: Buffer[] = [];
    for (let i = 0; i < chunk.length; i += 64 * 1024) slices.push(chunk.subarray(i, i + 64 * 1024));
    const next = () => {
      if (this.destroyed) return;
      const slice = slices.shift();
      if (!slice) return done();
      const wait = limiter.delayFor(slice.length);
      setTimeout(() => {
        if (this.destroyed) return;
        at += slice.length;
        this.report?.(at);
        this.push(slice);
        next();
      }, wait);
    };
    next();
  }

  override _flush(done: TransformCallback): void {
    done(this.expected !== undefined && this.loaded !== this.expected ? this.sizeMismatch('fewer') : null);
  }

  private sizeMismatch(what: 'more' | 'fewer'): MediaApiError {
    return MediaApiError.sdk(
      'SizeMismatch',
      `The source gave ${what} bytes (${this.loaded}${what === 'more' ? '+' : ''}) than its declared size of ${this.expected}`,
    );
  }

  /** Lower-case hex SHA-256 of everything that went through (call once, after the end). */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * One HTTP request with a streamed body, bounded by an idle timeout (no bytes either way for `idleTimeoutMs`).
 * Resolves with the response once its headers arrive; the caller consumes or discards the body.
 */
export function request(
  url: string,
  opts: { method: string; headers?: Record<string, string>; body?: Readable; signal?: AbortSignal; idleTimeoutMs: number },
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(abortError(opts.signal));
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.request(url, { method: opts.method, headers: opts.headers });
    const onAbort = () => req.destroy(abortError(opts.signal!));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.setTimeout(opts.idleTimeoutMs, () =>
      req.destroy(Object.assign(new Error(`no progress for ${opts.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (e) => {
      opts.signal?.removeEventListener('abort', onAbort);
      opts.body?.destroy();
      reject(e);
    });
    req.on('response', (res) => {
      opts.signal?.removeEventListener('abort', onAbort);
      res.setTimeout(opts.idleTimeoutMs, () =>
        res.destroy(Object.assign(new Error(`no progress for ${opts.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' })),
      );
      resolve(res);
    });
    if (opts.body) {
      opts.body.on('error', (e) => req.destroy(e));
      opts.body.pipe(req);
    } else {
      req.end();
    }
  });
}

/** The whole (small) body of a response as text, e.g. an error document. */
export async function readText(res: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let text = '';
  for await (const chunk of res) {
    if (text.length < limit) text += (chunk as Buffer).toString('utf8');
  }
  return text.slice(0, limit);
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
