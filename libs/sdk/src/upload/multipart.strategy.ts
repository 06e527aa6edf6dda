import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { components } from '../generated/openapi';
import { MediaApiError } from '../media-api-error';
import { abortError, backoffDelay, isNetworkError, networkReason, RETRYABLE_STATUS, sleep } from '../retry';
import { MeteredStream, parseJson, RateLimiter, readText, request } from '../transfer';
import { storageMessage } from './single-put.strategy';
import { UploadContext, UploadGrant, UploadOutcome, UploadStrategy } from './upload-strategy';

type SignedPart = components['schemas']['SignedPartDto'];
export type MultipartGrant = components['schemas']['MultipartUploadDto'];

/** The service signs at most this many part URLs per POST /media/{id}/parts. */
const MAX_SIGN_BATCH = 100;
/** A URL expiring sooner than this is signed again before use (a part may take a while to send). */
const URL_MARGIN_MS = 60_000;
export const DEFAULT_PART_CONCURRENCY = 4;

/**
 * A multipart upload (the grant has `method: "MULTIPART"`, `uploadId`, `partSize`, `partCount` and the first part
 * URLs): parts are PUT to storage `partConcurrency` at a time, each with exactly its signed headers, more URLs
 * signed on demand in batches (POST /media/{id}/parts), each part retried with backoff on network errors and 5xx
 * and signed again once on a 403 (an expired URL); the ETags go to complete.
 *
 * A file is read by byte range (`createReadStream(path, { start, end })`, one part per worker in flight, never
 * buffered). A one-shot stream cannot be read by range: its parts are read in order, each held in memory while it
 * is sent (at most `partConcurrency` × `partSize` bytes) so that a failed part can be sent again; its SHA-256 is
 * computed on the way. A stream cannot be resumed.
 */
export class MultipartStrategy implements UploadStrategy {
  readonly kind = 'multipart';

  accepts(grant: UploadGrant): boolean {
    return (
      grant.method === ('MULTIPART' as string) &&
      typeof grant.uploadId === 'string' &&
      typeof grant.partSize === 'number' &&
      typeof grant.partCount === 'number'
    );
  }

  async upload(ctx: UploadContext): Promise<UploadOutcome> {
    const grant = ctx.grant as unknown as MultipartGrant;
    const { assetId, partSize, partCount } = grant;
    const size = ctx.source.size;
    if (partSize < 1 || Math.ceil(size / partSize) !== partCount) {
      throw MediaApiError.sdk(
        'UnsupportedUpload',
        `The multipart plan (${partCount} parts of ${partSize} bytes) does not fit ${size} bytes`,
      );
    }
    const lengthOf = (n: number) => (n < partCount ? partSize : size - (partCount - 1) * partSize);
    const etags = new Map<number, string>();
    let stored = 0;
    if (ctx.storedParts?.length) {
      if (!ctx.source.reopenable) throw new TypeError('a stream source cannot resume a multipart upload');
      for (const p of ctx.storedParts) {
        // A part of another size (a different plan, a torn write) is sent again.
        if (p.partNumber >= 1 && p.partNumber <= partCount && p.size === lengthOf(p.partNumber)) {
          etags.set(p.partNumber, p.etag);
          stored += p.size;
        }
      }
    }
    const resumed = etags.size;
    const todo = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !etags.has(n));
    const urls = new Map<number, SignedPart>((grant.parts ?? []).map((p) => [p.partNumber, p]));

    // The first failure stops the other workers.
    const stop = new AbortController();
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal;
    const inFlight = new Map<number, number>();
    const report = () => {
      let loaded = stored;
      for (const v of inFlight.values()) loaded += v;
      ctx.onProgress?.({ phase: 'upload', loaded, total: size });
    };
    report();
    const limiter = ctx.maxBytesPerSecond ? new RateLimiter(ctx.maxBytesPerSecond) : undefined;
    const reader = ctx.source.reopenable ? null : new SequentialReader(ctx.source.open(), size);
    const concurrency = Math.max(1, Math.min(ctx.partConcurrency ?? DEFAULT_PART_CONCURRENCY, todo.length || 1));
    const batch = Math.min(MAX_SIGN_BATCH, Math.max(10, concurrency * 4));

    // Signing: one request at a time, for this part and the next unsigned ones (in the order they are sent).
    let signing: Promise<void> | null = null;
    const fresh = (p: SignedPart | undefined) => !!p && Date.parse(p.expiresAt) - Date.now() > URL_MARGIN_MS;
    const urlFor = async (n: number): Promise<SignedPart> => {
      for (;;) {
        const have = urls.get(n);
        if (fresh(have)) return have!;
        if (signing) {
          await signing;
          continue;
        }
        const from = todo.indexOf(n);
        const wanted = [n, ...todo.slice(from + 1).filter((m) => !etags.has(m) && !fresh(urls.get(m)))].slice(0, batch);
        signing = (async () => {
          const r = await ctx.api.POST('/media/{id}/parts', { params: { path: { id: assetId } }, body: { partNumbers: wanted }, signal });
          if (r.error !== undefined || !r.response.ok) throw MediaApiError.fromResponse(r.response.status, r.error);
          for (const p of r.data.parts) urls.set(p.partNumber, p);
        })().finally(() => (signing = null));
        await signing;
        if (!urls.get(n)) throw MediaApiError.sdk('UnsupportedUpload', `The service signed no URL for part ${n}`);
        return urls.get(n)!;
      }
    };

    const putPart = async (n: number, buffer?: Buffer): Promise<string> => {
      const length = lengthOf(n);
      const start = (n - 1) * partSize;
      let resigned = false;
      let attempt = 0;
      for (;;) {
        const part = await urlFor(n);
        const body = buffer ? Readable.from([buffer]) : ctx.source.open({ start, end: start + length - 1 });
        const meter = new MeteredStream(
          (loaded) => {
            inFlight.set(n, loaded);
            report();
          },
          length,
          limiter,
        );
        body.pipe(meter);
        body.on('error', (e) => meter.destroy(e));
        const headers = { ...part.headers };
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['Content-Length'] = String(length);
        const again = async (backoff: boolean) => {
          inFlight.delete(n);
          report();
          if (backoff) await sleep(backoffDelay(attempt++, ctx.retry), signal);
        };
        try {
          const res = await request(part.url, { method: 'PUT', headers, body: meter, signal, idleTimeoutMs: ctx.idleTimeoutMs });
          const text = await readText(res);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            const etag = res.headers.etag;
            if (!etag) throw MediaApiError.sdk('StorageRejected', `Storage answered part ${n} without an ETag`, { statusCode: status });
            inFlight.delete(n);
            stored += length;
            report();
            return etag;
          }
          if (status === 403 && !resigned) {
            // Most likely the URL expired (a long queue, a slow link): sign it again, once.
            resigned = true;
            urls.delete(n);
            await again(false);
            continue;
          }
          if (RETRYABLE_STATUS.has(status) && attempt < ctx.retry.retries) {
            await again(true);
            continue;
          }
          const json = parseJson(text);
          if (json && typeof json === 'object') throw MediaApiError.fromResponse(status, json);
          const { code, message } = storageMessage(text);
          throw MediaApiError.sdk('StorageRejected', `Storage refused part ${n} (HTTP ${status}${code ? ` ${code}` : ''}): ${message}`, {
            statusCode: status,
            details: { code, partNumber: n },
          });
        } catch (e) {
          body.destroy();
          inFlight.delete(n);
          if (signal.aborted) throw ctx.signal?.aborted ? abortError(ctx.signal) : e;
          if (e instanceof MediaApiError) throw e;
          if (isNetworkError(e) && attempt < ctx.retry.retries) {
            await again(true);
            continue;
          }
          if (isNetworkError(e)) throw MediaApiError.sdk('NetworkError', `Upload of part ${n} failed: ${networkReason(e)}`, { cause: e });
          throw e;
        }
      }
    };

    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        if (signal.aborted) throw ctx.signal?.aborted ? abortError(ctx.signal) : stop.signal.reason;
        const n = todo[next++];
        // Taken and read in the same tick: a stream's parts are read in part order.
        const buffer = reader ? await reader.read(lengthOf(n)) : undefined;
        etags.set(n, await putPart(n, buffer));
      }
    };
    await Promise.all(
      Array.from({ length: concurrency }, () =>
        worker().catch((e) => {
          stop.abort(e);
          throw e;
        }),
      ),
    );

    let sha256: string;
    if (reader) sha256 = await reader.end();
    else {
      if (ctx.source.unchanged && !(await ctx.source.unchanged())) {
        throw MediaApiError.sdk('ChecksumMismatch', `${ctx.source.file?.path ?? 'The file'} changed during the upload; upload it again`);
      }
      if (!ctx.declaredSha256) throw new TypeError('a multipart upload of a file needs its SHA-256 computed first');
      sha256 = ctx.declaredSha256;
    }
    const parts = [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([partNumber, etag]) => ({ partNumber, etag }));
    return { sha256, completeBody: { parts }, parts: { total: partCount, sent: todo.length, resumed } };
  }
}

/** Reads a one-shot stream part by part, in order (calls are queued), hashing what it hands out. */
class SequentialReader {
  private readonly it: AsyncIterator<Buffer | string>;
  private rest: Buffer = Buffer.alloc(0);
  private readonly hash = createHash('sha256');
  private consumed = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    stream: Readable,
    private readonly size: number,
  ) {
    this.it = stream[Symbol.asyncIterator]();
  }

  read(n: number): Promise<Buffer> {
    const p = this.queue.then(() => this.take(n));
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async take(n: number): Promise<Buffer> {
    const chunks = [this.rest];
    let have = this.rest.length;
    while (have < n) {
      const r = await this.it.next();
      if (r.done) throw this.mismatch('fewer', this.consumed + have);
      const c = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      chunks.push(c);
      have += c.length;
    }
    const all = Buffer.concat(chunks, have);
    const out = all.subarray(0, n);
    this.rest = Buffer.from(all.subarray(n));
    this.consumed += n;
    this.hash.update(out);
    return out;
  }

  /** After the last part: the stream must be exhausted. The SHA-256 of everything read. */
  async end(): Promise<string> {
    await this.queue;
    if (this.rest.length) throw this.mismatch('more', this.consumed + this.rest.length);
    for (;;) {
      const r = await this.it.next();
      if (r.done) break;
      if (r.value.length) throw this.mismatch('more', this.consumed + r.value.length);
    }
    return this.hash.digest('hex');
  }

  private mismatch(what: 'more' | 'fewer', n: number): MediaApiError {
    return MediaApiError.sdk(
      'SizeMismatch',
      `The source gave ${what} bytes (${n}${what === 'more' ? '+' : ''}) than its declared size of ${this.size}`,
    );
  }
}
